"""The SQLite vault: encryption at rest, scope binding, erasure, retention, threads, CLI."""

from __future__ import annotations

import argparse
import base64
import os
import sqlite3
import stat
import threading

import pytest

from masker.audit.events import VAULT_DROPPED, AuditUnavailable, MemorySink
from masker.scope import Scope
from masker.tokens.cli import add_commands
from masker.tokens.keys import Keyring
from masker.tokens.vault import (
    DROPPED, FOREIGN_SCOPE, UNDECRYPTABLE, UNKNOWN_KID, UNKNOWN_TOKEN, Vault, mint,
)

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


@pytest.fixture
def vault(tmp_path, kr):
    v = Vault(tmp_path / "vault.sqlite", kr)
    yield v
    v.close()


def row(kr: Keyring, value: str, kind: str = "NAME") -> tuple[str, str, str, str]:
    return (mint(kr, kind, KID, value, A), kind, KID, value)


def test_put_get_round_trip(vault, kr):
    rows = [row(kr, "Jane Doe"), row(kr, "555-123-4567", "PHONE")]
    assert vault.put_many(A, rows) == 2
    for token, _, _, value in rows:
        assert vault.get(A, token) == value
    assert vault.get(A, mint(kr, "NAME", KID, "John Roe", A)) is None
    assert vault.lookup(A, mint(kr, "NAME", KID, "John Roe", A)).reason == UNKNOWN_TOKEN


def test_values_are_encrypted_at_rest(tmp_path, kr):
    path = tmp_path / "vault.sqlite"
    secret = "Zebulon Quartermaine 078-05-1120"
    with Vault(path, kr) as v:
        v.put_many(A, [row(kr, secret)])
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert b"Zebulon" not in on_disk and secret.encode() not in on_disk
        assert b"agent-a" in on_disk  # the scope is stored in clear: the check above is real
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rows_cannot_be_swapped_between_scopes(tmp_path, kr):
    path = tmp_path / "vault.sqlite"
    with Vault(path, kr) as v:
        token = row(kr, "Jane Doe")[0]
        v.put_many(Scope("victim", "s"), [row(kr, "Jane Doe")])
        conn = sqlite3.connect(path)
        conn.execute("UPDATE tokens SET agent = 'attacker'")
        conn.commit()
        conn.close()
        assert v.lookup(Scope("attacker", "s"), token).reason == UNDECRYPTABLE


def test_foreign_scope_is_not_restored(vault, kr):
    token, *_ = r = row(kr, "Jane Doe")
    vault.put_many(A, [r])
    for other in (Scope("agent-a", "s2"), Scope("agent-b", "s1")):
        found = vault.lookup(other, token)
        assert found.value is None and found.reason == FOREIGN_SCOPE


def test_rotation_old_key_still_opens_rows(tmp_path):
    old, new = os.urandom(32), os.urandom(32)
    path = tmp_path / "vault.sqlite"
    with Vault(path, keyring(old)) as v:
        v.put_many(A, [r := row(keyring(old), "Jane Doe")])
    with Vault(path, keyring(new, old=old)) as v:
        assert v.get(A, r[0]) == "Jane Doe"
    with Vault(path, keyring(new)) as v:  # old key retired
        assert v.lookup(A, r[0]).reason == UNDECRYPTABLE
    with Vault(path, Keyring({})) as v:
        assert v.lookup(A, r[0]).reason == UNKNOWN_KID


def test_drop_session_is_permanent(tmp_path, kr):
    path = tmp_path / "vault.sqlite"
    r = row(kr, "Jane Doe")
    with Vault(path, kr) as v:
        v.put_many(A, [r])
        v.put_many(Scope("agent-a", "s2"), [r])
        assert v.drop(session="s1") == 1
        assert v.lookup(A, r[0]).reason == DROPPED
        assert v.get(Scope("agent-a", "s2"), r[0]) == "Jane Doe"
        assert v.put_many(A, [r]) == 0  # the same value masked again is not stored again
    with Vault(path, kr) as v:  # survives reopening
        assert v.lookup(A, r[0]).reason == DROPPED
        assert v.get(A, r[0]) is None


def test_drop_from_another_connection_takes_effect_at_once(tmp_path, kr):
    path = tmp_path / "vault.sqlite"
    r = row(kr, "Jane Doe")
    with Vault(path, kr) as proxy, Vault(path, Keyring({})) as cli:
        proxy.put_many(A, [r])
        assert proxy.get(A, r[0]) == "Jane Doe"
        assert cli.drop(agent="agent-a") == 1
        assert proxy.lookup(A, r[0]).reason == DROPPED


def test_drop_agent_both_and_all(vault, kr):
    r1, r2 = row(kr, "Jane"), row(kr, "John")
    for scope in (Scope("a", "x"), Scope("a", "y"), Scope("b", "x")):
        vault.put_many(scope, [r1, r2])
    assert vault.drop(agent="a", session="x") == 2
    assert vault.get(Scope("a", "y"), r1[0]) == "Jane"
    assert vault.drop(agent="a") == 2
    assert vault.get(Scope("b", "x"), r2[0]) == "John"
    assert vault.drop(all=True) == 2
    assert vault.count() == 0
    assert vault.lookup(Scope("b", "x"), r2[0]).reason == DROPPED


@pytest.mark.parametrize("kwargs", [{}, {"all": True, "session": "x"}])
def test_drop_needs_exactly_one_selector(vault, kwargs):
    with pytest.raises(ValueError):
        vault.drop(**kwargs)


def test_purge_by_retention(tmp_path, kr):
    clock = Clock()
    with Vault(tmp_path / "vault.sqlite", kr, clock=clock) as v:
        old, fresh = row(kr, "Old Name"), row(kr, "New Name")
        v.put_many(A, [old])
        clock.now += 10 * 86400
        v.put_many(A, [fresh])
        clock.now += 5 * 86400
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

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert vault.count() == 8 * 20


def test_failed_batch_writes_nothing(vault, kr):
    bad = ("MSKV1.NAME.K_NOPE.AAAAAAAAAAAAAAAAAAAAAAAAAA", "NAME", "K_NOPE", "x")
    with pytest.raises(LookupError):
        vault.put_many(A, [row(kr, "Jane"), bad])
    assert vault.count() == 0


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
