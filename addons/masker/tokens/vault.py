"""``MSKV1`` vault-deterministic tokens, the vault interface, and the SQLite vault.

Token: ``MSKV1.KIND.kid.base32(HMAC-SHA256(token-hmac subkey, msg)[:16])`` with
``msg = "MSKV1/scoped" 0x1f binding 0x1f KIND 0x1f normalized value``, where
``binding`` is ``Scope.binding(token_scope)`` (canonical JSON of the agent, and
of the session under ``token_scope: session``). The same value therefore gets
the same token within its scope and unrelated tokens in other scopes: a
provider cannot link one patient across sessions (or agents) by token. One bit
of the 16 bytes is cleared so that the body always ends in a letter (see
``_LAST_CHAR_MASK``).

Vault rows are keyed by (agent, session, token). The original value is
encrypted at rest with AES-256-GCM-SIV under the kid's ``vault`` subkey and a
random nonce, with the row key as associated data: a row copied to another
scope or token does not decrypt. A token only rehydrates in the (agent,
session) that minted it, also under ``token_scope: agent`` (where the same
token is minted again, and stored again, in each session of the agent).

Erasure is permanent: ``drop`` deletes the rows and keeps a tombstone
(scope, token; no value), so a dropped token is never rehydrated again, even
if the same value is masked again in that scope later (the re-minted row is
not stored; the token then comes back as ``[REDACTED:KIND]``).

``TokenVault`` holds what every backend shares (sealing, opening, the
reasons, argument checks); a backend stores and finds sealed rows. ``Vault``
is the embedded SQLite vault of one sidecar: one connection guarded by a
lock (the proxy calls from worker threads), WAL so the CLI can drop or
purge while the proxy runs, and ``synchronous=NORMAL``: a power cut may
lose the last rows, which then fail closed (redacted), never open.
``masker.tokens.vault_pg.PgVault`` is the same vault in PostgreSQL, shared
by replicas (``masker.stores`` picks one from ``MASKER_DATABASE_URL``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import sqlite_utils
from cryptography.exceptions import InvalidTag

from masker.db.migrations import migrate_sqlite
from masker.scope import DEFAULT_TOKEN_SCOPE, Scope
from masker.tokens import keys as K
from masker.tokens.aead import cipher
from masker.tokens.keys import Keyring
from masker.tokens.normalize import normalize
from masker.tokens.scheme import VAULT_SCHEME, b32encode, format_token

VAULT_FILENAME = "vault.sqlite"
NONCE_LEN = 12

# Why a token could not be restored (the ``reason`` of rehydration_failed).
UNKNOWN_TOKEN = "unknown_token"
FOREIGN_SCOPE = "foreign_scope"
DROPPED = "dropped"
UNDECRYPTABLE = "undecryptable"
UNKNOWN_KID = "unknown_kid"

Row = tuple[str, str, str, str]  # (token, kind, kid, value)
SealedRow = tuple[str, str, str, bytes]  # (token, kind, kid, nonce + ciphertext)


def vault_path(data_dir: Path) -> Path:
    return Path(data_dir) / VAULT_FILENAME


_MINT_DOMAIN = f"{VAULT_SCHEME}/scoped".encode("ascii")  # b"MSKV1/scoped": in every HMAC, never changed
# The 26th base32 character carries the last 3 bits of the 16 bytes; clearing
# the highest of them keeps it one of A E I M (127 HMAC bits remain). A token
# then always ends in a letter: a number written right after it ("...4(212)
# 555-0199") is not glued to a digit of the token, which would hide it from
# the rule-based detectors of the residual scan.
_LAST_CHAR_MASK = 0xFB


def mint(
    keyring: Keyring,
    kind: str,
    kid: str,
    value: str,
    scope: Scope,
    token_scope: str = DEFAULT_TOKEN_SCOPE,
) -> str:
    """The MSKV1 token of ``value`` in ``scope`` under the current key of ``kid``.

    ``token_scope`` (``session`` | ``agent``) says how much of ``scope`` the
    token is bound to. Rehydration never recomputes the HMAC: it reads the vault
    row by token string, so tokens minted before a key rotation (or by an older
    derivation) still restore in the scope that stored them.
    """
    key = keyring.subkey(kid, K.TOKEN_HMAC)
    msg = b"\x1f".join((
        _MINT_DOMAIN,
        scope.binding(token_scope).encode("utf-8"),
        kind.encode(),
        normalize(kind, value).encode("utf-8"),
    ))
    raw = bytearray(hmac.new(key, msg, hashlib.sha256).digest()[:16])
    raw[-1] &= _LAST_CHAR_MASK
    return format_token(VAULT_SCHEME, kind, kid, b32encode(bytes(raw)))


@dataclass(frozen=True, slots=True)
class Lookup:
    """A vault answer: the value, or why there is none (one of the reasons above)."""

    value: str | None
    reason: str | None = None


def _aad(agent: str, session: str, token: str) -> bytes:
    return b"masker-vault/v1" + json.dumps([agent, session, token]).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Census:
    """What a selection of rows holds: counts and the oldest write time; never a value."""

    rows: int
    agents: int
    sessions: int
    oldest: float | None


class TokenVault(ABC):
    """Encrypted token store. Thread-safe; every public method is one transaction.

    Subclasses store and find sealed rows; values never reach them in clear.
    """

    def __init__(self, keyring: Keyring, clock: Callable[[], float]) -> None:
        self._keyring = keyring
        self._clock = clock

    @property
    def failure(self) -> str | None:
        """Why the vault's database could not be reached on the last call (None: it could)."""
        return None

    def ping(self) -> bool:
        """Whether the vault's database answers now (and ``failure`` says so); an embedded file always does."""
        return True

    # -- writing -------------------------------------------------------------

    def _seal(self, kid: str, aad: bytes, value: str) -> bytes:
        nonce = os.urandom(NONCE_LEN)
        key = self._keyring.subkey(kid, K.VAULT)
        return nonce + cipher(key).encrypt(nonce, value.encode("utf-8"), aad)

    def put_many(self, scope: Scope, rows: Iterable[Row]) -> int:
        """Store ``rows`` of one request in one transaction; returns rows written.

        Tokens dropped earlier in this scope are not stored again.
        """
        agent, session = scope.agent, scope.session
        sealed = [(token, kind, kid, self._seal(kid, _aad(agent, session, token), value))
                  for token, kind, kid, value in rows]
        return self._put(agent, session, sealed, self._clock()) if sealed else 0

    @abstractmethod
    def _put(self, agent: str, session: str, rows: Sequence[SealedRow], now: float) -> int:
        """Upsert ``rows`` (one transaction), skipping tokens with a tombstone; rows written."""

    # -- reading -------------------------------------------------------------

    def lookup(self, scope: Scope, token: str) -> Lookup:
        """The value of ``token`` in ``scope``, or the reason it cannot be had."""
        found = self._find(scope.agent, scope.session, token)
        if isinstance(found, str):
            return Lookup(None, found)
        kid, sealed = found
        if not self._keyring.knows(kid):
            return Lookup(None, UNKNOWN_KID)
        aad = _aad(scope.agent, scope.session, token)
        nonce, ciphertext = sealed[:NONCE_LEN], sealed[NONCE_LEN:]
        for key in self._keyring.subkeys(kid, K.VAULT):
            try:
                return Lookup(cipher(key).decrypt(nonce, ciphertext, aad).decode("utf-8"))
            except (InvalidTag, UnicodeDecodeError):
                continue
        return Lookup(None, UNDECRYPTABLE)

    @abstractmethod
    def _find(self, agent: str, session: str, token: str) -> tuple[str, bytes] | str:
        """(kid, sealed) of the row, else why there is none: DROPPED, FOREIGN_SCOPE or UNKNOWN_TOKEN."""

    def get(self, scope: Scope, token: str) -> str | None:
        return self.lookup(scope, token).value

    # -- erasure -------------------------------------------------------------

    def drop(
        self, *, session: str | None = None, agent: str | None = None, all: bool = False
    ) -> int:
        """Erase rows (of a session, an agent, both, or ``all``); returns rows erased.

        Tombstones keep the dropped tokens unrehydratable forever.
        """
        if all == (session is not None or agent is not None):
            raise ValueError("drop needs session and/or agent, or all=True (not both)")
        return self._drop(selector(agent, session), self._clock())

    @abstractmethod
    def _drop(self, where: Sequence[tuple[str, str]], now: float) -> int:
        """Delete the rows matching every (column, value) of ``where`` and tombstone them, atomically."""

    def purge(self, retention_days: int) -> int:
        """Delete rows not written for ``retention_days`` days; returns rows deleted."""
        if retention_days < 0:
            raise ValueError("retention_days must be >= 0")
        return self._purge(self._clock() - retention_days * 86400)

    @abstractmethod
    def _purge(self, cutoff: float) -> int:
        """Delete rows written before ``cutoff``; rows deleted."""

    def census(self, *, agent: str | None = None, session: str | None = None,
               before: float | None = None) -> Census:
        """What ``drop`` (``agent``/``session``; neither: every row) or ``purge`` (``before``) would erase."""
        return self._census(selector(agent, session), before)

    @abstractmethod
    def _census(self, where: Sequence[tuple[str, str]], before: float | None) -> Census: ...

    @abstractmethod
    def count(self) -> int:
        """Rows stored (every scope)."""

    # -- plumbing ------------------------------------------------------------

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def selector(agent: str | None, session: str | None) -> list[tuple[str, str]]:
    """The (column, value) pairs that select the rows of ``agent`` and/or ``session`` (none: every row).

    Backends put these column names (only ``agent``, ``session``) into SQL; the values are parameters.
    """
    return [(column, value) for column, value in (("agent", agent), ("session", session)) if value is not None]


_PUT = """
INSERT INTO tokens (agent, session, token, kind, kid, sealed, created)
SELECT :agent, :session, :token, :kind, :kid, :sealed, :created
WHERE NOT EXISTS (
    SELECT 1 FROM dropped WHERE agent = :agent AND session = :session AND token = :token
)
ON CONFLICT (agent, session, token) DO UPDATE SET
    kind = excluded.kind, kid = excluded.kid, sealed = excluded.sealed, created = excluded.created
"""


class Vault(TokenVault):
    """The embedded SQLite vault (``<data-dir>/vault.sqlite``, mode 0600)."""

    def __init__(
        self, path: Path, keyring: Keyring, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(keyring, clock)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        os.chmod(self.path, 0o600)  # -wal and -shm inherit the mode
        conn.execute("PRAGMA busy_timeout=10000")  # the CLI may hold the lock briefly
        sqlite_utils.Database(conn).enable_wal()
        conn.execute("PRAGMA synchronous=NORMAL")
        migrate_sqlite(conn)
        self._conn = conn

    def _put(self, agent: str, session: str, rows: Sequence[SealedRow], now: float) -> int:
        params = [{"agent": agent, "session": session, "token": token, "kind": kind, "kid": kid,
                   "sealed": sealed, "created": now} for token, kind, kid, sealed in rows]
        with self._lock, self._transaction() as conn:
            return conn.executemany(_PUT, params).rowcount

    def _find(self, agent: str, session: str, token: str) -> tuple[str, bytes] | str:
        key = (agent, session, token)
        with self._lock:
            conn = self._conn
            row = conn.execute(
                "SELECT kid, sealed FROM tokens WHERE agent = ? AND session = ? AND token = ?", key).fetchone()
            if row is not None:
                return row[0], row[1]
            if conn.execute("SELECT 1 FROM dropped WHERE agent = ? AND session = ? AND token = ?", key).fetchone():
                return DROPPED
            if conn.execute("SELECT 1 FROM tokens WHERE token = ? LIMIT 1", (token,)).fetchone():
                return FOREIGN_SCOPE
            return UNKNOWN_TOKEN

    def _drop(self, where: Sequence[tuple[str, str]], now: float) -> int:
        clause, params = _sql_where(where)
        with self._lock, self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO dropped (agent, session, token, dropped) "
                f"SELECT agent, session, token, ? FROM tokens WHERE {clause}",
                [now, *params],
            )
            return conn.execute(f"DELETE FROM tokens WHERE {clause}", params).rowcount

    def _purge(self, cutoff: float) -> int:
        with self._lock, self._transaction() as conn:
            return conn.execute("DELETE FROM tokens WHERE created < ?", (cutoff,)).rowcount

    def _census(self, where: Sequence[tuple[str, str]], before: float | None) -> Census:
        clause, params = _sql_where(where)
        if before is not None:
            clause, params = f"{clause} AND created < ?", [*params, before]
        with self._lock:
            rows, agents, sessions, oldest = self._conn.execute(
                "SELECT count(*), count(DISTINCT agent), count(DISTINCT agent || char(31) || session), "
                f"min(created) FROM tokens WHERE {clause}", params).fetchone()
        return Census(rows, agents, sessions, oldest)

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM tokens").fetchone()[0]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _sql_where(where: Sequence[tuple[str, str]]) -> tuple[str, list[object]]:
    """``col = ? AND ...`` (``1`` for none) and its parameters; columns come from ``selector``."""
    return " AND ".join(f"{column} = ?" for column, _ in where) or "1", [value for _, value in where]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on any error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
