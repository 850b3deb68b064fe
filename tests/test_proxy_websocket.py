"""Realtime WebSocket addon: client text masked, server text rehydrated, media blocked."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from mitmproxy import flow, websocket
from mitmproxy.test import taddons, tflow
from wsproto.frame_protocol import Opcode

sys.path.insert(0, str(Path(__file__).parent / "e2e"))
from fake_engine import FakeEngine  # noqa: E402

from masker.proxy.identity import SCOPE_KEY  # noqa: E402
from masker.proxy.masking import MASKED_KEY  # noqa: E402
from masker.proxy.options import MaskerOptions  # noqa: E402
from masker.proxy.websocket import RealtimeSocket  # noqa: E402
from masker.scope import Scope  # noqa: E402

SCOPE = Scope("voice-bot", "call-1")


def _ws_flow():
    f = tflow.twebsocketflow()
    f.websocket.messages.clear()
    f.metadata[MASKED_KEY] = True
    f.metadata[SCOPE_KEY] = SCOPE
    return f


def _send(addon, f, content, from_client: bool, opcode=Opcode.TEXT):
    data = content.encode() if isinstance(content, str) else content
    f.websocket.messages.append(websocket.WebSocketMessage(opcode, from_client, data, time.time()))
    asyncio.run(addon.websocket_message(f))
    return f.websocket.messages[-1]


def test_realtime_roundtrip_masks_client_and_rehydrates_server():
    engine = FakeEngine()
    addon = RealtimeSocket(lambda: engine)
    with taddons.context(MaskerOptions(), addon):
        f = _ws_flow()
        item = {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "This is John Smith, 555-123-4567."}]}}
        sent = _send(addon, f, json.dumps(item), True)
        assert "John Smith" not in sent.text and "555-123-4567" not in sent.text
        token = json.loads(sent.text)["item"]["content"][0]["text"].split()[2].rstrip(",")
        assert token.startswith("MSKV1.NAME.")
        done = {"type": "response.output_text.done", "item_id": "i1", "output_index": 0, "content_index": 0,
                "text": f"Hello {token}"}
        back = _send(addon, f, json.dumps(done), False)
        assert json.loads(back.text)["text"] == "Hello John Smith"


def test_binary_client_frames_dropped_when_media_blocked_and_history_trimmed():
    engine = FakeEngine()
    addon = RealtimeSocket(lambda: engine)
    with taddons.context(MaskerOptions(), addon) as tctx:
        tctx.options.masker_ws_keep_messages = 3
        f = _ws_flow()
        msg = _send(addon, f, b"\x00\x01audio", True, Opcode.BINARY)
        assert msg.dropped
        for _ in range(5):
            _send(addon, f, json.dumps({"type": "input_audio_buffer.commit"}), True)
        assert len(f.websocket.messages) == 3


def test_engine_failure_drops_message_and_closes_connection():
    engine = FakeEngine()
    addon = RealtimeSocket(lambda: engine)
    with taddons.context(MaskerOptions(), addon):
        f = _ws_flow()
        f.live = True
        msg = _send(addon, f, json.dumps({"type": "response.create", "response": {"instructions": "John Smith FAIL_CRASH"}}), True)
        assert msg.dropped
        assert f.error is not None and f.error.msg == flow.Error.KILLED_MESSAGE
