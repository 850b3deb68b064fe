"""The admin API on a real sidecar: policy reload, per-agent policies, SIGHUP, upstream pinning.

``masker run`` in reverse mode with the real engine (a regex-only copy of
the shipped policy, two worker processes: a reload must reach both), the
admin listener on a free port, and the official openai SDK as the client.
The fake upstream records what reached it; no PHI may be among it.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI, PermissionDeniedError

from tests.e2e.phi import values_in
from tests.e2e.sidecar import ROOT, Sidecar, start_admin_sidecar

TOKEN = secrets.token_urlsafe(24)
PHONE = "555-123-4567"
CALL = f"Please call me back at {PHONE} today."  # regex-only policy: no name in it


def _policy_text(action_phone: str = "tokenize") -> str:
    text = (ROOT / "configs" / "mask_policy.yaml").read_text().replace("passes: [regex, ner]", "passes: [regex]")
    if action_phone == "redact":
        text = _set_action(text, "PHONE", "redact")
    return text


def _set_action(text: str, kind: str, action: str) -> str:
    """The policy text with ``kind``'s action replaced (one flow-style line per entity)."""
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith(f"  {kind}:") and "action: " in line]
    assert len(hits) == 1, f"{kind} has no one-line rule in the shipped policy"
    i = hits[0]
    lines[i] = re.sub(r"action: \w+", f"action: {action}", lines[i])
    return "".join(lines)


@pytest.fixture(scope="module")
def admin_sidecar(tmp_path_factory, upstream, upstream_certs) -> Iterator[tuple[Sidecar, int, Path]]:
    data_dir = tmp_path_factory.mktemp("admin")
    policy = data_dir / "policy.yaml"
    policy.write_text(_policy_text())
    with start_admin_sidecar(data_dir, upstream, upstream_certs[0], TOKEN,
                       "--policy", str(policy), "--workers", "2") as (sc, admin_port):
        yield sc, admin_port, policy


def _admin(admin_port: int, method: str, path: str, body: object = None, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"http://127.0.0.1:{admin_port}{path}", headers=headers, timeout=30,
                         trust_env=False, content=None if body is None else json.dumps(body))


def _send(sc: Sidecar, agent: str, text: str, session: str = "admin-e2e") -> None:
    client = OpenAI(api_key="sk-test", base_url=f"{sc.url}/proxy/{agent}/v1", max_retries=0, timeout=30,
                    default_headers={"X-Masker-Session": session}, http_client=httpx.Client(trust_env=False))
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": text}])


def _last_body(upstream) -> str:
    return upstream.received[-1].body.decode()


def test_the_admin_api_needs_the_token(admin_sidecar):
    _, admin_port, _ = admin_sidecar
    for method, path in [("GET", "/api/v1/agents"), ("POST", "/api/v1/admin/policy/reload"), ("GET", "/metrics")]:
        r = _admin(admin_port, method, path, token=None)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert _admin(admin_port, method, path, token="wrong").status_code == 401
    assert _admin(admin_port, "GET", "/api/v1/no-such-thing").json()["error"]["code"] == "not_found"


def test_an_agent_gets_its_own_policy_and_others_keep_the_global_one(admin_sidecar, upstream):
    sc, admin_port, _ = admin_sidecar
    r = _admin(admin_port, "POST", "/api/v1/agents", {"name": "redact-bot", "policy_yaml": _policy_text("redact")})
    assert r.status_code == 201, r.text
    assert r.json()["reload"]["ok"] is True
    listed = _admin(admin_port, "GET", "/api/v1/agents").json()["agents"]
    assert [a["name"] for a in listed] == ["redact-bot"]
    for _ in range(3):  # two workers: every one masks by the new generation
        _send(sc, "redact-bot", CALL)
        body = _last_body(upstream)
        assert "[REDACTED:PHONE]" in body and "MSKV1.PHONE." not in body and not values_in(body)
    _send(sc, "other-bot", CALL)
    body = _last_body(upstream)
    assert "MSKV1.PHONE." in body and not values_in(body)
    state = _admin(admin_port, "GET", "/api/v1/admin/policy").json()
    assert set(state["agents"]) == {"redact-bot"} and state["agents"]["redact-bot"]["hash"] != state["policy"]["hash"]
    assert _admin(admin_port, "DELETE", "/api/v1/agents/redact-bot").status_code == 200
    _send(sc, "redact-bot", CALL)
    assert "MSKV1.PHONE." in _last_body(upstream)


def test_an_invalid_agent_policy_is_refused_with_the_validation_codes(admin_sidecar):
    _, admin_port, _ = admin_sidecar
    bad = _policy_text().replace("tokenization: vault-deterministic", "tokenization: rot13")
    r = _admin(admin_port, "POST", "/api/v1/agents", {"name": "bad-bot", "policy_yaml": bad})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_policy"
    assert error["issues"] and all({"code", "path", "line"} <= set(i) for i in error["issues"])
    assert any(i["path"] == "tokenization" and i["line"] > 1 for i in error["issues"])
    assert _admin(admin_port, "GET", "/api/v1/agents/bad-bot").status_code == 404
    assert _admin(admin_port, "POST", "/api/v1/agents", {"name": "555-123-4567"}).json()["error"]["code"] == "invalid_agent_id"


def test_reload_swaps_the_policy_and_an_invalid_file_keeps_the_running_one(admin_sidecar, upstream):
    sc, admin_port, policy = admin_sidecar
    before = _admin(admin_port, "GET", "/api/v1/admin/policy").json()
    policy.write_text(_policy_text("redact"))
    r = _admin(admin_port, "POST", "/api/v1/admin/policy/reload")
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert r.json()["generation"] > before["generation"] and r.json()["old_hash"] == before["policy"]["hash"]
    for _ in range(3):
        _send(sc, "any-bot", CALL)
        assert "[REDACTED:PHONE]" in _last_body(upstream)
    new_hash = r.json()["new_hash"]
    loaded = [e for e in sc.journal() if e["kind"] == "policy_loaded" and e.get("policy_hash") == new_hash]
    assert loaded and loaded[-1]["detail"]["previous_hash"] == before["policy"]["hash"]

    policy.write_text(_policy_text().replace("version: 1", "version: [1]"))
    r = _admin(admin_port, "POST", "/api/v1/admin/policy/reload")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_policy"
    assert any(i["path"] == "version" and i["line"] > 1 for i in r.json()["issues"])
    _send(sc, "any-bot", CALL)
    assert "[REDACTED:PHONE]" in _last_body(upstream)  # the running (redacting) policy stayed
    policy.write_text(_policy_text())
    assert _admin(admin_port, "POST", "/api/v1/admin/policy/reload").status_code == 200


def test_sighup_reloads_the_policy_file(admin_sidecar, upstream):
    sc, admin_port, policy = admin_sidecar
    generation = _admin(admin_port, "GET", "/api/v1/admin/policy").json()["generation"]
    policy.write_text(_policy_text("redact"))
    sc.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while _admin(admin_port, "GET", "/api/v1/admin/policy").json()["generation"] == generation:
        assert time.monotonic() < deadline, sc.log_text()[-2000:]
        time.sleep(0.2)
    _send(sc, "any-bot", CALL)
    assert "[REDACTED:PHONE]" in _last_body(upstream)
    assert "policy reloaded (SIGHUP)" in sc.log_text()
    policy.write_text(_policy_text())
    assert _admin(admin_port, "POST", "/api/v1/admin/policy/reload").status_code == 200


def test_an_agent_reaches_only_its_upstream(admin_sidecar, upstream):
    sc, admin_port, _ = admin_sidecar
    own = {"name": "pinned-bot", "upstream": f"https://127.0.0.1:{upstream.port}"}
    assert _admin(admin_port, "POST", "/api/v1/agents", own).status_code == 201
    _send(sc, "pinned-bot", CALL)
    assert "MSKV1.PHONE." in _last_body(upstream)
    elsewhere = {"name": "elsewhere-bot", "upstream": "https://api.example.org"}
    assert _admin(admin_port, "POST", "/api/v1/agents", elsewhere).status_code == 201
    count = len(upstream.received)
    with pytest.raises(PermissionDeniedError) as refused:
        _send(sc, "elsewhere-bot", CALL)
    assert refused.value.status_code == 403 and refused.value.body["code"] == "upstream_not_allowed"
    assert len(upstream.received) == count
    bad = _admin(admin_port, "POST", "/api/v1/agents", {"name": "x-bot", "upstream": "http://api.openai.com/v1"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_upstream"
    for name in ("pinned-bot", "elsewhere-bot"):
        assert _admin(admin_port, "DELETE", f"/api/v1/agents/{name}").status_code == 200


def test_the_openapi_document_is_served(admin_sidecar):
    _, admin_port, _ = admin_sidecar
    r = _admin(admin_port, "GET", "/api/v1/openapi.yaml", token=None)
    assert r.status_code == 200 and "/api/v1/admin/policy/reload" in r.text
