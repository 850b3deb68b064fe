"""``MSKV1`` vault-deterministic tokens and the SQLite vault that holds their values.

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

Concurrency: one connection guarded by a lock (the proxy calls from worker
threads), WAL so the CLI can drop or purge while the proxy runs, and
``synchronous=NORMAL``: a power cut may lose the last rows, which then fail
closed (redacted), never open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from cryptography.exceptions import InvalidTag

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


def vault_path(data_dir: Path) -> Path:
    return Path(data_dir) / VAULT_FILENAME


_MINT_DOMAIN = b"MSKV1/scoped"
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    agent TEXT NOT NULL, session TEXT NOT NULL, token TEXT NOT NULL,
    kind TEXT NOT NULL, kid TEXT NOT NULL, sealed BLOB NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (agent, session, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_by_token ON tokens(token);
CREATE INDEX IF NOT EXISTS tokens_by_created ON tokens(created);
CREATE TABLE IF NOT EXISTS dropped (
    agent TEXT NOT NULL, session TEXT NOT NULL, token TEXT NOT NULL, dropped REAL NOT NULL,
    PRIMARY KEY (agent, session, token)
) WITHOUT ROWID;
"""

_PUT = """
INSERT INTO tokens (agent, session, token, kind, kid, sealed, created)
SELECT :agent, :session, :token, :kind, :kid, :sealed, :created
WHERE NOT EXISTS (
    SELECT 1 FROM dropped WHERE agent = :agent AND session = :session AND token = :token
)
ON CONFLICT (agent, session, token) DO UPDATE SET
    kind = excluded.kind, kid = excluded.kid, sealed = excluded.sealed, created = excluded.created
"""


class Vault:
    """Encrypted token store. Thread-safe; every public method is one transaction."""

    def __init__(
        self, path: Path, keyring: Keyring, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._keyring = keyring
        self._clock = clock
        self._lock = threading.Lock()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        os.chmod(self.path, 0o600)  # -wal and -shm inherit the mode
        conn.execute("PRAGMA busy_timeout=10000")  # the CLI may hold the lock briefly
        sqlite_utils.Database(conn).enable_wal()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    # -- writing -------------------------------------------------------------

    def _seal(self, kid: str, aad: bytes, value: str) -> bytes:
        nonce = os.urandom(NONCE_LEN)
        key = self._keyring.subkey(kid, K.VAULT)
        return nonce + cipher(key).encrypt(nonce, value.encode("utf-8"), aad)

    def put_many(self, scope: Scope, rows: Iterable[Row]) -> int:
        """Store ``rows`` of one request in one transaction; returns rows written.

        Tokens dropped earlier in this scope are not stored again.
        """
        now = self._clock()
        agent, session = scope.agent, scope.session
        params = [
            {"agent": agent, "session": session, "token": token, "kind": kind, "kid": kid,
             "sealed": self._seal(kid, _aad(agent, session, token), value), "created": now}
            for token, kind, kid, value in rows
        ]
        if not params:
            return 0
        with self._lock, self._transaction() as conn:
            return conn.executemany(_PUT, params).rowcount

    # -- reading -------------------------------------------------------------

    def lookup(self, scope: Scope, token: str) -> Lookup:
        """The value of ``token`` in ``scope``, or the reason it cannot be had."""
        with self._lock:
            row = self._conn.execute(
                "SELECT kid, sealed FROM tokens WHERE agent = ? AND session = ? AND token = ?",
                (scope.agent, scope.session, token),
            ).fetchone()
            if row is None:
                return Lookup(None, self._absent_reason(scope, token))
        kid, sealed = row
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

    def _absent_reason(self, scope: Scope, token: str) -> str:
        conn = self._conn
        if conn.execute(
            "SELECT 1 FROM dropped WHERE agent = ? AND session = ? AND token = ?",
            (scope.agent, scope.session, token),
        ).fetchone():
            return DROPPED
        if conn.execute("SELECT 1 FROM tokens WHERE token = ? LIMIT 1", (token,)).fetchone():
            return FOREIGN_SCOPE
        return UNKNOWN_TOKEN

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
        clauses, params = [], []
        if agent is not None:
            clauses.append("agent = ?")
            params.append(agent)
        if session is not None:
            clauses.append("session = ?")
            params.append(session)
        where = " AND ".join(clauses) or "1"
        with self._lock, self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO dropped (agent, session, token, dropped) "
                f"SELECT agent, session, token, ? FROM tokens WHERE {where}",
                [self._clock(), *params],
            )
            return conn.execute(f"DELETE FROM tokens WHERE {where}", params).rowcount

    def purge(self, retention_days: int) -> int:
        """Delete rows not written for ``retention_days`` days; returns rows deleted."""
        if retention_days < 0:
            raise ValueError("retention_days must be >= 0")
        cutoff = self._clock() - retention_days * 86400
        with self._lock, self._transaction() as conn:
            return conn.execute("DELETE FROM tokens WHERE created < ?", (cutoff,)).rowcount

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM tokens").fetchone()[0]

    # -- plumbing ------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on any error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
