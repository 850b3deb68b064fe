"""The only place Masker uses mitmproxy internals instead of its addon API.

Masker's addons otherwise stay on mitmproxy's public addon API (hooks, flows,
options, ``ctx``, the ``inject.*`` commands). Where mitmproxy 12 has no public
way to do what Masker must do, the code that reaches into mitmproxy's
internals (``mitmproxy.proxy.*``, ``mitmproxy.net.*``, the proxy server's
connection handlers, private attributes) lives here and nowhere else; callers
(``masker.proxy.upstream``, ``masker.proxy.websocket``) keep the policy and call
the functions below. ``tests/test_mitm_internals.py`` asserts that every
internal listed here still exists with the shape relied on, failing with the
installed mitmproxy version, and that no other module of ``masker`` imports or
touches mitmproxy internals. Fix this module (or switch to a public API if the
new mitmproxy has one) before upgrading mitmproxy.

Checked against mitmproxy 12.2.1 and 12.3.1: every file named below is the
same in both, apart from option help text in ``addons/proxyserver.py``.

A. Live connection handlers
---------------------------

``mitmproxy/addons/proxyserver.py``, ``mitmproxy/proxy/server.py``.

Why: mitmproxy 12 has no public way to close a live connection, or to tell
when a connection last saw activity. ``flow.kill()`` (and the ``flow.kill``
command) only marks the flow: the WebSocket layer never checks it (mitmproxy
issues #4773, #4711), and an HTTP flow waiting on a silent upstream has no
hook running that could notice it. ``inject.websocket`` sends text or binary
messages, never a close frame. mitmproxy's ``tcp_timeout`` closes a whole idle
client connection, without answering. So, as mitmproxy's own ``inject.*``
commands do (``Proxyserver.inject_event``), this module looks up the flow's
live connection handler in the proxyserver addon.

Relied on:

- ``Proxyserver.connections``: a dict from the client connection's ``id`` to
  its ``ConnectionHandler``, one entry per live client connection
  (``Proxyserver.register_connection``);
- ``ConnectionHandler.transports``: a dict keyed by the ``Connection`` objects
  (client, servers) the handler has open, to ``ConnectionIO``;
- ``ConnectionIO.handler`` (the task serving the connection, None before it
  runs) and ``ConnectionIO.reader`` (None while the connection is being opened);
- ``ConnectionHandler.close_connection(connection, half_close=False)``: marks
  the connection closed and cancels its reader; the layers then get
  ``ConnectionClosed``;
- ``ConnectionHandler.timeout_watchdog.last_activity``: wall time of the
  handler's last event (``TimeoutWatchdog.register_activity``).

Used by:

- ``close_server_connection``: after refusing a Realtime WebSocket message,
  Masker closes the connection (fail closed). Closing the upstream side (not
  the client's) keeps the client's transport until the layer is done, so what
  was queued before (Masker's injected error event) still reaches the client,
  in order; the WebSocket layer then sees the server gone and closes the
  client with a close frame.
- ``connection_handler``, ``close_upstream_connections``, ``last_activity``:
  ``UpstreamGuard`` closes a silent upstream (504 ``upstream_timeout``) or an
  oversized response (502 ``upstream_too_large``), telling a slow upstream from
  a silent one by the handler's last activity.

Should these change at run time anyway: ``close_server_connection`` logs it and
returns False (Masker then drops every later message of the flow, still fail
closed, but cannot close it); ``close_upstream_connections`` logs it and
returns False (``UpstreamGuard`` falls back to ``flow.kill()``);
``connection_handler`` and ``last_activity`` return None.

B. Wire patches of ``mitmproxy.proxy.layers.http``
--------------------------------------------------

``mitmproxy/proxy/layers/http/{__init__,_base,_events,_http1}.py``,
``mitmproxy/proxy/layer.py``; installed by ``install_wire_patches`` (from
``UpstreamGuard.load``), which takes Masker's policy as callbacks.

1. ``HttpStream.handle_event`` (inherited ``Layer.handle_event``) is wrapped:
   a ``SendHttp(ResponseProtocolError)`` to a client that has no response yet,
   with an ``ErrorCode`` for which mitmproxy would write its HTML error page
   (``ErrorCode.http_status_code()`` not None), is preceded by a complete
   response from the policy (``ResponseHeaders``, ``ResponseData`` unless
   HEAD, ``ResponseEndOfMessage``; ``connection: close`` for HTTP/1 clients);
   the error then only closes the connection or resets the stream. HTTP/1, 2
   and 3. Why: mitmproxy 12 has no hook that chooses the client's answer to an
   upstream failure; ``flow.response`` set in the ``error`` hook is ignored
   (mitmproxy PR #7999 proposes it; not in any release checked here).
   Relies on ``SendHttp(event, connection)``, ``ResponseProtocolError(stream_id,
   message, code)``, ``ErrorCode`` (its member names, which the policy maps,
   and ``http_status_code()``), ``ResponseHeaders(stream_id, response,
   end_stream)``, ``ResponseData(stream_id, data)``,
   ``ResponseEndOfMessage(stream_id)``, ``HttpStream.flow`` and
   ``Layer.context.client``.
2. ``_http1.make_error_response(status_code, message="") -> bytes`` is
   replaced (a module global, looked up by ``Http1Server`` when it writes an
   error itself, e.g. for an unparsable request head). Why: this page is
   written before any hook runs (there is no flow yet), so no addon can change
   it (mitmproxy issue #4854 asks for a way). Relies on
   ``mitmproxy.net.http.http1.assemble_response``.
3. ``Http1Connection.read_body`` is wrapped: a chunked body whose
   ``body_reader`` (h11's ``ChunkedReader``, ``_http1.ChunkedReader``) ends in
   trailers becomes a ``RequestTrailers`` event (``HttpStream`` handles it as
   for HTTP/2: ``request.trailers``, then the request hooks, where
   ``UpstreamGuard`` refuses the request) or, on a response, the trailers are
   dropped (HTTP lets a proxy drop them). Why: mitmproxy's HTTP/1 reader raises
   ``NotImplementedError`` on trailers (mitmproxy issue #2474), which crashes
   the connection handler before any hook and leaves the client hanging.
   Relies on ``ReceiveHttp(event)``, ``RequestEndOfMessage(stream_id)``,
   ``ResponseEndOfMessage``, ``RequestTrailers(stream_id, trailers)`` and on
   h11's ``ChunkedReader`` returning ``EndOfMessage(headers=trailers)``.

``install_wire_patches`` checks what it wraps before patching and raises
``RuntimeError`` naming the mitmproxy version if it moved; ``UpstreamGuard``
then refuses to start (``configure`` raises) instead of failing open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import cast

import h11
from mitmproxy import ctx, http
from mitmproxy.connection import Server
from mitmproxy.net.http import http1
from mitmproxy.proxy import layer as mlayer
from mitmproxy.proxy.layers import http as mhttp
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.version import VERSION as MITMPROXY_VERSION

log = logging.getLogger("masker.proxy")

__all__ = [
    "MITMPROXY_VERSION",
    "UpstreamFailure",
    "close_server_connection",
    "close_upstream_connections",
    "connection_handler",
    "install_wire_patches",
    "last_activity",
    "uninstall_wire_patches",
    "wire_patches_installed",
]


# -- A. live connection handlers ------------------------------------------

def close_server_connection(flow: http.HTTPFlow) -> bool:
    """Close ``flow``'s upstream connection; False when it is not (or no longer) live.

    Never raises: it runs in the failure path of a hook.
    """
    try:
        server = ctx.master.addons.get("proxyserver")
        connections = getattr(server, "connections", None)
        if not isinstance(connections, Mapping):
            raise AttributeError("Proxyserver.connections is not a mapping")
        handler = connections.get(flow.client_conn.id)
        if handler is None or flow.server_conn not in handler.transports:
            return False
        handler.close_connection(flow.server_conn)
        return True
    except Exception as e:  # noqa: BLE001 - see the module docstring: internals changed
        log.error("masker cannot close a connection through mitmproxy %s's proxy server (%s: %s); "
                  "see masker.proxy.mitm_internals", MITMPROXY_VERSION, type(e).__name__, e)
        return False


def connection_handler(flow: http.HTTPFlow):
    """The proxy server's live connection handler of ``flow``'s client connection, or None.

    None too without a running master (unit tests calling hooks directly).
    """
    try:
        server = ctx.master.addons.get("proxyserver")
        return server.connections.get(flow.client_conn.id) if server is not None else None
    except Exception:  # noqa: BLE001 - no master (unit tests)
        return None


def close_upstream_connections(handler, flow: http.HTTPFlow) -> bool:
    """Close, through ``handler`` (``connection_handler(flow)``), the upstream
    connection serving ``flow`` and every upstream connection of that client
    connection still being set up (TCP or TLS). True if one was closed.

    Never raises: on changed internals it logs and returns what it closed.
    """
    closed = False
    try:
        for conn, io in list(handler.transports.items()):
            if conn is flow.client_conn or io.handler is None:
                continue
            if conn is flow.server_conn or _still_connecting(conn, io):
                handler.close_connection(conn)  # marks it closed, cancels its reader: the layers see it close
                closed = True
    except Exception as e:  # noqa: BLE001 - internals moved: the caller falls back to flow.kill()
        log.error("masker could not close an upstream connection through mitmproxy %s's proxy server (%s); "
                  "see masker.proxy.mitm_internals", MITMPROXY_VERSION, type(e).__name__)
    return closed


def _still_connecting(conn, io) -> bool:
    return isinstance(conn, Server) and (io.reader is None or (conn.tls and not conn.tls_established))


def last_activity(handler) -> float | None:
    """Wall time of the last event on ``handler`` (data either way, hooks); None if unknown."""
    watchdog = getattr(handler, "timeout_watchdog", None)
    return getattr(watchdog, "last_activity", None)


# -- B. wire patches ------------------------------------------------------

@dataclass(frozen=True)
class UpstreamFailure:
    """What mitmproxy is about to answer with its HTML error page (patch 1)."""

    flow: http.HTTPFlow | None
    error_code: str
    """The name of mitmproxy's ``ErrorCode`` member, e.g. ``"CONNECT_FAILED"``."""
    message: str
    """mitmproxy's message: it may quote upstream bytes, never send it on."""


FailureAnswer = Callable[[UpstreamFailure], http.Response | None]
"""Policy of patch 1: the response the client gets instead of mitmproxy's page (None: mitmproxy's page)."""
ErrorPage = Callable[[int], http.Response]
"""Policy of patch 2: the response for a status code the HTTP/1 layer answers itself."""

_EVENTS = ("SendHttp", "ReceiveHttp", "ResponseProtocolError", "ResponseHeaders", "ResponseData",
           "ResponseEndOfMessage", "RequestEndOfMessage", "RequestTrailers", "ErrorCode")
_ORIGINAL: dict[str, Callable] = {}
_POLICY: dict[str, Callable] = {}


def _json_answer(stream: mhttp.HttpStream, command: mhttp.SendHttp) -> list | None:
    """Commands that answer the client with the policy's response in place of mitmproxy's HTML page."""
    event = cast(mhttp.ResponseProtocolError, command.event)  # the caller checked its type
    if event.code.http_status_code() is None or getattr(stream, "_masker_answered", False):
        return None  # a kill or disconnect (no page), or the client has its response already
    alpn = stream.context.client.alpn
    http1_client = not alpn or alpn.startswith(b"http/1")
    flow = getattr(stream, "flow", None)
    head = flow is not None and flow.request is not None and flow.request.method.upper() == "HEAD"
    resp = _POLICY["answer"](UpstreamFailure(flow, event.code.name, event.message))
    if resp is None:
        return None
    if http1_client:
        resp.headers["connection"] = "close"
    stream._masker_answered = True  # type: ignore[attr-defined]  # Masker's own mark on mitmproxy's stream
    client = command.connection
    out = [mhttp.SendHttp(mhttp.ResponseHeaders(event.stream_id, resp, end_stream=False), client)]
    if not head:
        out.append(mhttp.SendHttp(mhttp.ResponseData(event.stream_id, resp.raw_content or b""), client))
    out.append(mhttp.SendHttp(mhttp.ResponseEndOfMessage(event.stream_id), client))
    out.append(command)  # closes the connection (HTTP/1) or resets what is left of the stream
    return out


def _stream_handle_event(self: mhttp.HttpStream, event) -> Iterator:
    """Patch 1: replaces ``HttpStream.handle_event``."""
    for command in _ORIGINAL["stream"](self, event):
        if isinstance(command, mhttp.SendHttp) and command.connection is self.context.client:
            if isinstance(command.event, mhttp.ResponseHeaders) and command.event.response.status_code >= 200:
                self._masker_answered = True  # type: ignore[attr-defined]  # Masker's own mark on mitmproxy's stream
            elif isinstance(command.event, mhttp.ResponseProtocolError):
                try:
                    answer = _json_answer(self, command)
                except Exception as e:  # noqa: BLE001 - mitmproxy's own page is the fallback
                    log.error("masker could not write its JSON error: %s", type(e).__name__)
                    answer = None
                if answer:
                    yield from answer
                    continue
        yield command


def _make_error_response(status_code: int, message: str = "") -> bytes:
    """Patch 2: replaces ``_http1.make_error_response``; ``message`` is dropped (it can quote request bytes)."""
    resp = _POLICY["page"](status_code)
    resp.headers["connection"] = "close"
    return http1.assemble_response(resp)


class _TrailerCatcher:
    """Wraps h11's ChunkedReader: trailers are kept aside instead of ending the message with them."""

    def __init__(self, reader) -> None:
        self._reader = reader
        self.trailers: list[tuple[bytes, bytes]] | None = None

    def __call__(self, buf):
        event = self._reader(buf)
        if isinstance(event, h11.EndOfMessage) and event.headers:
            self.trailers = [(bytes(k), bytes(v)) for k, v in event.headers]
            return h11.EndOfMessage()
        return event

    def read_eof(self):
        return self._reader.read_eof()


def _read_body(self: _http1.Http1Connection, event) -> Iterator:
    """Patch 3: replaces ``Http1Connection.read_body``."""
    reader = self.body_reader
    if isinstance(reader, _http1.ChunkedReader):
        # The wrapper stands in for h11's reader: the same call interface, which is all read_body uses.
        reader = self.body_reader = _TrailerCatcher(reader)  # type: ignore[assignment]
    for command in _ORIGINAL["read_body"](self, event):
        if (
            isinstance(reader, _TrailerCatcher)
            and reader.trailers
            and isinstance(command, mhttp.ReceiveHttp)
            and isinstance(command.event, (mhttp.RequestEndOfMessage, mhttp.ResponseEndOfMessage))
        ):
            trailers, reader.trailers = reader.trailers, None
            if isinstance(command.event, mhttp.RequestEndOfMessage):
                yield mhttp.ReceiveHttp(mhttp.RequestTrailers(command.event.stream_id, http.Headers(trailers)))
            else:
                log.info("masker dropped %d response trailer field(s)", len(trailers))
        yield command


def wire_patches_installed() -> bool:
    return bool(getattr(mhttp.HttpStream.handle_event, "_masker_patch", False))


def install_wire_patches(answer_failure: FailureAnswer, error_page: ErrorPage, error_codes: Iterable[str] = ()) -> None:
    """Install the three patches with Masker's policy (idempotent: a second call only updates the policy).

    ``error_codes``: the ``ErrorCode`` names ``answer_failure`` tells apart;
    each must exist. Raises RuntimeError, naming the mitmproxy version, if
    what the patches wrap moved.
    """
    _POLICY.update(answer=answer_failure, page=error_page)
    if wire_patches_installed():
        return  # installed (maybe by an earlier import of this module)
    stream_he = mhttp.HttpStream.handle_event
    read_body = _http1.Http1Connection.read_body
    error_code = getattr(mhttp, "ErrorCode", None)
    checks = {
        "HttpStream.handle_event is Layer.handle_event": stream_he is mlayer.Layer.handle_event,
        "_http1.make_error_response": callable(getattr(_http1, "make_error_response", None)),
        "Http1Connection.read_body": callable(read_body) and hasattr(_http1, "ChunkedReader"),
        "HTTP events": all(hasattr(mhttp, n) for n in _EVENTS),
        "ErrorCode members": error_code is not None and all(hasattr(error_code, n) for n in error_codes),
    }
    if not all(checks.values()):
        raise RuntimeError(f"mitmproxy {MITMPROXY_VERSION} internals changed, Masker cannot guard them: "
                           f"{[k for k, v in checks.items() if not v]}; see masker.proxy.mitm_internals")
    _ORIGINAL.update(stream=stream_he, read_body=read_body, make_error_response=_http1.make_error_response)
    for patch, original in ((_stream_handle_event, stream_he), (_read_body, read_body),
                            (_make_error_response, _http1.make_error_response)):
        # Marks on the patch functions themselves (mypy sees the loop variable as a union of callables).
        patch._masker_patch = True  # type: ignore[union-attr]
        patch.__wrapped__ = original  # type: ignore[union-attr]  # inspect.unwrap finds mitmproxy's own
    # The patches: mitmproxy's methods replaced on purpose, with looser signatures than the originals.
    mhttp.HttpStream.handle_event = _stream_handle_event  # type: ignore[method-assign,assignment]
    _http1.Http1Connection.read_body = _read_body  # type: ignore[method-assign,assignment]
    _http1.make_error_response = _make_error_response


def uninstall_wire_patches() -> None:
    """Undo ``install_wire_patches`` (tests)."""
    if not _ORIGINAL or mhttp.HttpStream.handle_event is not _stream_handle_event:
        return
    mhttp.HttpStream.handle_event = _ORIGINAL["stream"]  # type: ignore[method-assign]  # restoring the originals
    _http1.Http1Connection.read_body = _ORIGINAL["read_body"]  # type: ignore[method-assign]
    _http1.make_error_response = _ORIGINAL["make_error_response"]
    _ORIGINAL.clear()
