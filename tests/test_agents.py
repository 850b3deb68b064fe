"""Agents (``masker.agents``, on SQLite and a real PostgreSQL, LISTEN/NOTIFY between replicas), the policy
catalog, ``masker agents`` and the admin API's shape."""

from __future__ import annotations

import base64
import functools
import queue
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import psycopg
import pytest
import yaml

from masker import cli
from masker.admin import app as admin_app
from masker.agents import Agent, AgentError, AgentExists, AgentStore, SqliteAgentStore, parse_agent
from masker.agents_pg import PgAgentStore
from masker.db.notify import ChangeListener
from masker.policy.catalog import PolicyCatalog, read_catalog, resolve
from masker.policy.load import PolicyError, default_policy_path
from tests.helpers.pg import fresh_schema

KEY = base64.b64encode(b"k" * 32).decode()
ENV = {"MASKER_KEY_K_HEALTHCARE": KEY, "MASKER_KEY_TENANT_B": KEY}
SHIPPED = default_policy_path().read_text()


def redacting(text: str = SHIPPED) -> str:
    return re.sub(r"(  PHONE:.*)action: tokenize", r"\1action: redact", text)



@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_schema()

def test_an_agent_document_is_validated_like_a_policy() -> None:
    agent = parse_agent({"name": "billing-bot", "policy_yaml": redacting(), "kid": "TENANT_B"}, ENV)
    assert agent.kid == "TENANT_B"
    with pytest.raises(AgentError) as e:
        parse_agent({"name": "b", "policy_yaml": SHIPPED.replace("version: 1", "version: x")}, ENV)
    assert e.value.code == "invalid_policy" and [i.path for i in e.value.issues] == ["version"]
    assert e.value.issues[0].line > 1
    cases = {
        "invalid_agent_id": {"name": "call-5551234567"},
        "unknown_field": {"name": "b", "prompt": "x"},
        "invalid_upstream": {"name": "b", "upstream": "https://api.openai.com/v1?key=1"},
        "invalid_agent": {"name": "b", "kid": "bad kid"},
    }
    for code, doc in cases.items():
        with pytest.raises(AgentError) as e:
            parse_agent(doc, ENV)
        assert e.value.code == code, doc
    with pytest.raises(AgentError) as e:
        parse_agent({"name": "b", "kid": "NOKEY"}, ENV)
    assert e.value.issues[0].code == "unknown_kid"
    assert parse_agent({"name": "b", "kid": "NOKEY"}, None).kid == "NOKEY"  # key presence not checked
    with pytest.raises(AgentError, match="name_mismatch|differs"):
        parse_agent({"name": "a"}, ENV, name="b")
    with pytest.raises(AgentError):
        parse_agent({"name": "b", "upstream": "http://api.openai.com"}, ENV)  # plain http only to loopback


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path: Path) -> Iterator[Callable[[], AgentStore]]:
    """Opens another store on one database (another process, another replica)."""
    if request.param == "sqlite":
        yield lambda: SqliteAgentStore(tmp_path / "vault.sqlite")
    else:
        for url in fresh_schema():
            yield functools.partial(PgAgentStore, url)


def test_the_store_creates_updates_and_deletes(open_store: Callable[[], AgentStore]) -> None:
    store = open_store()
    a = store.create(Agent("a-bot", upstream="https://api.openai.com"))
    assert a.updated_at and store.get("a-bot").upstream == "https://api.openai.com"
    with pytest.raises(AgentExists):
        store.create(Agent("a-bot"))
    store.update(Agent("a-bot", kid="TENANT_B"))
    assert store.get("a-bot").upstream is None and store.get("a-bot").kid == "TENANT_B"
    with pytest.raises(KeyError):
        store.update(Agent("nobody"))
    other = open_store()  # another process's view of the same database
    assert [x.name for x in other.list()] == ["a-bot"]
    assert store.delete("a-bot") and not store.delete("a-bot") and other.list() == []
    assert store.get("a-bot") is None
    store.close()
    other.close()


def test_a_change_on_one_replica_notifies_the_others_once_committed(pg_url: str) -> None:
    """Every committed change reaches the listeners of other processes; a refused one sends nothing."""
    heard: queue.Queue[str] = queue.Queue()
    listener = ChangeListener(pg_url, heard.put).start()
    store = PgAgentStore(pg_url)
    try:
        assert listener.listening.wait(10)
        with mock.patch("masker.db.notify.ORIGIN", "another-replica"):  # as if written by another process
            store.create(Agent("a-bot"))
            assert heard.get(timeout=10) == "agents changed on another replica"
            with pytest.raises(AgentExists):
                store.create(Agent("a-bot"))  # refused: no change, no notification
            assert not store.delete("nobody")
            time.sleep(0.6)
            assert heard.empty()
            store.update(Agent("a-bot", kid="TENANT_B"))
            store.delete("a-bot")  # one burst: one reload
            assert heard.get(timeout=10) and (time.sleep(0.5) or heard.empty())
        store.create(Agent("own-bot"))  # this process's own change: it reloaded already
        time.sleep(0.8)
        assert heard.empty()
    finally:
        listener.stop()
        store.close()


def test_the_listener_reloads_after_it_reconnects(pg_url: str) -> None:
    heard: queue.Queue[str] = queue.Queue()
    listener = ChangeListener(pg_url, heard.put).start()
    try:
        assert listener.listening.wait(10)
        with psycopg.connect(pg_url, autocommit=True) as conn:  # the server ends the listening session
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE query LIKE 'LISTEN masker_agents%' AND pid <> pg_backend_pid()")
        assert "unreachable" in heard.get(timeout=15)  # changes may have been missed: reload anyway
    finally:
        listener.stop()


def test_a_catalog_resolves_each_agent_policy_and_names_the_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(SHIPPED)
    agents = [Agent("plain-bot"), Agent("redact-bot", policy_yaml=redacting()), Agent("b-bot", kid="TENANT_B"),
              Agent("pinned-bot", upstream="https://api.openai.com")]
    policies = resolve(read_catalog(path, agents, 1), ENV)
    assert set(policies.by_agent) == {"redact-bot", "b-bot"}  # the others are masked by the global policy
    assert policies.by_agent["b-bot"].kid == "TENANT_B" and policies.by_agent["b-bot"].hash != policies.default.hash
    assert policies.by_agent["redact-bot"].rule("PHONE").action == "redact"
    assert policies.upstreams == {"pinned-bot": "https://api.openai.com"}
    broken = PolicyCatalog(2, str(path), SHIPPED, (Agent("bad-bot", policy_yaml="name: [x"),))
    with pytest.raises(PolicyError) as e:
        resolve(broken, ENV)
    assert e.value.source == "agent bad-bot" and e.value.issues[0].code == "yaml_error"
    with pytest.raises(PolicyError) as e:
        read_catalog(tmp_path / "missing.yaml", [], 3)
    assert e.value.issues[0].code == "file_not_found"


def test_masker_agents_cli_writes_the_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    policy = tmp_path / "own.yaml"
    policy.write_text(redacting())
    data = str(tmp_path / "data")
    assert cli.main(["agents", "create", "intake-bot", "--policy", str(policy), "--data-dir", data]) == 0
    assert "next policy reload" in capsys.readouterr().err
    assert cli.main(["agents", "update", "intake-bot", "--upstream", "https://api.anthropic.com", "--data-dir", data]) == 0
    assert cli.main(["agents", "list", "--data-dir", data]) == 0
    out = capsys.readouterr().out
    assert "intake-bot" in out and "upstream=https://api.anthropic.com" in out and "policy=own" in out
    policy.write_text("entities: [")
    assert cli.main(["agents", "update", "intake-bot", "--policy", str(policy), "--data-dir", data]) == 1
    assert "yaml_error" in capsys.readouterr().err
    assert cli.main(["agents", "delete", "intake-bot", "--yes", "--data-dir", data]) == 0
    assert cli.main(["agents", "show", "intake-bot", "--data-dir", data]) == 1


def test_every_admin_route_is_in_the_openapi_document_and_back() -> None:
    documented = set(yaml.safe_load(admin_app.OPENAPI.read_text())["paths"])
    served = set()
    for pattern, *_ in admin_app.routes(backend=None):
        served.add(re.sub(r"\([^)]*\)", "{param}", pattern.rstrip("$")))
    normalized = {re.sub(r"\{[^}]+\}", "{param}", p) for p in documented}
    assert served == normalized, (served ^ normalized)
