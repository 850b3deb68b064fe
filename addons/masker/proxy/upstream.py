"""What the client gets when the upstream fails: Masker's JSON error, never
mitmproxy's HTML page, a hung connection or a crashed connection handler.

``UpstreamGuard`` owns ``masker_upstream_timeout`` and ``masker_max_response``:

- ``upstream_unavailable`` (502): connection refused or reset, TLS failure,
  a closed connection or bytes that are not HTTP where a response should be.
- ``upstream_timeout`` (504): nothing from the upstream connection for
  ``masker_upstream_timeout`` seconds, before the response headers or in a
  gap of the body. Masker then closes the upstream connection itself; a
  response already streaming to the client is cut off (the client sees an
  incomplete body), never silently ended.
- ``upstream_too_large`` (502): a buffered (not streamed) response over
  ``masker_max_response``: refused at its Content-Length, or once mitmproxy's
  ``body_size_limit`` stops it, or after buffering.
- ``trailers_unsupported`` (400): a request with trailer fields (trailers
  would go upstream unscanned).

mitmproxy 12 has no hook that chooses the client's answer to an upstream
failure (``flow.response`` set in the ``error`` hook is ignored, see
mitmproxy PR #7999), and its HTTP/1 reader raises on trailers, crashing the
connection handler and leaving the client hanging. So ``install_wire_patches``
(run once in ``load``) changes three places of ``mitmproxy.proxy.layers.http``:

1. ``HttpStream.handle_event``: a ``ResponseProtocolError`` that would make
   mitmproxy write its HTML error page to a client that has no response yet
   is preceded by a complete JSON error response (headers, body, end of
   message; the error then only closes the connection). HTTP/1, 2 and 3.
2. ``_http1.make_error_response``: the few HTML errors the HTTP/1 layer
   writes itself (an unparsable request head) are JSON too.
3. ``Http1Connection.read_body``: chunked trailers become a
   ``RequestTrailers`` event (the request hooks see them and Masker refuses
   the request) or, on responses, are dropped (HTTP lets a proxy drop them).

The patches are checked against what they wrap when installed; a mitmproxy
whose internals moved makes ``load`` fail loudly instead of failing open.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Callable, Iterator

import h11
from mitmproxy import ctx, exceptions, http
from mitmproxy.connection import Server
from mitmproxy.net.http import http1
from mitmproxy.proxy import layer as mlayer
from mitmproxy.proxy.layers import http as mhttp
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.utils import human

from masker.proxy import errors

log = logging.getLogger("masker.proxy")

DEFAULT_UPSTREAM_TIMEOUT = "300"
DEFAULT_MAX_RESPONSE = "64m"
TCP_TIMEOUT_MARGIN_S = 30  # mitmproxy's idle close must come after Masker's 504
ERROR_KEY = "masker_upstream_error"  # flow.metadata: the code Masker chose for an upstream failure
ANSWERED_KEY = "masker_error_answered"  # flow.metadata: the code of the JSON error the client got

MESSAGES = {
    "upstream_unavailable": "the upstream could not be reached or did not answer with HTTP",
    "upstream_timeout": "the upstream did not answer in time (masker_upstream_timeout); Masker closed the connection",
    "upstream_too_large": "the upstream response is larger than Masker buffers",
    "body_too_large": "request body exceeds the proxy's size limit",
    "bad_request": "the request could not be parsed as HTTP",
    "trailers_unsupported": "Masker does not forward request trailers",
}
STATUS = {"upstream_unavailable": 502, "upstream_timeout": 504, "upstream_too_large": 502,
          "body_too_large": 413, "bad_request": 400, "trailers_unsupported": 400}


def upstream_timeout() -> float | None:
    """``masker_upstream_timeout`` in seconds, None when invalid."""
    try:
        value = float(ctx.options.masker_upstream_timeout)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None


def max_response_bytes() -> int | None:
    try:
        value = human.parse_size(ctx.options.masker_max_response)
    except ValueError:
        return None
    return value if value and value > 0 else None


# -- wire patches ---------------------------------------------------------

def _classify(stream: mhttp.HttpStream, event: mhttp.ResponseProtocolError) -> str:
    flow = getattr(stream, "flow", None)
    chosen = flow.metadata.get(ERROR_KEY) if flow is not None else None
    if chosen in MESSAGES:
        return chosen
    code = event.code
    E = mhttp.ErrorCode
    if code == E.RESPONSE_TOO_LARGE:
        return "upstream_too_large"
    if code == E.REQUEST_TOO_LARGE:
        return "body_too_large"
    if code in (E.GENERIC_CLIENT_ERROR, E.REQUEST_VALIDATION_FAILED, E.DESTINATION_UNKNOWN):
        return "bad_request"
    return "upstream_unavailable"  # CONNECT_FAILED, GENERIC_SERVER_ERROR, RESPONSE_VALIDATION_FAILED


def _reason(message: str) -> str:
    """A short cause from mitmproxy's message, never the message itself (it may quote upstream bytes)."""
    m = message.lower()
    if m.startswith(("unexpected server response", "cannot parse http response")):
        return "not an HTTP response"  # the rest of these messages is upstream bytes: not looked at
    for needle, reason in (("tls", "TLS handshake failed"), ("certificate", "TLS handshake failed"),
                           ("refused", "connection refused"), ("connect call failed", "connection refused"),
                           ("reset", "connection reset"),
                           ("name or service", "name not resolved"), ("getaddrinfo", "name not resolved"),
                           ("server closed connection", "connection closed"), ("protocol error", "HTTP protocol error")):
        if needle in m:
            return reason
    return ""


def _json_answer(stream: mhttp.HttpStream, command: mhttp.SendHttp) -> list | None:
    """Commands that answer the client with a JSON error in place of mitmproxy's HTML page."""
    event = command.event
    if event.code.http_status_code() is None or getattr(stream, "_masker_answered", False):
        return None  # a kill or disconnect (no page), or the client has its response already
    code = _classify(stream, event)
    message = MESSAGES[code]
    if code == "upstream_unavailable" and (reason := _reason(event.message)):
        message = f"{message} ({reason})"
    if code == "upstream_too_large" and (limit := _limit_or_none()):
        message = f"{message} ({limit} bytes)"
    resp = errors.error_response(STATUS[code], code, message)
    alpn = stream.context.client.alpn
    if not alpn or alpn.startswith(b"http/1"):
        resp.headers["connection"] = "close"
    flow = getattr(stream, "flow", None)
    head = flow is not None and flow.request is not None and flow.request.method.upper() == "HEAD"
    if flow is not None:
        flow.metadata[ANSWERED_KEY] = code
    log.warning("masker answered %s (%d) in place of mitmproxy's error page", code, STATUS[code])
    stream._masker_answered = True
    client = command.connection
    out = [mhttp.SendHttp(mhttp.ResponseHeaders(event.stream_id, resp, end_stream=False), client)]
    if not head:
        out.append(mhttp.SendHttp(mhttp.ResponseData(event.stream_id, resp.raw_content or b""), client))
    out.append(mhttp.SendHttp(mhttp.ResponseEndOfMessage(event.stream_id), client))
    out.append(command)  # closes the connection (HTTP/1) or resets what is left of the stream
    return out


def _limit_or_none() -> int | None:
    try:
        return max_response_bytes()
    except Exception:  # noqa: BLE001 - no options (unit tests): no size in the message
        return None


def _stream_handle_event(self: mhttp.HttpStream, event) -> Iterator:
    for command in _ORIGINAL["stream"](self, event):
        if isinstance(command, mhttp.SendHttp) and command.connection is self.context.client:
            if isinstance(command.event, mhttp.ResponseHeaders) and command.event.response.status_code >= 200:
                self._masker_answered = True
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


def _json_error_bytes(status_code: int, message: str = "") -> bytes:
    """Replaces ``_http1.make_error_response``: ``message`` is dropped (it can quote request bytes)."""
    code = {400: "bad_request", 413: "body_too_large", 502: "upstream_unavailable", 504: "upstream_timeout"}.get(status_code)
    if code is None:
        resp = errors.error_response(status_code, "proxy_error", "the proxy could not handle the request")
    else:
        resp = errors.error_response(status_code, code, MESSAGES[code])
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
    reader = self.body_reader
    if isinstance(reader, _http1.ChunkedReader):
        reader = self.body_reader = _TrailerCatcher(reader)
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


_ORIGINAL: dict[str, Callable] = {}


def install_wire_patches() -> None:
    """Install the three patches (idempotent). Raises RuntimeError if mitmproxy's internals moved."""
    if getattr(mhttp.HttpStream.handle_event, "_masker_patch", False):
        return  # installed (maybe by an earlier import of this module)
    stream_he = mhttp.HttpStream.handle_event
    read_body = _http1.Http1Connection.read_body
    checks = {
        "HttpStream.handle_event is Layer.handle_event": stream_he is mlayer.Layer.handle_event,
        "_http1.make_error_response": callable(getattr(_http1, "make_error_response", None)),
        "Http1Connection.read_body": callable(read_body) and hasattr(_http1, "ChunkedReader"),
        "HTTP events": all(hasattr(mhttp, n) for n in ("SendHttp", "ReceiveHttp", "ResponseProtocolError", "RequestTrailers", "ErrorCode")),
    }
    if not all(checks.values()):
        raise RuntimeError(f"mitmproxy internals changed, Masker cannot guard them: {[k for k, v in checks.items() if not v]}")
    _ORIGINAL.update(stream=stream_he, read_body=read_body, make_error_response=_http1.make_error_response)
    for patch in (_stream_handle_event, _read_body, _json_error_bytes):
        patch._masker_patch = True  # type: ignore[attr-defined]
    mhttp.HttpStream.handle_event = _stream_handle_event
    _http1.Http1Connection.read_body = _read_body
    _http1.make_error_response = _json_error_bytes


def uninstall_wire_patches() -> None:
    """Undo ``install_wire_patches`` (tests)."""
    if not _ORIGINAL or mhttp.HttpStream.handle_event is not _stream_handle_event:
        return
    mhttp.HttpStream.handle_event = _ORIGINAL["stream"]
    _http1.Http1Connection.read_body = _ORIGINAL["read_body"]
    _http1.make_error_response = _ORIGINAL["make_error_response"]
    _ORIGINAL.clear()


# -- closing a hung or oversized upstream ---------------------------------

def abort_upstream(flow: http.HTTPFlow, code: str | None = None) -> bool:
    """Close the upstream connection(s) serving ``flow`` now; ``code`` is what
    the client is told (if it has no response yet). True if one was closed.

    mitmproxy then sees the connection close, fires the ``error`` hook and
    answers the client (``install_wire_patches`` makes that JSON). While the
    connection is still being set up (TCP or TLS), every upstream connection
    of this client connection still being set up is closed.
    """
    if code is not None:
        flow.metadata[ERROR_KEY] = code
    handler = _handler(flow)
    if handler is None:
        return False
    closed = False
    try:
        for conn, io in list(handler.transports.items()):
            if conn is flow.client_conn or io.handler is None:
                continue
            if conn is flow.server_conn or _still_connecting(conn, io):
                handler.close_connection(conn)  # marks it closed, cancels its reader: the layers see it close
                closed = True
    except Exception as e:  # noqa: BLE001 - internals moved: the caller falls back to flow.kill()
        log.error("masker could not close an upstream connection: %s", type(e).__name__)
    return closed


def _handler(flow: http.HTTPFlow):
    try:
        server = ctx.master.addons.get("proxyserver")
        return server.connections.get(flow.client_conn.id) if server is not None else None
    except Exception:  # noqa: BLE001 - no master (unit tests)
        return None


def _still_connecting(conn, io) -> bool:
    return isinstance(conn, Server) and (io.reader is None or (conn.tls and not conn.tls_established))


def _last_activity(flow: http.HTTPFlow) -> float | None:
    """Wall time of the last event on this client's connection handler (data either way, hooks)."""
    handler = _handler(flow)
    watchdog = getattr(handler, "timeout_watchdog", None)
    return getattr(watchdog, "last_activity", None)


class UpstreamGuard:
    """Owns ``masker_upstream_timeout`` and ``masker_max_response``; see the module docstring."""

    def __init__(self) -> None:
        self._timeout = float(DEFAULT_UPSTREAM_TIMEOUT)
        self._max_response = human.parse_size(DEFAULT_MAX_RESPONSE) or 0
        self._timers: weakref.WeakKeyDictionary[http.HTTPFlow, asyncio.TimerHandle] = weakref.WeakKeyDictionary()
        self._armed: weakref.WeakKeyDictionary[http.HTTPFlow, float] = weakref.WeakKeyDictionary()
        self._patch_error = ""

    def load(self, loader) -> None:
        loader.add_option(
            "masker_upstream_timeout",
            str,
            DEFAULT_UPSTREAM_TIMEOUT,
            "Seconds the upstream may stay silent (before the response headers, or between body bytes) "
            "before Masker closes it; the client gets 504 upstream_timeout (a streaming response is cut off).",
        )
        loader.add_option(
            "masker_max_response",
            str,
            DEFAULT_MAX_RESPONSE,
            "Largest upstream response body Masker buffers (streamed SSE is not limited in total, "
            "only per event); larger gets 502 upstream_too_large.",
        )
        try:
            install_wire_patches()
        except Exception as e:  # noqa: BLE001 - configure refuses to start (a raise in load is only logged)
            self._patch_error = str(e)

    def configure(self, updated: set[str]) -> None:
        o = ctx.options
        if self._patch_error:
            raise exceptions.OptionsError(self._patch_error)
        timeout = upstream_timeout()
        if timeout is None:
            raise exceptions.OptionsError(f"masker_upstream_timeout must be a number of seconds > 0, not {o.masker_upstream_timeout!r}")
        max_response = max_response_bytes()
        if max_response is None:
            raise exceptions.OptionsError(f"invalid masker_max_response {o.masker_max_response!r}")
        self._timeout, self._max_response = timeout, max_response
        changes: dict[str, object] = {}
        # mitmproxy's body_size_limit is the hard cap on what it buffers, requests and responses alike.
        hard = human.parse_size(o.body_size_limit) if o.body_size_limit else None
        if hard is None or hard < max_response:
            changes["body_size_limit"] = str(max_response)
        if o.tcp_timeout <= timeout:
            changes["tcp_timeout"] = int(timeout) + TCP_TIMEOUT_MARGIN_S
        if changes:
            o.update(**changes)

    # -- hooks

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            if flow.response is not None or flow.metadata.get("masker_local"):
                return
            if flow.request.trailers:
                errors.refuse(flow, 400, "trailers_unsupported", MESSAGES["trailers_unsupported"])
                return
            self._arm(flow, self._timeout)
        except Exception as e:  # noqa: BLE001
            errors.fail_closed(flow, "upstream_guard", e)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        try:
            resp = flow.response
            if resp is None or flow.metadata.get("masker_refused"):
                return
            self._armed[flow] = time.time()  # headers arrived: the idle clock restarts
            mime = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            try:
                size = int(resp.headers.get("content-length", ""))
            except ValueError:
                size = None
            if size is not None and size > self._max_response and mime != "text/event-stream" and not resp.stream:
                log.warning("masker refused an upstream response of %d bytes (limit %d)", size, self._max_response)
                self._cancel(flow)
                if not abort_upstream(flow, "upstream_too_large"):
                    flow.kill()
        except Exception as e:  # noqa: BLE001 - an oversized answer must not get through
            log.error("masker upstream check failed: %s", type(e).__name__)
            flow.metadata[ERROR_KEY] = "upstream_unavailable"
            if not abort_upstream(flow) and flow.killable:
                flow.kill()

    def response(self, flow: http.HTTPFlow) -> None:
        self._cancel(flow)
        try:
            resp = flow.response
            if resp is None:
                return
            if resp.trailers and not (flow.request.is_http2 or flow.request.is_http3):
                resp.trailers = None  # HTTP/1 clients: mitmproxy cannot write trailers (and need not)
            if flow.metadata.get("masker_refused") or resp.stream:
                return
            raw = resp.raw_content
            if raw is not None and len(raw) > self._max_response:
                log.warning("masker refused an upstream response of %d bytes (limit %d)", len(raw), self._max_response)
                flow.response = errors.error_response(502, "upstream_too_large", f"{MESSAGES['upstream_too_large']} ({self._max_response} bytes)")
                flow.metadata[ANSWERED_KEY] = "upstream_too_large"
        except Exception as e:  # noqa: BLE001
            log.error("masker upstream check failed: %s", type(e).__name__)
            flow.response = errors.error_response(502, "upstream_guard_failed", "Masker could not check the upstream response")

    def error(self, flow: http.HTTPFlow) -> None:
        self._cancel(flow)

    def done(self) -> None:
        for handle in list(self._timers.values()):
            handle.cancel()
        self._timers.clear()

    # -- the upstream clock

    def _arm(self, flow: http.HTTPFlow, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (unit tests calling hooks directly)
        self._armed.setdefault(flow, time.time())
        old = self._timers.pop(flow, None)
        if old is not None:
            old.cancel()
        self._timers[flow] = loop.call_later(delay, self._expire, flow)

    def _cancel(self, flow: http.HTTPFlow) -> None:
        handle = self._timers.pop(flow, None)
        if handle is not None:
            handle.cancel()
        self._armed.pop(flow, None)

    def _expire(self, flow: http.HTTPFlow) -> None:
        self._timers.pop(flow, None)
        try:
            if flow.error is not None or (flow.response is not None and flow.response.timestamp_end is not None):
                return
            last = max(self._armed.get(flow, 0.0), _last_activity(flow) or 0.0)
            idle = time.time() - last
            if idle < self._timeout:
                self._arm(flow, self._timeout - idle + 0.05)
                return
            log.warning("masker: no answer from the upstream for %.0f s; closing it", idle)
            self._armed.pop(flow, None)
            if not abort_upstream(flow, "upstream_timeout"):
                log.error("masker found no upstream connection to close for a timed-out flow")
        except Exception as e:  # noqa: BLE001 - a timer must not take the loop down
            log.error("masker upstream timer failed: %s", type(e).__name__)
