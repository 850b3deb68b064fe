"""The real audit journal behind the sidecar: fail closed when it breaks, complete after a clean shutdown.

Each test starts its own real-engine sidecar (it breaks or stops it).
"""

from __future__ import annotations

import json
import uuid

import httpx

from masker.audit.keys import audit_key_from_env
from masker.audit.verify import verify_journal
from tests.e2e.phi import CALL, values_in
from tests.e2e.sidecar import KEYS, REAL_ENGINE, free_port, mitmdump_cmd, start_sidecar, stop_sidecar

URL = "https://api.openai.com/v1/chat/completions"
BODY = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": CALL}]}).encode()


def _post(sc, session: str) -> httpx.Response:
    with httpx.Client(proxy=sc.url, verify=False, trust_env=False, timeout=30) as c:
        return c.post(URL, content=BODY, headers={"content-type": "application/json", "x-masker-session": session})


def _sidecar(tmp_path, upstream, upstream_certs, *extra: str):
    port = free_port()
    return start_sidecar(mitmdump_cmd(port, tmp_path, upstream_certs[0], REAL_ENGINE, *extra), tmp_path, port, upstream, reverse=False)


def test_journal_down_refuses_with_503_and_forwards_nothing(tmp_path, upstream, upstream_certs):
    sid = uuid.uuid4().hex
    with _sidecar(tmp_path, upstream, upstream_certs) as sc:
        assert _post(sc, sid).status_code == 200
        sc.wait_journal(lambda evs: any(e["kind"] == "request_forwarded" and e["session"] == sid for e in evs))
        journal = tmp_path / "journal"
        journal.rename(tmp_path / "journal.moved")
        journal.write_text("the journal directory is gone\n")  # every later append fails
        upstream.received.clear()
        for _ in range(2):  # the journal latches: refused again, not retried
            r = _post(sc, sid)
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "audit_unavailable"
            assert r.json()["error"]["type"] == "AuditUnavailable"
        with httpx.Client(proxy=sc.url, trust_env=False, timeout=10) as c:
            ready = c.get("http://masker.local/readyz")
        assert ready.status_code == 503 and "audit journal unavailable" in ready.json()["reason"]
        assert upstream.received == []
        assert values_in(sc.log_text()) == []


def test_clean_shutdown_journals_every_held_event(tmp_path, upstream, upstream_certs):
    """A long batching window keeps request_forwarded/rehydration events queued; SIGTERM must append them."""
    sid = uuid.uuid4().hex
    with _sidecar(tmp_path, upstream, upstream_certs, "--set", "masker_audit_window=5") as sc:
        for _ in range(3):
            assert _post(sc, sid).status_code == 200
        queued = [e["kind"] for e in sc.journal() if e.get("session") == sid]
        assert "redaction_applied" in queued  # durable before forwarding
        assert "request_forwarded" not in queued and "rehydration" not in queued  # still in the recorder
        stop_sidecar(sc)
        assert sc.proc.returncode == 0
    events = [e for e in sc.journal() if e.get("session") == sid]
    assert [e["kind"] for e in events].count("request_forwarded") == 3
    assert [e["kind"] for e in events].count("rehydration") == 6  # NAME and PHONE, three times
    result = verify_journal(tmp_path / "journal", audit_key_from_env(KEYS))
    assert result.ok, result.message
    assert values_in(json.dumps(sc.journal())) == []
