"""UpstreamGuard and its wire patches (masker.proxy.upstream), without a network.

The HTTP layer tests drive mitmproxy's own sans-io ``HttpLayer`` by hand:
bytes in from the client, hooks answered by the real addons, the upstream
connection refused or answered with bytes, and what would be written to
the client collected.
"""

from __future__ import annotations

import json

import pytest
from mitmproxy import connection, exceptions, http, options
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import commands, context, events
from mitmproxy.proxy.layers import http as mhttp
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.test import taddons, tflow

from masker.proxy import upstream
from masker.proxy.options import MaskerOptions
from masker.proxy.upstream import ERROR_KEY, UpstreamGuard

BODY = b'{"model":"gpt","messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture
def patched():
    upstream.install_wire_patches()
    yield
    upstream.uninstall_wire_patches()


# -- options -------------------------------------------------------------


def test_options_defaults_and_derived_limits():
    guard = UpstreamGuard()
    with taddons.context(Proxyserver(), MaskerOptions(), guard) as tctx:
        tctx.configure(guard)
        assert float(tctx.options.masker_upstream_timeout) == 300
        # mitmproxy's body_size_limit (what it buffers at most) covers masker_max_response
        assert tctx.options.body_size_limit == str(64 * 1024 * 1024)
        assert tctx.options.tcp_timeout > 300  # mitmproxy's idle close comes after Masker's 504
        tctx.configure(guard, masker_upstream_timeout="900")
        assert tctx.options.tcp_timeout == 900 + upstream.TCP_TIMEOUT_MARGIN_S
        for bad in ("0", "-1", "soon", "inf"):
            with pytest.raises(exceptions.OptionsError):
                tctx.options.update(masker_upstream_timeout=bad)
        with pytest.raises(exceptions.OptionsError):
            tctx.options.update(masker_max_response="lots")


def test_options_never_lower_body_size_limit():
    guard = UpstreamGuard()
    with taddons.context(Proxyserver(), MaskerOptions(), guard) as tctx:
        tctx.configure(guard, masker_max_body="100m", masker_max_response="1m")
        assert tctx.options.body_size_limit == str(200 * 1024 * 1024)


# -- hooks ---------------------------------------------------------------


def test_request_with_trailers_is_refused():
    guard = UpstreamGuard()
    with taddons.context(guard):
        f = tflow.tflow()
        f.request.trailers = http.Headers(x_checksum="abc")
        guard.request(f)
        assert f.response is not None and f.response.status_code == 400
        assert json.loads(f.response.content)["error"]["code"] == "trailers_unsupported"
        g = tflow.tflow()
        guard.request(g)
        assert g.response is None


def test_buffered_response_over_limit_becomes_502():
    guard = UpstreamGuard()
    with taddons.context(Proxyserver(), MaskerOptions(), guard) as tctx:
        tctx.configure(guard, masker_max_response="1k")
        f = tflow.tflow(resp=True)
        f.response.content = b"x" * 2000
        guard.response(f)
        assert f.response.status_code == 502
        assert json.loads(f.response.content)["error"]["code"] == "upstream_too_large"
        ok = tflow.tflow(resp=True)
        ok.response.content = b"x" * 1000
        guard.response(ok)
        assert ok.response.status_code == 200


def test_response_trailers_dropped_for_http1_clients():
    guard = UpstreamGuard()
    with taddons.context(guard):
        f = tflow.tflow(resp=True)
        f.response.trailers = http.Headers(grpc_status="0")
        guard.response(f)
        assert f.response.trailers is None


def test_abort_without_a_live_connection_is_harmless():
    f = tflow.tflow()
    assert upstream.abort_upstream(f, "upstream_timeout") is False
    assert f.metadata[ERROR_KEY] == "upstream_timeout"


# -- the HTTP layer, driven by hand --------------------------------------


class _Task:
    """Stands in for the asyncio task serving an upstream connection: cancel() closes it."""

    def __init__(self, wire: "Wire") -> None:
        self.wire = wire

    def cancel(self, msg: str | None = None) -> None:
        self.wire.close_pending = True


class _IO:
    def __init__(self, handler, reader) -> None:
        self.handler, self.reader = handler, reader


class Wire:
    """One client connection through mitmproxy's HttpLayer (regular mode, plain HTTP).

    ``transports`` mimics the proxy's connection handler, so that
    ``abort_upstream`` can close the upstream connection.
    """

    def __init__(self, guard: UpstreamGuard, opts: options.Options, *, connect_error: str | None = None) -> None:
        client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080),
                                   timestamp_start=1.0, state=connection.ConnectionState.OPEN)
        self.ctx = context.Context(client, opts)
        self.layer = mhttp.HttpLayer(self.ctx, mhttp.HTTPMode.regular)
        self.guard = guard
        self.connect_error = connect_error
        self.to_client = b""
        self.to_server = b""
        self.server: connection.Server | None = None
        self.flows: list[http.HTTPFlow] = []
        self.client_closed = False
        self.close_pending = False
        self.transports: dict = {client: _IO(None, object())}
        self._run(events.Start())

    def _run(self, event: events.Event) -> None:
        queue = list(self.layer.handle_event(event))
        while True:
            if not queue:
                if not self.close_pending:
                    return
                self.close_pending = False  # abort_upstream cancelled the upstream's task: it closes
                self.server.state = connection.ConnectionState.CLOSED
                queue.extend(self.layer.handle_event(events.ConnectionClosed(self.server)))
                continue
            cmd = queue.pop(0)
            if isinstance(cmd, commands.StartHook):
                self._hook(cmd)
                if cmd.blocking:
                    queue.extend(self.layer.handle_event(events.HookCompleted(cmd)))
            elif isinstance(cmd, commands.OpenConnection):
                self.server = cmd.connection
                if self.connect_error is None:
                    cmd.connection.state = connection.ConnectionState.OPEN
                    cmd.connection.timestamp_start = 1.0
                    self.transports[cmd.connection] = _IO(_Task(self), object())
                queue.extend(self.layer.handle_event(events.OpenConnectionCompleted(cmd, self.connect_error)))
            elif isinstance(cmd, commands.SendData):
                if cmd.connection is self.ctx.client:
                    self.to_client += cmd.data
                else:
                    self.to_server += cmd.data
            elif isinstance(cmd, commands.CloseConnection):
                if cmd.connection is self.ctx.client:
                    self.client_closed = True
                else:
                    cmd.connection.state = connection.ConnectionState.CLOSED

    def _hook(self, hook: commands.StartHook) -> None:
        data = hook.args()[0]
        if isinstance(data, http.HTTPFlow) and data not in self.flows:
            self.flows.append(data)
        fn = getattr(self.guard, hook.name, None)
        if fn is not None:
            fn(*hook.args())

    def close_connection(self, conn) -> None:
        """As the proxy's ConnectionHandler: the connection's reader is cancelled, the layers see it close."""
        assert conn is self.server
        self.close_pending = True

    def flush(self) -> None:
        """Deliver what a closed upstream connection would deliver."""
        if self.close_pending:
            self.close_pending = False
            self.server.state = connection.ConnectionState.CLOSED
            self._run(events.ConnectionClosed(self.server))

    def client_sends(self, data: bytes) -> None:
        self._run(events.DataReceived(self.ctx.client, data))

    def server_sends(self, data: bytes) -> None:
        assert self.server is not None
        self._run(events.DataReceived(self.server, data))

    def server_closes(self) -> None:
        assert self.server is not None
        self.server.state = connection.ConnectionState.CLOSED
        self._run(events.ConnectionClosed(self.server))

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        head, _, body = self.to_client.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _post(body: bytes = BODY, extra: bytes = b"") -> bytes:
    return (b"POST http://api.openai.com/v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body))


@pytest.fixture
def wire(patched, monkeypatch):
    guard = UpstreamGuard()
    wires: list[Wire] = []
    monkeypatch.setattr(upstream, "_handler", lambda f: next((w for w in wires if w.ctx.client is f.client_conn), None))
    with taddons.context(Proxyserver(), MaskerOptions(), guard) as tctx:
        tctx.configure(guard, masker_max_response="1k", connection_strategy="lazy")

        def make(**kw) -> Wire:
            wires.append(Wire(guard, tctx.options, **kw))
            return wires[-1]

        yield make


def _error(w: Wire) -> tuple[int, str]:
    status, headers, body = w.answer()
    assert headers["content-type"] == "application/json"
    doc = json.loads(body[: int(headers["content-length"])])
    assert doc["error"]["type"] == "masker_error"
    assert headers["x-masker-error"] == doc["error"]["code"]
    return status, doc["error"]["code"]


def test_refused_connection_gets_json_502(wire):
    w = wire(connect_error="Connect call failed ('127.0.0.1', 9): [Errno 111] Connection refused")
    w.client_sends(_post())
    assert _error(w) == (502, "upstream_unavailable")
    assert b"connection refused" in w.to_client and b"<html>" not in w.to_client
    assert w.client_closed


def test_unpatched_mitmproxy_answers_html(wire):
    upstream.uninstall_wire_patches()
    w = wire(connect_error="Connection refused")
    w.client_sends(_post())
    assert b"<html>" in w.to_client  # what the patch replaces


def test_reset_before_the_response_gets_json_502(wire):
    w = wire()
    w.client_sends(_post())
    assert w.to_server.endswith(BODY)
    w.server_closes()
    assert _error(w) == (502, "upstream_unavailable")


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"\x16\x03\x01\x00\xff garbage Maria Lopez"])
def test_garbage_from_upstream_gets_json_502_without_echo(wire, garbage):
    w = wire()
    w.client_sends(_post())
    w.server_sends(garbage)
    if not w.to_client:
        w.server_closes()
    assert _error(w) == (502, "upstream_unavailable")
    assert b"Maria" not in w.to_client and b"SSH" not in w.to_client  # upstream bytes are never quoted


def test_upstream_closed_by_the_timer_gets_json_504(wire):
    w = wire()
    w.client_sends(_post())
    assert upstream.abort_upstream(w.flows[0], "upstream_timeout")  # what the timer does
    w.flush()
    assert _error(w) == (504, "upstream_timeout")


def test_timer_closes_a_silent_upstream(wire, monkeypatch):
    w = wire()
    w.client_sends(_post())
    flow = w.flows[0]
    w.guard._armed[flow] = 0.0  # forwarded long ago, nothing since
    monkeypatch.setattr(upstream, "_last_activity", lambda f: None)
    w.guard._expire(flow)
    w.flush()
    assert _error(w) == (504, "upstream_timeout")


def test_timer_leaves_an_active_upstream_alone(wire, monkeypatch):
    w = wire()
    w.client_sends(_post())
    flow = w.flows[0]
    w.guard._armed[flow] = 0.0
    monkeypatch.setattr(upstream, "_last_activity", lambda f: __import__("time").time())  # data just came
    w.guard._expire(flow)
    assert not w.close_pending and flow.metadata.get(ERROR_KEY) is None


def test_response_over_content_length_limit_gets_json_502(wire):
    w = wire()  # masker_max_response=1k, body_size_limit 32m: Masker's own check, at the headers
    w.client_sends(_post())
    w.server_sends(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n")
    assert _error(w) == (502, "upstream_too_large")


def test_response_over_body_size_limit_gets_json_502(wire):
    w = wire()
    w.ctx.options.update(masker_max_body="512", body_size_limit="1k")  # mitmproxy's own cap stops it before any hook
    w.client_sends(_post())
    w.server_sends(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n")
    assert _error(w) == (502, "upstream_too_large")


def test_chunked_response_over_limit_gets_json_502(wire):
    w = wire()
    w.ctx.options.update(masker_max_body="512", body_size_limit="1k")  # counted as the chunks come
    w.client_sends(_post())
    w.server_sends(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
    for _ in range(3):
        w.server_sends(b"200\r\n" + b"x" * 512 + b"\r\n")
    assert _error(w) == (502, "upstream_too_large")


def test_good_response_passes_and_connection_is_kept(wire):
    w = wire()
    w.client_sends(_post())
    w.server_sends(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
    status, headers, body = w.answer()
    assert (status, body) == (200, b"{}") and not w.client_closed


def test_error_after_streaming_began_only_closes(wire):
    w = wire()
    w.guard.responseheaders = lambda f: setattr(f.response, "stream", True)  # as Rehydration does for SSE
    w.client_sends(_post())
    w.server_sends(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    w.server_sends(b"7\r\ndata: 1\r\n")
    w.server_closes()
    assert w.to_client.count(b"HTTP/1.1") == 1 and b"masker_error" not in w.to_client  # no second answer
    assert not w.to_client.endswith(b"0\r\n\r\n")  # not ended as if complete
    assert w.client_closed


def test_request_trailers_reach_the_request_hook_and_are_refused(wire):
    w = wire()
    w.client_sends(b"POST http://api.openai.com/v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                   b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
                   + b"%x\r\n%s\r\n" % (len(BODY), BODY) + b"0\r\nx-checksum: abc\r\n\r\n")
    assert _error(w) == (400, "trailers_unsupported")
    assert w.server is None and w.to_server == b""  # nothing went upstream
    assert w.flows[0].request.trailers["x-checksum"] == "abc"


def test_response_trailers_are_dropped(wire):
    w = wire()
    w.client_sends(_post())
    w.server_sends(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                   b"2\r\n{}\r\n0\r\ngrpc-status: 0\r\n\r\n")
    status, _, body = w.answer()
    assert status == 200 and b"{}" in body and b"grpc-status" not in w.to_client


def test_unparsable_request_head_gets_json_400_without_echo(patched):
    out = _http1.make_error_response(400, "Bad request line: b'GET /?name=Maria Lopez'")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"application/json" in head and b"Maria" not in out
    assert json.loads(body)["error"]["code"] == "bad_request"
