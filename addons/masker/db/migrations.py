"""Versioned schema migrations of the vault database, applied when a store opens.

One list per backend, in order; a migration is never edited once released
(add the next one instead). SQLite records the version in ``PRAGMA
user_version``, PostgreSQL in the table ``masker_schema`` (version,
description, applied_at). Every store runs ``migrate_*`` on open; the
first to find a missing version applies it, in one transaction: SQLite
under ``BEGIN IMMEDIATE``, PostgreSQL under a transaction-level advisory
lock, so replicas starting together apply each migration exactly once.
A database newer than this Masker (a later version applied by an upgraded
replica) is refused: ``SchemaError``, and the store does not open.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sql: str  # statements separated by ";" (no ";" inside one)


class SchemaError(Exception):
    """The database's schema is one this Masker cannot use."""


SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    # Version 1 is the schema sidecars created before versioning (IF NOT EXISTS: their files adopt it).
    Migration(1, "vault tokens, tombstones, agents", """
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
        CREATE TABLE IF NOT EXISTS masker_agents (
            name TEXT PRIMARY KEY, upstream TEXT, policy_yaml TEXT, kid TEXT, updated_at TEXT NOT NULL
        )
    """),
)

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "vault tokens, tombstones, agents", """
        CREATE TABLE masker_tokens (
            agent text NOT NULL, session text NOT NULL, token text NOT NULL,
            kind text NOT NULL, kid text NOT NULL, sealed bytea NOT NULL, created double precision NOT NULL,
            PRIMARY KEY (agent, session, token)
        );
        CREATE INDEX masker_tokens_by_token ON masker_tokens (token);
        CREATE INDEX masker_tokens_by_created ON masker_tokens (created);
        CREATE TABLE masker_dropped (
            agent text NOT NULL, session text NOT NULL, token text NOT NULL, dropped double precision NOT NULL,
            PRIMARY KEY (agent, session, token)
        );
        CREATE TABLE masker_agents (
            name text PRIMARY KEY, upstream text, policy_yaml text, kid text, updated_at text NOT NULL
        )
    """),
)

_PG_LOCK_CLASS = 0x4D534B52  # "MSKR": advisory lock class of Masker's migrations (per schema)


def latest(migrations: tuple[Migration, ...]) -> int:
    return migrations[-1].version


def _pending(current: int, migrations: tuple[Migration, ...]) -> list[Migration]:
    if current > latest(migrations):
        raise SchemaError(f"the database schema is version {current}, newer than this Masker knows "
                          f"({latest(migrations)}): upgrade Masker")
    return [m for m in migrations if m.version > current]


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def migrate_sqlite(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = SQLITE_MIGRATIONS) -> int:
    """Bring the SQLite database of ``conn`` (autocommit mode) to the latest version; returns it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for m in _pending(conn.execute("PRAGMA user_version").fetchone()[0], migrations):
            for statement in _statements(m.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return latest(migrations)


def migrate_pg(conn: psycopg.Connection, migrations: tuple[Migration, ...] = PG_MIGRATIONS) -> int:
    """Bring the PostgreSQL schema (the connection's ``current_schema()``) to the latest version; returns it."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (_PG_LOCK_CLASS,))
        conn.execute("CREATE TABLE IF NOT EXISTS masker_schema (version integer PRIMARY KEY, "
                     "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM masker_schema").fetchone()
        for m in _pending(row[0] if row else 0, migrations):
            for statement in _statements(m.sql):
                conn.execute(statement.encode())  # this module's own DDL, run without parameters
            conn.execute("INSERT INTO masker_schema (version, description) VALUES (%s, %s)",
                         (m.version, m.description))
    return latest(migrations)
