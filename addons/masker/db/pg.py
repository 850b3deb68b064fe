"""A PostgreSQL connection pool that fails closed and says whether the database answers.

``Database.open`` connects once (failing at once when the server refuses),
applies the migrations (``masker.db.migrations``), then opens a
``psycopg_pool.ConnectionPool`` of autocommit connections. ``run(work)``
lends ``work`` a connection; any failure to reach the database becomes
``DatabaseUnavailable`` (503 ``vault_unavailable`` for a request) and is
kept in ``failure`` (readiness) until the next call that succeeds. A
connection the server closed (a restart) is retried once on a fresh one,
so every ``work`` must be safe to run twice (upserts, reads, deletes).

Error texts of psycopg are never passed on: they name hosts and users.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from masker.db import DatabaseUnavailable, describe
from masker.db.migrations import migrate_pg

log = logging.getLogger("masker.db")

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5  # the first connection (start-up): a server that does not answer in time fails start-up
WAIT_TIMEOUT_S = 5.0  # how long a call waits for a pooled connection before it fails closed


class Database:
    """A pool of connections to ``url``; thread-safe."""

    def __init__(self, url: str, *, max_size: int = 4, name: str = "masker") -> None:
        self.where = describe(url)
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
                self.schema_version = migrate_pg(conn)
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(f"cannot reach the database {self.where} ({type(e).__name__}); "
                                      "check MASKER_DATABASE_URL") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False, name=name,
                                    kwargs={"autocommit": True}, timeout=WAIT_TIMEOUT_S)
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout:
            self._pool.close()
            raise DatabaseUnavailable(f"cannot open connections to the database {self.where}") from None
        self._lock = threading.Lock()
        self._failure: str | None = None

    @property
    def failure(self) -> str | None:
        """Why the last call could not reach the database (None: it could)."""
        with self._lock:
            return self._failure

    def _note(self, failure: str | None) -> None:
        with self._lock:
            if failure is not None and self._failure is None:
                log.error("database %s unavailable: %s", self.where, failure)
            elif failure is None and self._failure is not None:
                log.info("database %s reachable again", self.where)
            self._failure = failure

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """``work(conn)`` on a pooled autocommit connection (use ``conn.transaction()`` for several statements)."""
        retried = False
        while True:
            conn: psycopg.Connection | None = None
            try:
                with self._pool.connection() as conn:
                    result = work(conn)
            except PoolTimeout:
                self._note(f"no connection within {WAIT_TIMEOUT_S:g} s")
                raise DatabaseUnavailable(f"the vault database {self.where} is unreachable; "
                                          "nothing was forwarded") from None
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                if not retried and conn is not None and conn.broken:
                    retried = True  # the server closed this connection (restart, failover): once more, fresh
                    continue
                self._note(type(e).__name__)
                raise DatabaseUnavailable(f"the vault database {self.where} failed ({type(e).__name__}); "
                                          "nothing was forwarded") from None
            self._note(None)
            return result

    def ping(self) -> bool:
        """One round trip; updates ``failure``. For readiness checks off the event loop."""
        try:
            self.run(lambda conn: conn.execute("SELECT 1"))
        except DatabaseUnavailable:
            return False
        return True

    def close(self) -> None:
        self._pool.close()
