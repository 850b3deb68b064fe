"""The vault on both backends (SQLite, a real PostgreSQL): encryption at rest, scope binding,
erasure, retention, concurrent writers (threads and replicas), CLI."""

from __future__ import annotations

import argparse
import base64
import os
import pickle
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest

from masker.audit.events import VAULT_DROPPED, AuditUnavailable, MemorySink
from masker.db import DatabaseUnavailable, database_url
from masker.db.migrations import PG_MIGRATIONS, SQLITE_MIGRATIONS, SchemaError
from masker.scope import Scope
from masker.tokens.cli import add_commands
from masker.tokens.keys import Keyring
from masker.tokens.vault import (
    DROPPED,
    FOREIGN_SCOPE,
    UNDECRYPTABLE,
    UNKNOWN_KID,
    UNKNOWN_TOKEN,
    Census,
    TokenVault,
    Vault,
    mint,
)
from masker.tokens.vault_pg import PgVault
from tests.helpers.pg import fresh_schema

KID = "K_TEST"
A = Scope("agent-a", "s1")


def keyring(raw: bytes | None = None, old: bytes | None = None) -> Keyring:
    env = {f"MASKER_KEY_{KID}": base64.b64encode(raw or os.urandom(32)).decode()}
    if old:
        env[f"MASKER_KEY_{KID}_OLD"] = base64.b64encode(old).decode()
    return Keyring.from_env(env)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kr() -> Keyring:
    return keyring()


@dataclass
class Backend:
    """One vault database: ``open`` gives another vault (another replica or CLI) on it."""

    name: str
    open: Callable[..., TokenVault]  # (keyring, clock=...)
    tokens: str  # the table names, for tampering and checks from outside
    dropped: str
    sql: Callable[[str], list[tuple]]  # a statement run from outside the vault; its rows

    def at_rest(self) -> bytes:
        """Every stored byte of the tokens table, as the database returns it."""
        return b"".join(b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in r)
                        for r in self.sql(f"SELECT * FROM {self.tokens}"))


def sqlite_backend(path) -> Backend:
    def sql(statement: str) -> list[tuple]:
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(statement).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    return Backend("sqlite", lambda k, **kw: Vault(path, k, **kw), "tokens", "dropped", sql)


def pg_backend(url: str) -> Backend:
    def sql(statement: str) -> list[tuple]:
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                    for r in cur.fetchall()] if cur.description else []

    return Backend("postgresql", lambda k, **kw: PgVault(url, k, **kw), "masker_tokens", "masker_dropped", sql)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path / "vault.sqlite")
    else:
        for url in fresh_schema():
            yield pg_backend(url)


@pytest.fixture
def vault(backend, kr):
    v = backend.open(kr)
    yield v
    v.close()


def row(kr: Keyring, value: str, kind: str = "NAME") -> tuple[str, str, str, str]:
    return (mint(kr, kind, KID, value, A), kind, KID, value)



@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_schema()

def test_put_get_round_trip(vault, kr):
    rows = [row(kr, "Jane Doe"), row(kr, "555-123-4567", "PHONE")]
    assert vault.put_many(A, rows) == 2
    for token, _, _, value in rows:
        assert vault.get(A, token) == value
    assert vault.get(A, mint(kr, "NAME", KID, "John Roe", A)) is None
    assert vault.lookup(A, mint(kr, "NAME", KID, "John Roe", A)).reason == UNKNOWN_TOKEN


def test_values_are_encrypted_at_rest(backend, kr, tmp_path):
    secret = "Zebulon Quartermaine 078-05-1120"
    with backend.open(kr) as v:
        v.put_many(A, [row(kr, secret)])
        stored = backend.at_rest()
        assert b"Zebulon" not in stored and secret.encode() not in stored
        assert b"agent-a" in stored  # the scope is stored in clear: the check above is real
    if backend.name == "sqlite":
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert b"Zebulon" not in on_disk and b"agent-a" in on_disk
        assert stat.S_IMODE((tmp_path / "vault.sqlite").stat().st_mode) == 0o600


def test_rows_cannot_be_swapped_between_scopes(backend, kr):
    with backend.open(kr) as v:
        token = row(kr, "Jane Doe")[0]
        v.put_many(Scope("victim", "s"), [row(kr, "Jane Doe")])
        backend.sql(f"UPDATE {backend.tokens} SET agent = 'attacker'")
        assert v.lookup(Scope("attacker", "s"), token).reason == UNDECRYPTABLE


def test_foreign_scope_is_not_restored(vault, kr):
    token, *_ = r = row(kr, "Jane Doe")
    vault.put_many(A, [r])
    for other in (Scope("agent-a", "s2"), Scope("agent-b", "s1")):
        found = vault.lookup(other, token)
        assert found.value is None and found.reason == FOREIGN_SCOPE


def test_rotation_old_key_still_opens_rows(backend):
    old, new = os.urandom(32), os.urandom(32)
    with backend.open(keyring(old)) as v:
        v.put_many(A, [r := row(keyring(old), "Jane Doe")])
    with backend.open(keyring(new, old=old)) as v:
        assert v.get(A, r[0]) == "Jane Doe"
    with backend.open(keyring(new)) as v:  # old key retired
        assert v.lookup(A, r[0]).reason == UNDECRYPTABLE
    with backend.open(Keyring({})) as v:
        assert v.lookup(A, r[0]).reason == UNKNOWN_KID


def test_drop_session_is_permanent(backend, kr):
    r = row(kr, "Jane Doe")
    with backend.open(kr) as v:
        v.put_many(A, [r])
        v.put_many(Scope("agent-a", "s2"), [r])
        assert v.drop(session="s1") == 1
        assert v.lookup(A, r[0]).reason == DROPPED
        assert v.get(Scope("agent-a", "s2"), r[0]) == "Jane Doe"
        assert v.put_many(A, [r]) == 0  # the same value masked again is not stored again
    with backend.open(kr) as v:  # survives reopening
        assert v.lookup(A, r[0]).reason == DROPPED
        assert v.get(A, r[0]) is None


def test_drop_from_another_connection_takes_effect_at_once(backend, kr):
    r = row(kr, "Jane Doe")
    with backend.open(kr) as proxy, backend.open(Keyring({})) as cli:
        proxy.put_many(A, [r])
        assert proxy.get(A, r[0]) == "Jane Doe"
        assert cli.drop(agent="agent-a") == 1
        assert proxy.lookup(A, r[0]).reason == DROPPED


def test_drop_agent_both_and_all(vault, kr):
    r1, r2 = row(kr, "Jane"), row(kr, "John")
    for scope in (Scope("a", "x"), Scope("a", "y"), Scope("b", "x")):
        vault.put_many(scope, [r1, r2])
    assert vault.census(agent="a") == Census(4, 1, 2, vault.census().oldest)
    assert vault.census().rows == 6 and vault.census().sessions == 3 and vault.census(session="x").agents == 2
    assert vault.drop(agent="a", session="x") == 2
    assert vault.get(Scope("a", "y"), r1[0]) == "Jane"
    assert vault.drop(agent="a") == 2
    assert vault.get(Scope("b", "x"), r2[0]) == "John"
    assert vault.drop(all=True) == 2
    assert vault.count() == 0 and vault.census() == Census(0, 0, 0, None)
    assert vault.lookup(Scope("b", "x"), r2[0]).reason == DROPPED


@pytest.mark.parametrize("kwargs", [{}, {"all": True, "session": "x"}])
def test_drop_needs_exactly_one_selector(vault, kwargs):
    with pytest.raises(ValueError):
        vault.drop(**kwargs)


def test_purge_by_retention(backend, kr):
    clock = Clock()
    with backend.open(kr, clock=clock) as v:
        old, fresh = row(kr, "Old Name"), row(kr, "New Name")
        v.put_many(A, [old])
        clock.now += 10 * 86400
        v.put_many(A, [fresh])
        clock.now += 5 * 86400
        assert v.census(before=clock.now - 7 * 86400).rows == 1
        assert v.purge(7) == 1
        assert v.get(A, old[0]) is None and v.get(A, fresh[0]) == "New Name"
        assert v.purge(0) == 1
        with pytest.raises(ValueError):
            v.purge(-1)


def test_put_many_from_threads(vault, kr):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            scope = Scope("agent", f"s{n}")
            rows = [row(kr, f"value {n} {i}") for i in range(20)]
            for _ in range(5):
                vault.put_many(scope, rows)
            assert all(vault.get(scope, t) == val for t, _, _, val in rows)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    run_threads(work, 8)
    assert not errors
    assert vault.count() == 8 * 20


def test_writers_minting_one_value_at_once_store_one_token_and_one_row(backend, kr):
    """Eight writers, each with its own vault (a replica each), mint the same values at the same moment."""
    vaults = [backend.open(kr) for _ in range(8)]
    start = threading.Barrier(len(vaults))
    tokens: list[set[str]] = [set() for _ in vaults]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait(timeout=10)
            for _ in range(10):
                rows = [row(kr, "Jane Doe"), row(kr, "555-123-4567", "PHONE")]
                tokens[n].update(t for t, *_ in rows)
                vaults[n].put_many(A, rows[::-1] if n % 2 else rows)  # both orders: no deadlock either
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    try:
        run_threads(work, len(vaults))
        assert not errors
        assert len(set.union(*tokens)) == 2 and all(t == tokens[0] for t in tokens)
        assert vaults[0].count() == 2
        assert {vaults[7].get(A, t) for t in tokens[0]} == {"Jane Doe", "555-123-4567"}
    finally:
        for v in vaults:
            v.close()


def test_a_drop_racing_writers_leaves_no_row_beside_a_tombstone(backend, kr):
    """While writers keep storing a session, it is dropped: each token is either gone for good or stored after."""
    writers = [backend.open(kr) for _ in range(4)]
    values = [f"Person {i}" for i in range(40)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(n, len(values), len(writers)):
                writers[n].put_many(A, [row(kr, values[i]), row(kr, values[(i + 1) % len(values)])])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    try:
        with backend.open(Keyring({})) as cli:
            threads = [threading.Thread(target=work, args=(n,)) for n in range(len(writers))]
            for t in threads:
                t.start()
            cli.drop(session="s1")
            for t in threads:
                t.join()
        assert not errors
        both = backend.sql(f"SELECT count(*) FROM {backend.tokens} t JOIN {backend.dropped} d "
                           "ON t.agent = d.agent AND t.session = d.session AND t.token = d.token")
        assert both == [(0,)]
    finally:
        for v in writers:
            v.close()


def test_failed_batch_writes_nothing(vault, kr):
    bad = ("MSKV1.NAME.K_NOPE.AAAAAAAAAAAAAAAAAAAAAAAAAA", "NAME", "K_NOPE", "x")
    with pytest.raises(LookupError):
        vault.put_many(A, [row(kr, "Jane"), bad])
    assert vault.count() == 0


def run_threads(work: Callable[[int], None], n: int) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- CLI ----------------------------------------------------------------------


def run_cli(argv: list[str], **kw) -> int:
    parser = argparse.ArgumentParser(prog="masker")
    add_commands(parser.add_subparsers(dest="cmd", required=True), **kw)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_drop_session_emits_event(tmp_path, kr, capsys):
    with Vault(tmp_path / "vault.sqlite", kr) as v:
        v.put_many(A, [row(kr, "Jane"), row(kr, "John")])
        v.put_many(Scope("agent-a", "s2"), [row(kr, "Jane")])
    sink = MemorySink()
    rc = run_cli(["vault", "drop", "--session", "s1", "--data-dir", str(tmp_path)], events_sink=sink.append)
    assert rc == 0 and "dropped 2" in capsys.readouterr().out
    (event,) = sink.events
    assert event.kind == VAULT_DROPPED and event.session == "s1" and event.detail["rows"] == 2
    with Vault(tmp_path / "vault.sqlite", kr) as v:
        assert v.count() == 1


def test_cli_args_sink_wins_and_audit_failure_is_an_error(tmp_path, kr):
    with Vault(tmp_path / "vault.sqlite", kr) as v:
        v.put_many(A, [row(kr, "Jane")])

    class Broken:
        def append(self, events):
            raise AuditUnavailable("disk full")

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["vault", "drop", "--all", "--data-dir", str(tmp_path)])
    args.sink = Broken()
    assert args.func(args) == 1
    with Vault(tmp_path / "vault.sqlite", kr) as v:
        assert v.count() == 0


def test_cli_rejects_bad_selectors_and_purges(tmp_path, kr, capsys):
    assert run_cli(["vault", "drop", "--data-dir", str(tmp_path)]) == 2
    assert run_cli(["vault", "drop", "--all", "--agent", "a", "--data-dir", str(tmp_path)]) == 2
    assert run_cli(["vault", "purge", "--days", "3", "--data-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "vault.sqlite").exists()  # no vault: nothing created
    with Vault(tmp_path / "vault.sqlite", kr) as v:
        v.put_many(A, [row(kr, "Jane")])
    sink = MemorySink()
    assert run_cli(["vault", "purge", "--days", "0", "--data-dir", str(tmp_path)], events_sink=sink.append) == 0
    assert sink.events[0].detail == {"rows": 1, "retention_days": 0}


def test_cli_erases_from_the_postgresql_vault(pg_url, kr, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MASKER_DATABASE_URL", raising=False)
    with PgVault(pg_url, kr) as v:
        v.put_many(A, [row(kr, "Jane"), row(kr, "John")])
        v.put_many(Scope("agent-a", "s2"), [row(kr, "Jane")])
    db = ["--database-url", pg_url, "--data-dir", str(tmp_path)]
    assert run_cli(["vault", "drop", "--session", "s1", "--dry-run", *db]) == 0
    out = capsys.readouterr().out
    assert "would drop 2 vault rows (1 sessions of 1 agents)" in out and "postgresql://" in out and "search_path" not in out
    sink = MemorySink()
    assert run_cli(["vault", "drop", "--session", "s1", *db], events_sink=sink.append) == 0
    assert sink.events[0].detail["rows"] == 2
    monkeypatch.setenv("MASKER_DATABASE_URL", pg_url)  # the environment works as the option does
    assert run_cli(["vault", "purge", "--days", "0", "--data-dir", str(tmp_path)], events_sink=sink.append) == 0
    assert sink.events[1].detail == {"rows": 1, "retention_days": 0}
    assert not (tmp_path / "vault.sqlite").exists()  # the data dir's SQLite file was never used
    with PgVault(pg_url, kr) as v:
        assert v.count() == 0 and v.lookup(A, row(kr, "Jane")[0]).reason == DROPPED


def test_an_unreachable_database_is_a_clear_error_and_fails_closed(pg_url, kr):
    with pytest.raises(DatabaseUnavailable) as e:
        PgVault("postgresql://masker:secret-pw@127.0.0.1:1/none", kr)
    assert e.value.code == "vault_unavailable" and e.value.status == 503
    assert "127.0.0.1:1/none" in str(e.value) and "secret-pw" not in str(e.value) and "masker@" not in str(e.value)
    with pytest.raises(ValueError, match="postgresql://"):
        database_url({"MASKER_DATABASE_URL": "mysql://x"})
    v = PgVault(pg_url, kr)
    v.put_many(A, [r := row(kr, "Jane")])
    assert v.failure is None
    v.db.close()  # as if the server went away: every call now fails closed and readiness says so
    with pytest.raises(DatabaseUnavailable):
        v.lookup(A, r[0])
    with pytest.raises(DatabaseUnavailable):
        v.put_many(A, [r])
    assert v.failure and not v.db.ping()
    assert pickle.loads(pickle.dumps(DatabaseUnavailable("x"))).code == "vault_unavailable"  # crosses to workers


def test_migrations_are_versioned_and_a_newer_schema_is_refused(pg_url, kr, tmp_path):
    with PgVault(pg_url, kr), PgVault(pg_url, kr):  # the second finds the schema current
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT version, description FROM masker_schema").fetchall() == [
            (m.version, m.description) for m in PG_MIGRATIONS]
        conn.execute("INSERT INTO masker_schema (version, description) VALUES (99, 'from the future')")
    with pytest.raises(SchemaError, match="version 99"):
        PgVault(pg_url, kr)
    with Vault(tmp_path / "v.sqlite", kr):
        pass
    conn = sqlite3.connect(tmp_path / "v.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SQLITE_MIGRATIONS[-1].version
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaError):
        Vault(tmp_path / "v.sqlite", kr)
