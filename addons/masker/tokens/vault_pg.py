"""The vault in PostgreSQL: the same sealed rows and tombstones as the SQLite vault, shared by replicas.

Tables ``masker_tokens`` and ``masker_dropped`` (``masker.db.migrations``).
Values are sealed before they reach the database, with the row key as
associated data, exactly as in ``masker.tokens.vault``: the server only
ever holds ciphertext, scope, token, kind and kid.

Concurrency (many replicas, each with a pool):
* ``put_many`` upserts its rows in one transaction, in token order, so
  that writers of the same tokens take the row locks in the same order
  (no deadlock); writers minting one value in one scope at once end with
  one token and one row.
* ``drop`` first takes ``SHARE ROW EXCLUSIVE`` on ``masker_tokens``: it
  waits for the writes in flight and holds new ones back until it commits,
  then deletes and tombstones in one statement. A write that was waiting
  then sees the tombstone and stores nothing, so a dropped token never
  comes back (what ``BEGIN IMMEDIATE`` gives the SQLite vault).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from masker.db.pg import Database
from masker.tokens.keys import Keyring
from masker.tokens.vault import DROPPED, FOREIGN_SCOPE, UNKNOWN_TOKEN, Census, SealedRow, TokenVault

_PUT = """
INSERT INTO masker_tokens (agent, session, token, kind, kid, sealed, created)
SELECT %(agent)s, %(session)s, %(token)s, %(kind)s, %(kid)s, %(sealed)s, %(created)s
WHERE NOT EXISTS (
    SELECT 1 FROM masker_dropped WHERE agent = %(agent)s AND session = %(session)s AND token = %(token)s
)
ON CONFLICT (agent, session, token) DO UPDATE SET
    kind = excluded.kind, kid = excluded.kid, sealed = excluded.sealed, created = excluded.created
"""

# One round trip: the row, else (evaluated only then) whether a tombstone or another scope's row exists.
_FIND = """
SELECT t.kid, t.sealed,
       CASE WHEN t.kid IS NULL THEN EXISTS (
           SELECT 1 FROM masker_dropped d WHERE d.agent = %(agent)s AND d.session = %(session)s AND d.token = %(token)s
       ) END,
       CASE WHEN t.kid IS NULL THEN EXISTS (SELECT 1 FROM masker_tokens o WHERE o.token = %(token)s) END
FROM (SELECT 1) AS one
LEFT JOIN masker_tokens t ON t.agent = %(agent)s AND t.session = %(session)s AND t.token = %(token)s
"""


def _where(where: Sequence[tuple[str, str]]) -> tuple[sql.Composable, list[object]]:
    """``col = %s AND ...`` (``TRUE`` for none) and its parameters."""
    if not where:
        return sql.SQL("TRUE"), []
    clause = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(column)) for column, _ in where)
    return clause, [value for _, value in where]


def _one(cursor: psycopg.Cursor) -> tuple[Any, ...]:
    """The one row a query of this module always returns."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the vault query returned no row")
    return row


class PgVault(TokenVault):
    """The vault in the PostgreSQL database ``url`` (``MASKER_DATABASE_URL``)."""

    def __init__(self, url: str, keyring: Keyring, *, clock: Callable[[], float] = time.time,
                 max_connections: int = 4) -> None:
        super().__init__(keyring, clock)
        self.db = Database(url, max_size=max_connections, name="masker-vault")

    @property
    def failure(self) -> str | None:
        return self.db.failure

    def ping(self) -> bool:
        return self.db.ping()

    def _put(self, agent: str, session: str, rows: Sequence[SealedRow], now: float) -> int:
        params = [{"agent": agent, "session": session, "token": token, "kind": kind, "kid": kid,
                   "sealed": sealed, "created": now} for token, kind, kid, sealed in sorted(rows)]

        def work(conn: psycopg.Connection) -> int:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_PUT, params)
                return cur.rowcount

        return self.db.run(work)

    def _find(self, agent: str, session: str, token: str) -> tuple[str, bytes] | str:
        params = {"agent": agent, "session": session, "token": token}
        kid, sealed, dropped, elsewhere = self.db.run(lambda conn: _one(conn.execute(_FIND, params)))
        if kid is not None:
            return kid, bytes(sealed)
        return DROPPED if dropped else FOREIGN_SCOPE if elsewhere else UNKNOWN_TOKEN

    def _drop(self, where: Sequence[tuple[str, str]], now: float) -> int:
        clause, params = _where(where)
        query = sql.SQL(
            "WITH gone AS (DELETE FROM masker_tokens WHERE {} RETURNING agent, session, token), "
            "kept AS (INSERT INTO masker_dropped (agent, session, token, dropped) "
            "SELECT agent, session, token, %s FROM gone ON CONFLICT DO NOTHING) "
            "SELECT count(*) FROM gone").format(clause)

        def work(conn: psycopg.Connection) -> int:
            with conn.transaction():
                conn.execute("LOCK TABLE masker_tokens IN SHARE ROW EXCLUSIVE MODE")
                return int(_one(conn.execute(query, [*params, now]))[0])

        return self.db.run(work)

    def _purge(self, cutoff: float) -> int:
        return self.db.run(lambda conn: conn.execute(
            "DELETE FROM masker_tokens WHERE created < %s", (cutoff,)).rowcount)

    def _census(self, where: Sequence[tuple[str, str]], before: float | None) -> Census:
        clause, params = _where(where)
        if before is not None:
            clause, params = sql.SQL("{} AND created < %s").format(clause), [*params, before]
        query = sql.SQL("SELECT count(*), count(DISTINCT agent), count(DISTINCT (agent, session)), min(created) "
                        "FROM masker_tokens WHERE {}").format(clause)
        rows, agents, sessions, oldest = self.db.run(lambda conn: _one(conn.execute(query, params)))
        return Census(rows, agents, sessions, oldest)

    def count(self) -> int:
        return int(self.db.run(lambda conn: _one(conn.execute("SELECT count(*) FROM masker_tokens")))[0])

    def close(self) -> None:
        self.db.close()
