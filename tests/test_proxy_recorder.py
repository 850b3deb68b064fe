"""The audit recorder: after-the-fact events journaled in batches, off the loop, latched on failure."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from mitmproxy.test import taddons, tflow

from masker.audit.events import REHYDRATION, REQUEST_FORWARDED, AuditUnavailable, Event
from masker.proxy import identity
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.masking import MASKED_KEY, Masking
from masker.proxy.options import MaskerOptions
from masker.proxy.recorder import AuditRecorder
from masker.scope import Scope


class _Sink:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail
        self.threads: set[str] = set()

    def __call__(self, events) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise AuditUnavailable("disk full")
        self.batches.append([e.kind + (f":{e.session}" if e.session else "") for e in events])


def test_held_forward_event_is_journaled_with_the_response_events_in_one_append():
    sink = _Sink()
    rec = AuditRecorder(sink, window=0)
    rec.hold("flow-1", Event(kind=REQUEST_FORWARDED, session="a"))
    assert rec.flush(5) and sink.batches == []  # held, not queued: nothing to append yet
    assert rec.pending == 1
    rec.release("flow-1", [Event(kind=REHYDRATION, session="a"), Event(kind=REHYDRATION, session="a")])
    assert rec.flush(5)
    assert sink.batches == [["request_forwarded:a", "rehydration:a", "rehydration:a"]]
    assert sink.threads == {"masker-audit-recorder"}  # never the caller's (event loop) thread
    rec.close()


def test_window_batches_concurrent_requests_into_one_append():
    sink = _Sink()
    rec = AuditRecorder(sink, window=2.0)
    for i in range(3):
        rec.record([Event(kind=REHYDRATION, session=str(i))])
    assert rec.flush(5)  # a flush does not wait out the window
    assert sink.batches == [["rehydration:0", "rehydration:1", "rehydration:2"]]
    rec.close()


def test_close_appends_held_and_queued_events():
    sink = _Sink()
    rec = AuditRecorder(sink, window=5.0)
    rec.hold("in-flight", Event(kind=REQUEST_FORWARDED, session="x"))
    rec.record([Event(kind=REHYDRATION, session="y")])
    rec.close()
    assert sorted(k for b in sink.batches for k in b) == ["rehydration:y", "request_forwarded:x"]
    rec.record([Event(kind=REHYDRATION)])  # after close: refused (logged), never silently queued forever
    assert rec.pending == 0


def test_failed_append_latches_and_the_next_request_is_refused():
    rec = AuditRecorder(_Sink(fail=True), window=0)
    rec.record([Event(kind=REHYDRATION)])
    assert rec.flush(5)
    assert rec.failure and "AuditUnavailable" in rec.failure

    class Engine:
        class policy:
            name, hash, media = "p", "h", "block"

        def policy_for(self, agent):
            return self.policy

        def mask_texts(self, fields, scope, notes=None):
            return [f.text for f in fields]

    masking = Masking(lambda: Engine(), lambda: rec)
    with taddons.context(MaskerOptions(), masking):
        f = tflow.tflow()
        f.request.host, f.request.port, f.request.scheme = "api.openai.com", 443, "https"
        f.request.headers["content-type"] = "application/json"
        f.request.content = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
        f.metadata[identity.SCOPE_KEY] = Scope()
        asyncio.run(masking.request(f))
    assert f.response is not None and f.response.status_code == 503
    assert json.loads(f.response.content)["error"]["code"] == "audit_unavailable"
    assert not f.metadata.get(MASKED_KEY)
    rec.close()


def test_engine_holder_drains_the_recorder_before_closing_the_runtime(tmp_path, monkeypatch):
    monkeypatch.delenv("MASKER_ENV", raising=False)
    holder = EngineHolder()  # the real runtime (dev keys in the data dir)
    with taddons.context(MaskerOptions(), holder) as tctx:
        tctx.options.update(masker_data_dir=str(tmp_path), masker_audit_window="5", masker_workers=0)
        holder.running()
        assert holder.unready() is None
        holder.recorder.hold("f", Event(kind=REQUEST_FORWARDED, session="held-session"))
        holder.done()  # the window is 5 s: only a drain before the journal closes can append it
    journaled = [json.loads(line) for f in sorted((tmp_path / "journal").glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert any(e.get("kind") == REQUEST_FORWARDED and e.get("session") == "held-session" for e in journaled), journaled[-3:]
