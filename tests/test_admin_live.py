"""The live firewall view: its bounded buffer, the capture addon, and the admin handlers.

A real masking engine (regex pass, real vault) masks synthetic values, so
the view's rehydration at view time is the engine's own; the handlers run
in a real tornado application. Assertions name kinds, never print values.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tornado.testing
from mitmproxy.test import taddons, tflow, tutils
from nacl.signing import SigningKey

from masker.admin import app as admin_app
from masker.admin.auth import COOKIE
from masker.admin.journal_view import JournalView
from masker.admin.live import QUEUE_SIZE, LiveBuffer, ResponseCopy, render_turn
from masker.admin.sessions_api import merge_sessions
from masker.admin.view import display_rehydrate
from masker.audit.events import Event, MemorySink
from masker.audit.journal import Journal
from masker.detect.cache import DetectionCache
from masker.detect.pipeline import Detector
from masker.engine import SpanNote, TextField
from masker.masking import MaskingEngine
from masker.policy.load import default_policy_path, load_policy
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.live_capture import LiveCapture
from masker.proxy.masking import LLM_KEY, MASKED_KEY, SPANS_KEY
from masker.proxy.options import MaskerOptions
from masker.proxy.recorder import AuditRecorder
from masker.proxy.rehydration import Rehydration
from masker.scope import Scope
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import Keyring
from masker.tokens.rehydrate import Rehydrator
from masker.tokens.scheme import TOKEN_RE
from masker.tokens.vault import Vault

ENV = {"MASKER_KEY_K_HEALTHCARE": base64.b64encode(b"v" * 32).decode()}
SCOPE = Scope("intake-bot", "live-1")
PHONE = "415-555-0142"  # synthetic
SSN = "123-45-6789"  # synthetic
TOKEN = "test-admin-token"
AUDIT_KEY = bytes(range(32))
SIGNING = SigningKey(bytes(32))


def make_engine(tmp_path: Path, sink: MemorySink | None = None) -> MaskingEngine:
    policy = replace(load_policy(default_policy_path(), ENV), passes=("regex",))
    keyring = Keyring.from_env(ENV)
    vault = Vault(tmp_path / "vault.sqlite", keyring)
    return MaskingEngine(policy, Detector(policy, cache=DetectionCache()), TokenApplier(policy, keyring, vault),
                         Rehydrator(keyring, vault, policy), sink if sink is not None else MemorySink())


def masked_chat(engine: MaskingEngine, text: str, scope: Scope = SCOPE) -> tuple[bytes, str, list[dict[str, Any]]]:
    notes: list[SpanNote] = []
    [masked] = engine.mask_texts([TextField(text, "user", "messages/0/content")], scope, notes)
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": masked}]}).encode()
    return body, masked, [n.to_json() for n in notes]


# -- the buffer ---------------------------------------------------------------


def test_turns_per_session_and_sessions_are_bounded_oldest_first() -> None:
    buf = LiveBuffer(max_sessions=2, max_turns=3)
    for _ in range(5):
        buf.open_turn(Scope("a", "s1"), "POST", "/v1/chat/completions", "/v1/chat/completions", b"{}", [])
    assert [t.id for t in buf.turns("s1")] == [3, 4, 5]
    buf.open_turn(Scope("a", "s2"), "POST", "/r", "/r", b"{}", [])
    buf.open_turn(Scope("a", "s1"), "POST", "/r", "/r", b"{}", [])  # s1 is now the most recent
    buf.open_turn(Scope("a", "s3"), "POST", "/r", "/r", b"{}", [])
    assert [s["session"] for s in buf.sessions()] == ["s3", "s1"]  # s2 was least recently active
    assert buf.turn(6) is None  # s2's turn is forgotten


def test_kept_bytes_are_bounded_and_counted_back_when_dropped() -> None:
    buf = LiveBuffer(max_bytes=20_000)
    for _ in range(10):
        buf.open_turn(Scope("a", "s"), "POST", "/r", "/r", b"x" * 4000, [])
    assert buf.kept_bytes <= 20_000
    assert len(buf.turns("s")) == buf.kept_bytes // (4000 + 512)
    big = b"x" * (300 * 1024)  # over MAX_REQUEST_BYTES: not kept, its size is
    turn = buf.turn(buf.open_turn(Scope("a", "t"), "POST", "/r", "/r", big, []))
    assert turn is not None and turn.body is None and turn.body_size == len(big)
    assert "too large" in render_turn(turn, None)["request_note"]


def test_response_copy_is_bounded_and_marked_truncated() -> None:
    copy = ResponseCopy("text/event-stream", limit=10)
    copy.add(b"123456")
    copy.add(b"7890ab")
    assert bytes(copy.data) == b"1234567890" and copy.truncated


def test_a_page_that_does_not_read_is_dropped_never_blocks() -> None:
    async def run() -> None:
        buf = LiveBuffer()
        slow, fast = buf.subscribe(), buf.subscribe()
        for _ in range(QUEUE_SIZE + 5):
            buf.open_turn(Scope("a", "s"), "POST", "/r", "/r", b"{}", [])
            while not fast.queue.empty():
                fast.queue.get_nowait()
        assert slow.overflowed and not slow.active
        assert fast.active
        fast.close()
        assert not fast.active and fast.queue.get_nowait() == ("", 0)  # the reader is woken

    asyncio.run(run())


def test_blocked_turn_keeps_the_code_and_no_text() -> None:
    buf = LiveBuffer()
    turn = buf.turn(buf.blocked(SCOPE, "POST", "/v1/chat/completions", "residual_phi", 502))
    assert turn is not None and turn.body is None and turn.upstream == b""
    doc = render_turn(turn, None)
    assert doc["blocked"] == "residual_phi" and doc["request"] == [] and doc["response"] is None
    assert {"type": "blocked", "code": "residual_phi"} in doc["chips"]


def test_render_turn_rehydrates_at_view_time_in_the_turns_scope_only(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    body, masked, spans = masked_chat(engine, f"Call me on {PHONE}, SSN {SSN}.")
    assert PHONE not in masked and len(TOKEN_RE.findall(masked)) == 2
    buf = LiveBuffer()
    turn = buf.turn(buf.open_turn(SCOPE, "POST", "/v1/chat/completions", "/v1/chat/completions", body, spans))
    assert turn is not None
    assert PHONE.encode() not in (turn.body or b"")  # the buffer holds the public side only
    [field] = render_turn(turn, display_rehydrate(engine))["request"]
    assert field["role"] == "user" and field["path"] == "messages/0/content"
    assert field["public"] == masked
    assert PHONE in field["regulated"] and SSN in field["regulated"]
    other = replace(turn, session="live-2")  # a turn claiming another session gets no values
    [field] = render_turn(other, display_rehydrate(engine))["request"]
    assert PHONE not in field["regulated"] and "[REDACTED:PHONE]" in field["regulated"]
    assert {c["kind"] for c in render_turn(turn, None)["chips"]} == {"PHONE", "SSN"}
    assert render_turn(turn, None)["request"][0]["regulated"] is None  # no engine: no values


def test_view_time_rehydration_is_not_journaled(tmp_path: Path) -> None:
    sink = MemorySink()
    engine = make_engine(tmp_path, sink)
    body, _, spans = masked_chat(engine, f"Call {PHONE}.")
    before = len(sink.events)
    buf = LiveBuffer()
    turn = buf.turn(buf.open_turn(SCOPE, "POST", "/v1/chat/completions", "/v1/chat/completions", body, spans))
    assert turn is not None
    render_turn(turn, display_rehydrate(engine))
    assert len(sink.events) == before


# -- the capture addon, with the real Rehydration addon ------------------------


def _masked_flow(engine: MaskingEngine, text: str, response: bytes, content_type: str = "application/json"):
    body, masked, spans = masked_chat(engine, text)
    flow = tflow.tflow(req=tutils.treq(host="api.openai.com", path="/v1/chat/completions", content=body))
    flow.metadata.update({SCOPE_KEY: SCOPE, LLM_KEY: True, MASKED_KEY: True, SPANS_KEY: spans})
    return flow, masked, response.replace(b"@MASKED@", masked.encode())


def _recording_buffer() -> LiveBuffer:
    """A buffer as the admin listener leaves it while it serves the view."""
    buf = LiveBuffer()
    buf.recording = True
    return buf


def test_nothing_is_captured_while_no_admin_listener_serves_the_view(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    capture = LiveCapture(LiveBuffer())  # recording is off until the listener is up
    flow, _, _ = _masked_flow(engine, f"Call {PHONE}.", b"{}")
    with taddons.context(MaskerOptions(), capture):
        capture.request(flow)
    assert capture.buffer.sessions() == [] and capture.buffer.turns(SCOPE.session) == []


def test_capture_keeps_the_upstream_text_and_the_rehydration_outcomes(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    capture = LiveCapture(_recording_buffer())
    recorder = AuditRecorder(engine.record)
    rehydration = Rehydration(lambda: engine, lambda: recorder, tap=capture.upstream)
    flow, masked, upstream = _masked_flow(
        engine, f"Call {PHONE}.",
        b'{"choices":[{"message":{"role":"assistant","content":"Calling @MASKED@ now"}}]}')
    with taddons.context(MaskerOptions(), rehydration, capture):
        capture.request(flow)
        flow.response = tutils.tresp(content=upstream, headers=((b"content-type", b"application/json"),))
        asyncio.run(rehydration.response(flow))
        capture.response(flow)
    recorder.close()
    assert PHONE.encode() in flow.response.content  # the client got the value
    [turn] = capture.buffer.turns(SCOPE.session)
    assert turn.done and turn.outcome == "forwarded" and turn.status == 200
    assert turn.upstream == upstream and PHONE.encode() not in turn.upstream  # public side only
    assert turn.rehydrated == {"PHONE": 1} and turn.failed == {}
    doc = render_turn(turn, display_rehydrate(engine))
    assert doc["response"]["public"] == f"Calling {masked} now"
    assert PHONE in doc["response"]["regulated"]
    assert {"type": "rehydrated", "kind": "PHONE", "count": 1} in doc["chips"]


def test_capture_reads_streamed_text_and_failed_rehydrations(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    capture = LiveCapture(_recording_buffer())
    recorder = AuditRecorder(engine.record)
    rehydration = Rehydration(lambda: engine, lambda: recorder, tap=capture.upstream)
    _, foreign, _ = masked_chat(engine, f"SSN {SSN}", Scope("intake-bot", "someone-else"))
    flow, masked, _ = _masked_flow(engine, f"Call {PHONE}.", b"")
    half = len(masked) // 2
    events = [masked[:half], masked[half:] + " and " + foreign]
    sse = b"".join(b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": e}}]}).encode() + b"\n\n"
                   for e in events) + b"data: [DONE]\n\n"
    with taddons.context(MaskerOptions(), rehydration, capture):
        capture.request(flow)
        flow.response = tutils.tresp(content=b"", headers=((b"content-type", b"text/event-stream"),))
        rehydration.responseheaders(flow)
        stream = flow.response.stream
        assert callable(stream)
        sent = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in (stream(sse[:40]), stream(sse[40:]), stream(b"")))
        asyncio.run(rehydration.response(flow))
        capture.response(flow)
    recorder.close()
    assert PHONE.encode() in sent and SSN.encode() not in sent
    [turn] = capture.buffer.turns(SCOPE.session)
    assert turn.upstream == sse and turn.upstream_mime == "text/event-stream"
    assert turn.rehydrated == {"PHONE": 1} and turn.failed == {"SSN": 1}
    doc = render_turn(turn, display_rehydrate(engine))
    assert doc["response"]["public"] == masked + " and " + foreign  # the streamed text, tokens joined again
    assert PHONE in doc["response"]["regulated"] and SSN not in doc["response"]["regulated"]


def test_capture_records_a_refused_request_without_its_body(tmp_path: Path) -> None:
    capture = LiveCapture(_recording_buffer())
    flow = tflow.tflow(req=tutils.treq(host="api.openai.com", path="/v1/chat/completions",
                                       content=json.dumps({"messages": [{"content": f"SSN {SSN}"}]}).encode()))
    flow.metadata.update({SCOPE_KEY: SCOPE, LLM_KEY: True, "masker_refused": "residual_phi"})
    flow.response = tutils.tresp(status_code=502)
    capture.request(flow)
    capture.response(flow)
    [turn] = capture.buffer.turns(SCOPE.session)
    assert turn.blocked == "residual_phi" and turn.body is None and turn.status == 502
    unscoped = tflow.tflow(req=tutils.treq(host="api.openai.com"))
    unscoped.metadata.update({LLM_KEY: True, "masker_refused": "invalid_session_id"})
    unscoped.response = tutils.tresp(status_code=400)
    capture.request(unscoped)  # a refused id may hold PHI: no turn at all
    assert [s["session"] for s in capture.buffer.sessions()] == [SCOPE.session]


# -- the journal view -----------------------------------------------------------


def _journal(tmp_path: Path, events: list[Event]) -> Path:
    directory = tmp_path / "journal"
    with Journal(directory, AUDIT_KEY, SIGNING, checkpoint_dir=tmp_path / "checkpoints") as journal:
        journal.append(events)
    return directory


def test_journal_view_reads_sessions_incrementally_and_events_per_session(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    journal = Journal(directory, AUDIT_KEY, SIGNING, checkpoint_dir=tmp_path / "checkpoints")
    journal.append([Event(kind="detection", agent="a", session="s1", entity_kind="PHONE"),
                    Event(kind="request_forwarded", agent="a", session="s1")])
    view = JournalView(directory, AUDIT_KEY, SIGNING.verify_key)
    [s1] = view.sessions()
    assert s1["session"] == "s1" and s1["events"] == 2 and s1["kinds"] == {"detection": 1, "request_forwarded": 1}
    journal.append([Event(kind="request_blocked", agent="b", session="s2", reason="residual_phi")])
    sessions = view.sessions()
    assert [s["session"] for s in sessions] == ["s2", "s1"] and sessions[1]["events"] == 2  # not counted twice
    doc = view.events("s1")
    assert doc["count"] == 2 and [e["kind"] for e in doc["events"]] == ["detection", "request_forwarded"]
    assert "curr_hash" not in doc["events"][0] and doc["events"][0]["seq"] >= 0
    journal.close()


def test_journal_view_refuses_a_journal_that_does_not_verify(tmp_path: Path) -> None:
    from masker.admin.journal_view import JournalUnreadable

    directory = _journal(tmp_path, [Event(kind="detection", agent="a", session="s1")])
    [path] = sorted(directory.glob("events-*.jsonl"))
    path.write_bytes(path.read_bytes().replace(b'"s1"', b'"s9"'))
    with pytest.raises(JournalUnreadable):
        JournalView(directory, AUDIT_KEY, SIGNING.verify_key).events("s1")


def test_merge_sessions_joins_both_sources_most_recent_first() -> None:
    view = [{"session": "s1", "live": True, "turns": 2, "last_ts": "2026-01-01T10:00:00.000Z"}]
    journal = [{"session": "s0", "events": 3, "last_ts": "2026-01-01T09:00:00.000Z"},
               {"session": "s1", "events": 5, "last_ts": "2026-01-01T09:59:00.000Z"}]
    merged = merge_sessions(view, journal)
    assert [m["session"] for m in merged] == ["s1", "s0"]
    assert merged[0]["live"] and merged[0]["view"]["turns"] == 2 and merged[0]["journal"]["events"] == 5
    assert merged[1]["view"] is None and not merged[1]["live"]


# -- the handlers ---------------------------------------------------------------


class _Backend:
    """The ``AdminBackend`` parts the view and sessions API use, over a real buffer, engine and journal."""

    admin_token = TOKEN
    cookie_value = "cookie-value"

    def __init__(self, engine: MaskingEngine, journal: JournalView) -> None:
        self._engine, self._journal, self._live = engine, journal, LiveBuffer()

    def live(self) -> LiveBuffer:
        return self._live

    def engine(self) -> MaskingEngine:
        return self._engine

    def journal(self) -> JournalView:
        return self._journal

    def session_report(self, session: str) -> dict[str, Any]:
        raise LookupError("no runtime in this test")


class AdminViewTest(tornado.testing.AsyncHTTPTestCase):
    def get_app(self):  # type: ignore[no-untyped-def]
        self.tmp = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))
        self.engine = make_engine(self.tmp)
        directory = _journal(self.tmp, [Event(kind="detection", agent="intake-bot", session=SCOPE.session,
                                              entity_kind="PHONE")])
        self.backend = _Backend(self.engine, JournalView(directory, AUDIT_KEY, SIGNING.verify_key))
        return admin_app.make_app(self.backend)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def test_page_redirects_to_login_without_credentials_and_serves_with_the_cookie(self) -> None:
        r = self.fetch("/", follow_redirects=False)
        assert r.code == 302 and r.headers["Location"] == "/login"
        login = self.fetch("/login", method="POST", body=f"token={TOKEN}", follow_redirects=False)
        assert login.code == 302
        cookie = login.headers["Set-Cookie"].split(";", 1)[0]
        assert cookie.startswith(COOKIE + "=")
        page = self.fetch("/", headers={"Cookie": cookie})
        assert page.code == 200 and b"This page shows PHI" in page.body and b"/static/live.js" in page.body
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cache-Control"] == "no-store"

    def test_static_serves_only_the_shipped_assets(self) -> None:
        css = self.fetch("/static/admin.css")
        assert css.code == 200 and css.headers["Content-Type"].startswith("text/css")
        assert self.fetch("/static/live.js").headers["Content-Type"].startswith("text/javascript")
        for name in ("index.html", "login.html", "nothing.js", "view.py"):
            assert self.fetch(f"/static/{name}").code == 404
        assert self.fetch("/static/..%2Fview.py").code == 401  # no route: the authenticated 404, never the file

    def test_api_needs_the_token(self) -> None:
        for path in ("/api/v1/sessions", "/api/v1/live", f"/api/v1/sessions/{SCOPE.session}/events"):
            assert self.fetch(path).code == 401
        report = self.fetch(f"/api/v1/sessions/{SCOPE.session}/report", method="POST", body=b"",
                            headers={"Cookie": "masker_admin=forged"})
        assert report.code == 401

    def test_sessions_merge_the_live_buffer_and_the_journal(self) -> None:
        body, _, spans = masked_chat(self.engine, f"Call {PHONE}.")
        self.backend.live().open_turn(Scope("intake-bot", "live-only"), "POST", "/v1/chat/completions",
                                      "/v1/chat/completions", body, spans)
        doc = json.loads(self.fetch("/api/v1/sessions", headers=self.auth()).body)
        by_id = {s["session"]: s for s in doc["sessions"]}
        assert doc["journal"]["ok"] and set(by_id) == {"live-only", SCOPE.session}
        assert by_id["live-only"]["live"] and by_id["live-only"]["view"]["kinds"] == {"PHONE": 1}
        assert by_id[SCOPE.session]["journal"]["events"] == 1
        assert PHONE not in json.dumps(doc)

    def test_events_come_from_the_journal_and_unknown_sessions_are_404(self) -> None:
        r = self.fetch(f"/api/v1/sessions/{SCOPE.session}/events", headers=self.auth())
        doc = json.loads(r.body)
        assert r.code == 200 and doc["count"] == 1 and doc["events"][0]["entity_kind"] == "PHONE"
        assert self.fetch("/api/v1/sessions/nobody/events", headers=self.auth()).code == 404

    def test_report_without_a_runtime_is_503(self) -> None:
        r = self.fetch(f"/api/v1/sessions/{SCOPE.session}/report", method="POST", body=b"", headers=self.auth())
        assert r.code == 503 and json.loads(r.body)["error"]["code"] == "engine_unavailable"

    @tornado.testing.gen_test(timeout=10)
    async def test_live_stream_sends_the_snapshot_then_new_turns_with_both_sides(self) -> None:
        body, masked, spans = masked_chat(self.engine, f"Call {PHONE}.")
        live = self.backend.live()
        live.open_turn(SCOPE, "POST", "/v1/chat/completions", "/v1/chat/completions", body, spans)
        chunks: list[bytes] = []
        request = tornado.httpclient.HTTPRequest(
            self.get_url(f"/api/v1/live?session={SCOPE.session}"), headers=self.auth(),
            streaming_callback=chunks.append, request_timeout=1.5)
        fetch = self.http_client.fetch(request)
        while b"event: turn" not in b"".join(chunks):
            await asyncio.sleep(0.02)
        live.open_turn(SCOPE, "POST", "/v1/chat/completions", "/v1/chat/completions", body, spans)
        live.open_turn(Scope("intake-bot", "other"), "POST", "/r", "/r", b"{}", [])
        with pytest.raises(tornado.httpclient.HTTPClientError):
            await fetch  # an event stream does not end: the client gives up at request_timeout
        events = [block.split("\n", 1) for block in b"".join(chunks).decode().split("\n\n") if block.startswith("event:")]
        turns = [json.loads(data.removeprefix("data: ")) for head, data in events if head == "event: turn"]
        assert [t["id"] for t in turns] == [1, 2]  # the other session's turn is not sent
        assert events[0][0] == "event: sessions"
        [field] = turns[1]["request"]
        assert field["public"] == masked and PHONE in field["regulated"]
        assert [c["kind"] for c in turns[1]["chips"]] == ["PHONE"]
