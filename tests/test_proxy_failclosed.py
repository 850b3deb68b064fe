"""Fail-closed edges of the request and WebSocket paths (review findings), with mitmproxy's test helpers."""

from __future__ import annotations

import asyncio
import json
import time

from mitmproxy import http, websocket
from mitmproxy.proxy.layers.http import HttpRequestHeadersHook, HttpRequestHook
from mitmproxy.test import taddons, tflow
from wsproto.frame_protocol import Opcode

from masker.proxy import identity
from masker.proxy.masking import MASKED_KEY, ForwardGuard, Masking
from masker.proxy.options import MaskerOptions
from masker.proxy.recorder import AuditRecorder
from masker.proxy.websocket import RealtimeSocket
from masker.scope import Scope
from tests.e2e.fake_engine import FakeEngine

CHAT = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()


def _flow(path: str = "/v1/chat/completions", body: bytes = CHAT) -> http.HTTPFlow:
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.scheme = "api.openai.com", 443, "https"
    f.request.method, f.request.path = "POST", path
    f.request.headers["content-type"] = "application/json"
    f.request.content = body
    f.metadata[identity.SCOPE_KEY] = Scope("intake", "s1")
    return f


def _masked(f: http.HTTPFlow, engine: FakeEngine) -> None:
    recorder = AuditRecorder(engine.record, window=0)
    masking = Masking(lambda: engine, lambda: recorder)
    with taddons.context(MaskerOptions(), masking):
        asyncio.run(masking.request(f))
    recorder.close()


def test_query_parameters_of_llm_requests_are_masked():
    engine = FakeEngine()
    f = _flow("/openai/deployments/d/chat/completions?user=John%20Smith&api-version=2024-10-21&beta=true&n=555-123-4567")
    _masked(f, engine)
    assert f.response is None and f.metadata.get(MASKED_KEY)
    assert "John" not in f.request.path and "555" not in f.request.path
    assert f.request.query["user"].startswith("MSKV1.NAME.")
    assert f.request.query["n"].startswith("MSKV1.PHONE.")
    assert f.request.query["api-version"] == "2024-10-21" and f.request.query["beta"] == "true"


def test_query_without_phi_is_left_byte_identical():
    f = _flow("/v1/responses/resp_1?include%5B%5D=file_search_call.results&limit=20")
    _masked(f, FakeEngine())
    assert f.response is None
    assert f.request.path == "/v1/responses/resp_1?include%5B%5D=file_search_call.results&limit=20"


def test_request_trailers_are_refused():
    f = _flow()
    f.request.trailers = http.Headers(x_patient="John Smith")
    _masked(f, FakeEngine())
    assert f.response is not None and f.response.status_code == 400
    assert json.loads(f.response.content)["error"]["code"] == "trailers_unsupported"
    assert not f.metadata.get(MASKED_KEY)


def _passes(f: http.HTTPFlow, *addons) -> None:
    """One request pass through ``addons`` (requestheaders, then request), as mitmproxy runs it."""
    with taddons.context(MaskerOptions(), *addons) as tctx:
        for hook in (HttpRequestHeadersHook(f), HttpRequestHook(f)):
            for addon in addons:
                asyncio.run(tctx.master.addons.invoke_addon(addon, hook))


def test_replayed_flow_with_stale_markers_is_not_waved_through():
    """mitmweb edit-and-replay reuses the flow object, metadata included."""
    f = _flow(body=json.dumps({"messages": [{"role": "user", "content": "John Smith"}]}).encode())
    f.metadata.update({MASKED_KEY: True, "masker_local": True, "masker_llm": True})
    _passes(f, ForwardGuard())  # the masking hook is skipped: only the guard runs
    assert f.response is not None and f.response.status_code == 502
    assert json.loads(f.response.content)["error"]["code"] == "not_masked"


def test_request_body_streaming_is_turned_off_for_llm_flows():
    f = _flow()
    f.request.stream = True  # another addon asked for it: the body would go out before any request hook
    _passes(f, ForwardGuard())
    assert f.request.stream is False
    other = _flow()
    other.request.host, other.request.scheme, other.request.port = "example.com", "http", 80
    other.client_conn.timestamp_tls_setup = None
    other.request.stream = True
    _passes(other, ForwardGuard())
    assert other.request.stream is True  # not an LLM flow: left alone


class _Socket:
    def __init__(self) -> None:
        self.engine: FakeEngine | None = FakeEngine()
        self.recorder = AuditRecorder(lambda events: None, window=0)
        self.injected: list[tuple[bool, str]] = []
        self.addon = RealtimeSocket(lambda: self.engine, lambda: self.recorder,
                                    inject=lambda f, to_client, data: self.injected.append((to_client, data.decode())),
                                    close=lambda f: True)


def _ws_flow():
    f = tflow.twebsocketflow()
    f.websocket.messages.clear()
    f.metadata[MASKED_KEY] = True
    f.metadata[identity.SCOPE_KEY] = Scope("voice-bot", "call-1")
    return f


def _send(addon, f, text: str, from_client: bool, injected: bool = False):
    f.websocket.messages.append(websocket.WebSocketMessage(Opcode.TEXT, from_client, text.encode(), time.time(), injected=injected))
    asyncio.run(addon.websocket_message(f))
    return f.websocket.messages[-1]


def test_websocket_refuses_messages_once_the_audit_recorder_has_failed():
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon):
        s.recorder.failure = "audit journal append failed: OSError"
        f = _ws_flow()
        item = {"type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}}
        assert _send(s.addon, f, json.dumps(item), True).dropped
        assert [json.loads(t)["error"]["code"] for _, t in s.injected] == ["audit_unavailable"]
    s.recorder.close()


def test_websocket_error_event_is_not_refused_again_when_the_engine_is_gone():
    """The injected error event passes this hook too: refusing it would inject another, forever."""
    s = _Socket()
    with taddons.context(MaskerOptions(), s.addon):
        f = _ws_flow()
        s.engine = None  # engine rebuild failed mid-session
        assert _send(s.addon, f, json.dumps({"type": "response.created"}), False).dropped
        assert len(s.injected) == 1
        to_client, error = s.injected[0]
        relayed = _send(s.addon, f, error, not to_client, injected=True)
        assert not relayed.dropped and len(s.injected) == 1
    s.recorder.close()
