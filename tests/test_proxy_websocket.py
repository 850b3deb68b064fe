"""Realtime WebSocket addon: client text masked, server text rehydrated, media blocked."""

from __future__ import annotations

import asyncio
import json
import time

from mitmproxy import flow, websocket
from mitmproxy.test import taddons, tflow
from wsproto.frame_protocol import Opcode

from masker.audit.events import Event
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import MASKED_KEY
from masker.proxy.options import MaskerOptions
from masker.proxy.recorder import AuditRecorder
from masker.proxy.websocket import RealtimeSocket
from masker.scope import Scope
from tests.e2e.fake_engine import FakeEngine

SCOPE = Scope("voice-bot", "call-1")
ITEM = {"item_id": "i1", "output_index": 0, "content_index": 0}


class _Socket:
    """A RealtimeSocket over the fake engine, with injected messages and journaled events kept."""

    def __init__(self) -> None:
        self.engine = FakeEngine()
        self.journaled: list[Event] = []
        self.recorder = AuditRecorder(self.journaled.extend, window=0)
        self.injected: list[tuple[bool, str]] = []
        self.addon = RealtimeSocket(lambda: self.engine, lambda: self.recorder,
                                    inject=lambda f, to_client, data: self.injected.append((to_client, data.decode())))


def _ws_flow():
    f = tflow.twebsocketflow()
    f.websocket.messages.clear()
    f.metadata[MASKED_KEY] = True
    f.metadata[SCOPE_KEY] = SCOPE
    return f


def _send(addon, f, content, from_client: bool, opcode=Opcode.TEXT, injected: bool = False):
    data = content.encode() if isinstance(content, str) else content
    f.websocket.messages.append(websocket.WebSocketMessage(opcode, from_client, data, time.time(), injected=injected))
    asyncio.run(addon.websocket_message(f))
    return f.websocket.messages[-1]


def _client_token(s: _Socket, f) -> str:
    item = {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "This is John Smith, 555-123-4567."}]}}
    sent = _send(s.addon, f, json.dumps(item), True)
    assert "John Smith" not in sent.text and "555-123-4567" not in sent.text
    token = json.loads(sent.text)["item"]["content"][0]["text"].split()[2].rstrip(",")
    assert token.startswith("MSKV1.NAME.")
    return token


def test_realtime_roundtrip_masks_client_and_rehydrates_server():
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon):
        f = _ws_flow()
        token = _client_token(s, f)
        done = {"type": "response.output_text.done", **ITEM, "text": f"Hello {token}"}
        back = _send(s.addon, f, json.dumps(done), False)
        assert json.loads(back.text)["text"] == "Hello John Smith"
        assert s.injected == []
    assert s.recorder.flush(5)
    assert [e.kind for e in s.journaled] == ["rehydration"]
    s.recorder.close()


def test_tail_flushed_before_done_goes_out_as_its_own_delta_then_the_done_event():
    """A delta ending in what may be a token's start is held back; the .done event
    flushes it: the current message becomes that delta, the .done is injected after it."""
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon):
        f = _ws_flow()
        token = _client_token(s, f)
        delta = {"type": "response.output_text.delta", **ITEM, "delta": f"Hello {token}, see MSKV"}
        first = _send(s.addon, f, json.dumps(delta), False)
        assert json.loads(first.text)["delta"] == "Hello John Smith, see "
        done = {"type": "response.output_text.done", **ITEM, "text": f"Hello {token}, see MSKV"}
        msg = _send(s.addon, f, json.dumps(done), False)
        assert json.loads(msg.text) == {**delta, "delta": "MSKV"}
        assert len(s.injected) == 1
        to_client, text = s.injected[0]
        assert to_client and json.loads(text) == {**done, "text": "Hello John Smith, see MSKV"}
        # mitmproxy runs the hook again for the injected message: it must pass unchanged
        again = _send(s.addon, f, text, False, injected=True)
        assert again.text == text and not again.dropped
    s.recorder.close()


def test_binary_client_frames_refused_like_blocked_audio_journaled_and_the_client_told():
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon):
        f = _ws_flow()
        msg = _send(s.addon, f, b"\x00\x01audio", True, Opcode.BINARY)
        assert msg.dropped
        to_client, text = s.injected[0]
        assert to_client and json.loads(text)["error"]["code"] == "media_blocked"
        later = _send(s.addon, f, json.dumps({"type": "input_audio_buffer.commit"}), True)
        assert later.dropped  # the connection is being closed: nothing more goes through
    s.recorder.close()
    assert [(e.kind, e.reason) for e in s.journaled] == [("request_blocked", "media_blocked")]


def test_websocket_history_is_trimmed():
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon) as tctx:
        tctx.options.masker_ws_keep_messages = 3
        f = _ws_flow()
        for _ in range(5):
            _send(s.addon, f, json.dumps({"type": "input_audio_buffer.commit"}), True)
        assert len(f.websocket.messages) == 3
    s.recorder.close()


def test_engine_failure_drops_message_and_closes_connection():
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon):
        f = _ws_flow()
        f.live = True
        msg = _send(s.addon, f, json.dumps({"type": "response.create", "response": {"instructions": "John Smith FAIL_CRASH"}}), True)
        assert msg.dropped
        assert f.error is not None and f.error.msg == flow.Error.KILLED_MESSAGE
    s.recorder.close()


def test_default_injection_uses_mitmproxys_inject_websocket_command(caplog):
    """With the real command (Proxyserver loaded) the call type-checks; a flow
    without a live connection only gets mitmproxy's warning, not a failure."""
    from mitmproxy.addons.proxyserver import Proxyserver

    engine = FakeEngine()
    recorder = AuditRecorder(lambda events: None, window=0)
    addon = RealtimeSocket(lambda: engine, lambda: recorder)
    with taddons.context(Proxyserver(), MaskerOptions(), addon):
        f = _ws_flow()
        delta = {"type": "response.output_text.delta", **ITEM, "delta": "see MSKV"}
        _send(addon, f, json.dumps(delta), False)
        done = {"type": "response.output_text.done", **ITEM, "text": "see MSKV"}
        msg = _send(addon, f, json.dumps(done), False)
        assert json.loads(msg.text)["delta"] == "MSKV" and not msg.dropped
        assert f.error is None
    assert "not from a live connection" in caplog.text
    recorder.close()
