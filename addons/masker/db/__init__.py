"""Where Masker's shared state lives: the embedded SQLite file, or PostgreSQL.

``MASKER_DATABASE_URL`` (``masker run --database-url``) set to a
``postgresql://`` URL puts the vault and the agents in that database, shared
by every replica; unset, one sidecar keeps them in ``<data-dir>/vault.sqlite``
with no server. The URL may hold a password: it is never logged or put in an
error message (``describe`` gives host, port and database only).
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg.conninfo import conninfo_to_dict

from masker.engine import MaskingError

DATABASE_URL_ENV = "MASKER_DATABASE_URL"
_SCHEMES = ("postgresql://", "postgres://")


class DatabaseUnavailable(MaskingError):
    """The database cannot be reached (or refused the work): requests fail closed, 503 ``vault_unavailable``.

    A ``MaskingError``, so a request that meets it in a worker process or in
    the proxy process is answered 503 with this code, never forwarded.
    """

    def __init__(self, message: str) -> None:
        super().__init__("vault_unavailable", message, 503)

    def __reduce__(self) -> tuple[type, tuple[str]]:  # type: ignore[override]  # its own constructor's arguments
        return (type(self), (str(self),))


def database_url(env: Mapping[str, str]) -> str | None:
    """The PostgreSQL URL from ``env`` (None: the embedded SQLite vault); raises ``ValueError`` when malformed."""
    url = env.get(DATABASE_URL_ENV, "").strip()
    if not url:
        return None
    if not url.startswith(_SCHEMES):
        raise ValueError(f"{DATABASE_URL_ENV} must be a postgresql:// URL")
    try:
        conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - psycopg's message may quote the URL (and its password)
        raise ValueError(f"{DATABASE_URL_ENV} is not a valid postgresql:// URL") from None
    return url


def describe(url: str) -> str:
    """``postgresql://host:port/dbname`` of ``url``: no user, password or options."""
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - see database_url
        return "postgresql://(invalid URL)"
    return f"postgresql://{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"
