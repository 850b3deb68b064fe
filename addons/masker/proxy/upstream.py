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
failure (mitmproxy PR #7999), no hook before the HTTP/1 layer answers an
unparsable request head itself, and its HTTP/1 reader crashes on trailers.
``install_wire_patches`` (run once in ``load``) has
``masker.proxy.mitm_internals`` patch mitmproxy's HTTP layer with this
module's policy: ``_answer_failure`` (which code, status and message the
client gets in place of mitmproxy's HTML error page; HTTP/1, 2 and 3) and
``_error_page`` (the few errors the HTTP/1 layer writes itself); request
trailers then reach the ``request`` hook, which refuses them. Closing an
upstream connection (``abort_upstream``) and its idle clock go through
``mitm_internals`` too: that module is the only one touching mitmproxy
internals, and lists them. A mitmproxy whose internals moved makes ``load``
record the error and ``configure`` refuse to start instead of failing open.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref

from mitmproxy import ctx, exceptions, http
from mitmproxy.utils import human

from masker.proxy import errors, mitm_internals

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


def parse_upstream_timeout(raw: str) -> float:
    """``masker_upstream_timeout`` in seconds."""
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise exceptions.OptionsError(f"masker_upstream_timeout must be a number of seconds > 0, not {raw!r}")
    return value


def parse_max_response(raw: str) -> int:
    """``masker_max_response`` in bytes."""
    try:
        value = human.parse_size(raw)
    except ValueError:
        value = None
    if not value or value <= 0:
        raise exceptions.OptionsError(f"invalid masker_max_response {raw!r}")
    return value


# -- the policy of the wire patches (mitm_internals.install_wire_patches) --

# mitmproxy's ErrorCode (by name) -> Masker's code; any other code with an error page: upstream_unavailable
ERROR_CODES = {
    "RESPONSE_TOO_LARGE": "upstream_too_large",
    "REQUEST_TOO_LARGE": "body_too_large",
    "GENERIC_CLIENT_ERROR": "bad_request",
    "REQUEST_VALIDATION_FAILED": "bad_request",
    "DESTINATION_UNKNOWN": "bad_request",
    "CONNECT_FAILED": "upstream_unavailable",
    "GENERIC_SERVER_ERROR": "upstream_unavailable",
    "RESPONSE_VALIDATION_FAILED": "upstream_unavailable",
}
# the status codes the HTTP/1 layer answers itself -> Masker's code
PAGE_CODES = {400: "bad_request", 413: "body_too_large", 502: "upstream_unavailable", 504: "upstream_timeout"}


def _classify(flow: http.HTTPFlow | None, error_code: str) -> str:
    chosen = flow.metadata.get(ERROR_KEY) if flow is not None else None
    if chosen in MESSAGES:
        return chosen
    return ERROR_CODES.get(error_code, "upstream_unavailable")


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


def _answer_failure(failure: mitm_internals.UpstreamFailure, max_response: int | None = None) -> http.Response:
    """The JSON error the client gets in place of mitmproxy's HTML page (``max_response``: the limit, for its message)."""
    code = _classify(failure.flow, failure.error_code)
    message = MESSAGES[code]
    if code == "upstream_unavailable" and (reason := _reason(failure.message)):
        message = f"{message} ({reason})"
    if code == "upstream_too_large" and max_response:
        message = f"{message} ({max_response} bytes)"
    resp = errors.error_response(STATUS[code], code, message)
    if failure.flow is not None:
        failure.flow.metadata[ANSWERED_KEY] = code
    log.warning("masker answered %s (%d) in place of mitmproxy's error page", code, STATUS[code])
    return resp


def _error_page(status_code: int) -> http.Response:
    """The JSON error for one the HTTP/1 layer writes itself; mitmproxy's message is never used (it can quote request bytes)."""
    code = PAGE_CODES.get(status_code)
    if code is None:
        return errors.error_response(status_code, "proxy_error", "the proxy could not handle the request")
    return errors.error_response(status_code, code, MESSAGES[code])


def install_wire_patches(max_response: int | None = None) -> None:
    """Install the wire patches with this module's policy (idempotent: a second call updates the
    limit its messages name). Raises RuntimeError if mitmproxy's internals moved."""
    mitm_internals.install_wire_patches(functools.partial(_answer_failure, max_response=max_response), _error_page, ERROR_CODES)


def uninstall_wire_patches() -> None:
    """Undo ``install_wire_patches`` (tests)."""
    mitm_internals.uninstall_wire_patches()


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
    return mitm_internals.close_upstream_connections(handler, flow)


def _handler(flow: http.HTTPFlow):
    return mitm_internals.connection_handler(flow)


def _last_activity(flow: http.HTTPFlow) -> float | None:
    """Wall time of the last event on this client's connection handler (data either way, hooks)."""
    return mitm_internals.last_activity(_handler(flow))


class UpstreamGuard:
    """Owns ``masker_upstream_timeout`` and ``masker_max_response``; see the module docstring."""

    def __init__(self) -> None:
        self._timeout = float(DEFAULT_UPSTREAM_TIMEOUT)
        self._max_response = parse_max_response(DEFAULT_MAX_RESPONSE)
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
            install_wire_patches(self._max_response)
        except Exception as e:  # noqa: BLE001 - configure refuses to start (a raise in load is only logged)
            self._patch_error = str(e)

    def configure(self, updated: set[str]) -> None:
        o = ctx.options
        if self._patch_error:
            raise exceptions.OptionsError(self._patch_error)
        timeout = parse_upstream_timeout(o.masker_upstream_timeout)
        max_response = parse_max_response(o.masker_max_response)
        if max_response != self._max_response:
            install_wire_patches(max_response)  # the limit the upstream_too_large message names
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
                flow.response = errors.error_response(
                    502, "upstream_too_large", f"{MESSAGES['upstream_too_large']} ({self._max_response} bytes)"
                )
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
