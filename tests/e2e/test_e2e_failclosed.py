"""What never reaches upstream, and what the client sees instead (curl + httpx).

Real engine (``sidecar``) unless a failure must be injected (``fake_sidecar``
with the fake engine's marker words).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import threading
import time
import uuid

import httpx
import pytest

from tests.e2e.fake_engine import PHI as FAKE_PHI
from tests.e2e.fake_engine import REHYDRATE_BOMB
from tests.e2e.fake_upstream import REPLAY_PREVIOUS
from tests.e2e.phi import CALL, values_in
from tests.e2e.sidecar import REAL_ENGINE, ROOT, free_port, mitmdump_cmd, request_events, sidecar_env

URL = "https://api.openai.com/v1/chat/completions"
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": CALL}]}
FAKE_BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "Call John Smith at 555-123-4567."}]}


def _post(sidecar, bundle, content: bytes, headers: dict[str, str] | None = None, url: str = URL) -> httpx.Response:
    h = {"content-type": "application/json", **(headers or {})}
    with httpx.Client(proxy=sidecar.url, verify=str(bundle), timeout=30, trust_env=False) as c:
        return c.post(url, content=content, headers=h)


def _error(resp: httpx.Response) -> dict:
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()["error"]


def _chat(text: str) -> bytes:
    return json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": text}]}).encode()


def _session() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_through_proxy(sidecar, bundle, upstream):
    sid = _session()
    out = subprocess.run(
        ["curl", "-sS", "--proxy", sidecar.url, "--cacert", str(bundle), "-H", "content-type: application/json",
         "-H", "x-masker-agent: curl-bot", "-H", f"x-masker-session: {sid}", "--data-binary", json.dumps(BODY), URL],
        capture_output=True, check=True, timeout=30,
    )
    assert json.loads(out.stdout)["choices"][0]["message"]["content"] == "Echo: " + CALL
    assert values_in(upstream.bodies().decode()) == []
    assert request_events(sidecar, sid)[0]["agent"] == "curl-bot"


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"model": "gpt", "messages": [', {}, 400, "invalid_json"),
        (b"Maria Lopez", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"\x1f\x8bnot really gzip Maria Lopez", {"content-encoding": "gzip"}, 400, "bad_encoding"),
        (_chat("x" * 70_000), {}, 413, "body_too_large"),
        (gzip.compress(_chat("Maria Lopez " + "y" * 200_000)), {"content-encoding": "gzip"}, 413, "body_too_large"),
    ],
    ids=["malformed-json", "text-plain", "corrupt-gzip", "oversized", "gzip-bomb"],
)
def test_refused_requests_never_reach_upstream(sidecar, bundle, upstream, content, headers, status, code):
    r = _post(sidecar, bundle, content, headers)
    assert r.status_code == status
    assert _error(r)["code"] == code
    assert upstream.received == []


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [("FAIL_CRASH", 502, "masking_failed"), ("FAIL_AUDIT", 503, "audit_unavailable"), ("TIMEOUT_PLEASE", 503, "detect_timeout")],
    ids=["engine-crash", "audit-down", "timeout"],
)
def test_injected_engine_failures_never_reach_upstream(fake_sidecar, bundle, upstream, marker, status, code):
    r = _post(fake_sidecar, bundle, _chat(f"John Smith {marker}"))
    assert r.status_code == status
    assert _error(r)["code"] == code
    assert upstream.received == []


def test_body_over_hard_limit_gets_413(sidecar, bundle, upstream):
    r = _post(sidecar, bundle, _chat("Maria Lopez " + "z" * 200_000))
    assert r.status_code == 413
    assert upstream.received == []


def test_gzip_request_body_is_decoded_and_masked(sidecar, bundle, upstream):
    r = _post(sidecar, bundle, gzip.compress(json.dumps(BODY).encode()), {"content-encoding": "gzip"})
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "Echo: " + CALL
    rec = upstream.received[-1]
    assert "content-encoding" not in {k.lower() for k in rec.headers}
    assert b"MSKV1.NAME." in rec.body and values_in(rec.body.decode()) == []


def test_foreign_session_token_is_redacted(sidecar, bundle, upstream):
    """The upstream hands alice's tokens to bob: bob gets placeholders, never alice's values."""
    alice, bob = _session(), _session()
    r = _post(sidecar, bundle, json.dumps(BODY).encode(), {"x-masker-session": alice})
    assert r.json()["choices"][0]["message"]["content"] == "Echo: " + CALL
    other = _post(sidecar, bundle, _chat(f"Who called? {REPLAY_PREVIOUS}"), {"x-masker-session": bob})
    assert other.json()["choices"][0]["message"]["content"] == "Echo: Call [REDACTED:NAME] at [REDACTED:PHONE]."
    failed = request_events(sidecar, bob, ("request_forwarded", "rehydration_failed"))
    assert {e["entity_kind"] for e in failed if e["kind"] == "rehydration_failed"} == {"NAME", "PHONE"}
    assert all(e["reason"] for e in failed if e["kind"] == "rehydration_failed")


def test_token_sent_back_by_the_app_passes_unchanged(sidecar, bundle, upstream):
    sid = _session()
    _post(sidecar, bundle, json.dumps(BODY).encode(), {"x-masker-session": sid})
    token = json.loads(upstream.received[-1].body)["messages"][0]["content"].split()[1]
    assert token.startswith("MSKV1.NAME.")
    r = _post(sidecar, bundle, _chat(f"Again {token}"), {"x-masker-session": sid})
    assert json.loads(upstream.received[-1].body)["messages"][0]["content"] == f"Again {token}"
    assert r.json()["choices"][0]["message"]["content"] == "Echo: Again Maria Lopez"


def test_slow_request_does_not_stall_others(fake_sidecar, bundle, upstream):
    done: dict[str, float] = {}

    def slow() -> None:
        _post(fake_sidecar, bundle, _chat("John Smith SLOW_PLEASE"))
        done["slow"] = time.monotonic()

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.15)
    r = _post(fake_sidecar, bundle, json.dumps(FAKE_BODY).encode())
    done["fast"] = time.monotonic()
    t.join(20)
    assert r.status_code == 200
    assert done["fast"] < done["slow"]


def test_health_endpoints_answered_locally(sidecar, reverse_sidecar, upstream):
    with httpx.Client(proxy=sidecar.url, trust_env=False) as c:
        assert c.get("http://masker.local/healthz").json() == {"status": "ok"}
        assert c.get("http://masker.local/readyz").status_code == 200
    assert httpx.get(f"{sidecar.url}/healthz", trust_env=False).json() == {"status": "ok"}
    assert httpx.get(f"{reverse_sidecar.url}/healthz", trust_env=False).json() == {"status": "ok"}
    assert httpx.post(f"{reverse_sidecar.url}/audit/verify", trust_env=False).status_code == 403
    assert upstream.received == []


def test_non_llm_host_is_tunnelled_untouched(sidecar, upstream, upstream_certs):
    """other.example is not an LLM host: its real certificate reaches the client
    (the client trusts only the upstream CA, not Masker's) and the body is not touched."""
    body = json.dumps(BODY).encode()
    with httpx.Client(proxy=sidecar.url, verify=str(upstream_certs[0]), trust_env=False, timeout=20) as c:
        r = c.post("https://other.example/v1/echo", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert upstream.received[-1].body == body


def test_engine_unavailable_at_start_up_exits_and_forwards_nothing(tmp_path, upstream, upstream_certs):
    """The real engine cannot be built (the policy file is missing): the sidecar
    exits 1 naming the file and never listens, so nothing can be forwarded. (A
    rebuild failing after start answers 503: tests/test_proxy_cli.py.)"""
    port = free_port()
    cmd = mitmdump_cmd(port, tmp_path, upstream_certs[0], REAL_ENGINE, "--set", f"masker_policy={tmp_path / 'missing.yaml'}")
    log = tmp_path / "sidecar.log"
    with log.open("wb") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=sidecar_env(upstream), stdout=out, stderr=subprocess.STDOUT, timeout=60)
    text = log.read_text(errors="replace")
    assert proc.returncode == 1, text[-2000:]
    assert "policy file not found" in text
    assert upstream.received == []
    assert values_in(text) == []


def test_rehydration_failure_is_a_502_not_a_leak(fake_sidecar, bundle, upstream):
    r = _post(fake_sidecar, bundle, _chat(f"John Smith {REHYDRATE_BOMB}"))
    assert r.status_code == 502
    assert _error(r)["code"] == "rehydration_failed"


def test_rehydration_failure_mid_stream_kills_the_stream(fake_sidecar, bundle, upstream):
    """Text before the failure may arrive; the stream then breaks off, never passes on corrupted."""
    prompt = "John Smith says hello to everyone here " + REHYDRATE_BOMB
    doc = {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    received = b""
    with httpx.Client(proxy=fake_sidecar.url, verify=str(bundle), timeout=20, trust_env=False) as c:
        with pytest.raises(httpx.HTTPError):
            with c.stream("POST", URL, content=json.dumps(doc).encode(), headers={"content-type": "application/json"}) as r:
                assert r.status_code == 200
                for chunk in r.iter_bytes():
                    received += chunk
    assert b"[DONE]" not in received
    assert REHYDRATE_BOMB.encode() not in received


def test_sidecar_logs_carry_no_phi(sidecar, reverse_sidecar, fake_sidecar):
    """Runs last in this file: everything above went through these sidecars."""
    for sc in (sidecar, reverse_sidecar):
        log = sc.log_text()
        assert "masker refused" in log or sc is reverse_sidecar
        assert values_in(log) == []
        events = sc.journal()
        assert events and values_in(json.dumps(events)) == []
    log = fake_sidecar.log_text()
    assert "masker refused" in log
    assert all(value not in log for value in FAKE_PHI)
    assert all(value not in json.dumps(fake_sidecar.journal()) for value in FAKE_PHI)


def test_phi_in_query_string_is_masked_before_upstream(sidecar, bundle, upstream):
    """An intercepted host's query string goes upstream too (and into its logs)."""
    from urllib.parse import quote

    r = _post(sidecar, bundle, json.dumps(BODY).encode(), url=f"{URL}?note={quote(CALL)}&api-version=2024-10-21")
    assert r.status_code == 200
    rec = upstream.received[-1]
    assert values_in(rec.path) == [] and values_in(httpx.URL(rec.path).params["note"]) == []
    assert "MSKV1." in httpx.URL(rec.path).params["note"] and "api-version=2024-10-21" in rec.path
