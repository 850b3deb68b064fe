"""Restores the caller's tokens in LLM responses (buffered and SSE-streamed).

Every byte a client gets from an intercepted host is covered, whatever its
shape: the parsed paths are the fast path, the byte guard
(``masker.stream.guard``) the fallback and the final pass.

* Buffered JSON (a JSON type, or no / text/plain / octet-stream type with a
  body that parses as JSON) goes through the provider router (every leaf
  and key); ND-JSON line by line; SSE that was not streamed through the
  SSE rehydrator. What that produced, and every other body (text, HTML/XML,
  no type, binary: a token is ASCII, so it is found in any bytes), then
  goes through the byte guard, which restores or redacts every token still
  there (JSON-escaped inside JSON text, HTML-escaped in markup).
* SSE is streamed through the router's ``SseRehydrator`` (parsed events,
  pending token tails held back), which guards every byte it sends.
* Header values and the reason phrase (and, buffered, trailers) are guarded
  too; a header whose name holds a token is dropped.

A token cut off at the end of a body or stream is redacted, never sent.
Tokens outside the caller's scope come back redacted (the engine decides).
Errors: a buffered response becomes a 502 JSON error; a broken stream is
killed, never passed on corrupted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Sequence

from mitmproxy import ctx, http

from masker.audit.events import REHYDRATION, REHYDRATION_FAILED, Event
from masker.engine import Engine
from masker.providers import router
from masker.proxy import errors, upstream
from masker.proxy.codec import FEED_LIMIT, BodyTooLarge, StreamDecoder, decode_bounded
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import MASKED_KEY, api_path, is_json_type
from masker.proxy.options import DEFAULT_DETECT_TIMEOUT, DEFAULT_MAX_BODY, parse_detect_timeout, parse_max_body
from masker.proxy.recorder import AuditRecorder
from masker.scope import Scope
from masker.stream import guard
from masker.tokens.scheme import might_hold_token

log = logging.getLogger("masker.proxy")

RESPONSE_LIMIT_FACTOR = 8  # decoded responses may be this many times masker_max_body
# A streamed (SSE) response is not limited in total, but one event may take at
# most this many decoded bytes (and never more than masker_max_response), and
# one upstream chunk may decode to at most FEED_LIMIT: past either the stream
# is killed, never cut short silently.
SSE_EVENT_LIMIT = 8 * 1024 * 1024
_BLANK_LINES = (b"\n\n", b"\r\r", b"\n\r")  # a line end then an empty line: where an SSE event ends
# Types whose body may be JSON without saying so: parsed when they look like it.
_SNIFFED = ("", "text/plain", "application/octet-stream")
_NDJSON = ("ndjson", "jsonl", "json-seq")
# flow.metadata: the response's rehydration outcomes by kind, ``{"rehydration": {KIND: n},
# "rehydration_failed": {KIND: n}}`` (kinds and counts only), set once the response is complete
REHYDRATED_KEY = "masker_rehydrated"
# Sees a masked flow's response body as the upstream sent it (decoded, tokens only), piece by
# piece, before rehydration: the live view's public side (``masker.proxy.live_capture``).
UpstreamTap = Callable[[http.HTTPFlow, bytes], None]


def _mime(flow: http.HTTPFlow) -> str:
    assert flow.response is not None
    return flow.response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class StreamRehydration:
    """The ``flow.response.stream`` callable for one SSE response.

    Runs on the event loop per chunk: decoding and rehydration of small
    chunks only; rehydration events are kept in ``events`` and handed to the
    recorder by the ``response`` hook once the stream has ended.
    """

    def __init__(self, flow: http.HTTPFlow, engine: Engine, scope: Scope, encoding: str, event_limit: int = SSE_EVENT_LIMIT,
                 tap: UpstreamTap | None = None) -> None:
        self.flow = flow
        self._tap = tap
        self.events: list[Event] = []
        self.dead = False
        self._event_limit = event_limit
        self._event_bytes = 0  # decoded bytes since the last event boundary
        self._last_byte = b""
        self._decoder = StreamDecoder(encoding)  # no total limit; pieces() bounds each step

        def rehydrate(text: str, *, json_escape: bool = False) -> str:
            return engine.rehydrate(text, scope, self.events, json_escape=json_escape)

        self.rehydrate = rehydrate
        self._sse = router.stream_rehydrator(api_path(flow), rehydrate)

    def __call__(self, data: bytes) -> bytes | list[bytes]:
        if self.dead:
            return []
        try:
            parts: list[bytes] = []
            decoded = 0
            # decoded piece by piece: a compression bomb never sits in memory whole
            for piece in self._decoder.pieces(data) if data else self._decoder.finish_pieces():
                decoded += len(piece)
                if decoded > FEED_LIMIT:
                    raise BodyTooLarge(decoded)
                self._bound_event(piece)
                if self._tap is not None:
                    self._tap(self.flow, piece)
                if out := self._sse.feed(piece):
                    parts.append(out)
            if not data:  # end of message: flush held-back tails
                parts.append(self._sse.finish())
            out = b"".join(parts)
        except Exception as e:  # noqa: BLE001 - kill, never pass a corrupted stream on
            self.dead = True
            log.error("masker stream rehydration failed: %s; stream killed", type(e).__name__)
            if self.flow.killable:
                self.flow.kill()
            upstream.abort_upstream(self.flow)  # stop reading it now, not at its end
            return []
        return out if out else []  # b"" mid-stream would end a chunked body

    def _bound_event(self, piece: bytes) -> None:
        """BodyTooLarge once one SSE event (bytes since the last blank line) passes the limit."""
        seen = self._last_byte + piece
        end = max(seen.rfind(b) for b in _BLANK_LINES)
        self._event_bytes = len(seen) - end - 2 if end >= 0 else self._event_bytes + len(piece)
        self._last_byte = piece[-1:]
        if self._event_bytes > self._event_limit:
            raise BodyTooLarge(self._event_bytes)


class Rehydration:
    """``engine`` / ``recorder``: zero-argument callables returning the current one or None.

    Parses ``masker_max_body``, ``masker_detect_timeout`` and (when
    ``UpstreamGuard`` declares it) ``masker_max_response`` in ``configure``.
    Once a response is complete (or failed), the flow's held
    ``request_forwarded`` event and the response's rehydration events go to
    the recorder as one batch: journaled off the event loop, never delaying
    the response (``masker.proxy.recorder``).
    """

    def __init__(self, engine: Callable[[], Engine | None], recorder: Callable[[], AuditRecorder | None],
                 tap: UpstreamTap | None = None) -> None:
        self._engine = engine
        self._recorder = recorder
        self._tap = tap
        # per-flow stream state lives here, not in flow.metadata (which mitmproxy may serialize)
        self._streams: weakref.WeakKeyDictionary[http.HTTPFlow, StreamRehydration] = weakref.WeakKeyDictionary()
        self._body_limit = parse_max_body(DEFAULT_MAX_BODY) * RESPONSE_LIMIT_FACTOR
        self._timeout = parse_detect_timeout(DEFAULT_DETECT_TIMEOUT)
        self._event_limit = SSE_EVENT_LIMIT

    def configure(self, updated: set[str]) -> None:
        if "masker_max_body" in updated:
            self._body_limit = parse_max_body(ctx.options.masker_max_body) * RESPONSE_LIMIT_FACTOR
        if "masker_detect_timeout" in updated:
            self._timeout = parse_detect_timeout(ctx.options.masker_detect_timeout)
        if "masker_max_response" in updated:  # an SSE event is never longer than a buffered response may be
            self._event_limit = min(SSE_EVENT_LIMIT, upstream.parse_max_response(ctx.options.masker_max_response))

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(MASKED_KEY) or flow.response is None:
            return
        try:
            if _mime(flow) != "text/event-stream":
                return
            engine = self._engine()
            if engine is None:
                raise RuntimeError("no engine")
            resp = flow.response
            encoding = resp.headers.get("content-encoding", "identity")
            stream = StreamRehydration(flow, engine, flow.metadata[SCOPE_KEY], encoding, self._event_limit, self._tap)
            guard_head(resp, stream.rehydrate)
            resp.headers.pop("content-length", None)
            resp.headers.pop("content-encoding", None)
            resp.stream = stream
            self._streams[flow] = stream
        except Exception as e:  # noqa: BLE001 - buffer instead; the response hook refuses it
            log.error("masker could not set up stream rehydration: %s", type(e).__name__)
            flow.metadata["masker_stream_failed"] = True

    async def response(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(MASKED_KEY) or flow.response is None:
            return
        stream = self._streams.pop(flow, None)
        if stream is not None:
            self._release(flow, stream.events)
            return
        events: list[Event] = []
        try:
            if flow.metadata.get("masker_stream_failed"):
                raise RuntimeError("stream setup failed")
            await self._rehydrate_buffered(flow, events)
        except Exception as e:  # noqa: BLE001 - fail closed: never pass tokens/garbage on
            log.error("masker rehydration failed: %s", type(e).__name__)
            flow.response = errors.error_response(
                502, "rehydration_failed", f"Masker could not restore the response ({type(e).__name__})")
        finally:
            self._release(flow, events)

    def error(self, flow: http.HTTPFlow) -> None:
        stream = self._streams.pop(flow, None)
        if flow.metadata.get(MASKED_KEY):
            self._release(flow, stream.events if stream is not None else [])

    def _release(self, flow: http.HTTPFlow, events: list[Event]) -> None:
        flow.metadata[REHYDRATED_KEY] = outcome_counts(events)
        recorder = self._recorder()
        if recorder is None:
            log.error("masker has no audit recorder; %d rehydration event(s) not journaled", len(events))
            return
        recorder.release(flow.id, list(events))

    async def _rehydrate_buffered(self, flow: http.HTTPFlow, events: list[Event]) -> None:
        """Rehydrate a whole response (body, head, trailers); its rehydration events are added to ``events``."""
        resp = flow.response
        assert resp is not None
        raw = resp.raw_content
        mime = _mime(flow)
        encoding = resp.headers.get("content-encoding")
        plain = encoding in (None, "identity")
        head = _head_may_hold_token(resp)
        if not head and (not raw or (plain and not _body_may_hold_token(raw, mime))):
            if raw and self._tap is not None:
                self._tap(flow, raw)
            return  # nothing token-shaped, not even \u-escaped: passed on byte for byte, no thread hop
        engine = self._engine()
        if engine is None:
            raise RuntimeError("no engine")
        scope: Scope = flow.metadata[SCOPE_KEY]
        limit = self._body_limit
        path = api_path(flow)

        def rehydrate(t: str, *, json_escape: bool = False) -> str:
            return engine.rehydrate(t, scope, events, json_escape=json_escape)

        if head:
            guard_head(resp, rehydrate)
        if not raw:
            return

        def work() -> bytes | None:
            data = decode_bounded(raw, encoding, limit)
            if self._tap is not None:
                self._tap(flow, data)
            out = rehydrate_body(data, mime, path, rehydrate)
            return None if out is data else out

        out = await asyncio.wait_for(asyncio.to_thread(work), timeout=self._timeout)
        if out is None:
            return  # unchanged: passed on byte for byte, its encoding kept
        resp.headers.pop("content-encoding", None)
        resp.content = out


def outcome_counts(events: Sequence[Event]) -> dict[str, dict[str, int]]:
    """Rehydration events by outcome and kind (``REHYDRATED_KEY``)."""
    counts: dict[str, dict[str, int]] = {REHYDRATION: {}, REHYDRATION_FAILED: {}}
    for e in events:
        if e.kind in counts and e.entity_kind:
            counts[e.kind][e.entity_kind] = counts[e.kind].get(e.entity_kind, 0) + 1
    return counts


def _body_may_hold_token(raw: bytes, mime: str) -> bool:
    """Whether an uncompressed body could hold a token (literal, or \\u-escaped in JSON)."""
    if might_hold_token(raw):
        return True
    return _may_be_json(mime) and guard.ESCAPED_MARK_RE.search(raw) is not None


def _may_be_json(mime: str) -> bool:
    return is_json_type(mime) or mime.endswith(_NDJSON) or mime in _SNIFFED or mime == "text/event-stream"


def _mode(mime: str) -> str:
    """How the byte guard writes a restored value into a body of this type."""
    if is_json_type(mime) or mime.endswith(_NDJSON):
        return guard.JSON
    if mime in ("text/html", "application/xhtml+xml") or mime.endswith(("/xml", "+xml")):
        return guard.MARKUP
    return guard.RAW


def rehydrate_body(data: bytes, mime: str, path: str, rehydrate) -> bytes:
    """A whole (decoded) response body with every token restored or redacted.

    Returns ``data`` itself when nothing changed. The parsed path first
    (JSON, ND-JSON, SSE), then the byte guard over what it produced; bodies
    that do not parse go through the byte guard alone.
    """
    if mime == "text/event-stream":
        sse = router.stream_rehydrator(path, rehydrate)
        out = sse.feed(data) + sse.finish()
        return data if out == data else out
    mode = _mode(mime)
    if mime.endswith(_NDJSON):
        lines = data.splitlines(keepends=True)
        new = [_rehydrate_json_doc(line, path, rehydrate, at_end=i == len(lines) - 1)
               for i, line in enumerate(lines)]
        return data if all(a is b for a, b in zip(new, lines)) else b"".join(new)
    if mode == guard.JSON or (mime in _SNIFFED and data.lstrip()[:1] in (b"{", b"[", b"\"")):
        return _rehydrate_json_doc(data, path, rehydrate, at_end=True, fallback=mode)
    return guard.guard_bytes(data, rehydrate, mode, at_end=True)


def _rehydrate_json_doc(data: bytes, path: str, rehydrate, *, at_end: bool, fallback: str = guard.JSON) -> bytes:
    """One JSON document: parsed and rehydrated leaf by leaf (keys too), then
    guarded; one that does not parse (cut off, invalid UTF-8) is guarded as
    ``fallback`` text (JSON-escaped when its type says JSON)."""
    if not might_hold_token(data) and guard.ESCAPED_MARK_RE.search(data) is None:
        return data
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        return guard.guard_bytes(data, rehydrate, fallback, at_end=at_end)
    new = router.rehydrate_response(path, doc, rehydrate)
    # Written anew when the parsed pass changed something, or when \u escapes hide a token from
    # the byte guard ("MSKV1.NAME.K.AB\u0043D..." in a field the provider shape does not rehydrate).
    hidden = new is doc and b"\\u" in data and might_hold_token(json.dumps(doc, ensure_ascii=False))
    out = data if new is doc and not hidden else json.dumps(new, ensure_ascii=False).encode("utf-8", "replace")
    if out is not data and data.endswith(b"\n") and not out.endswith(b"\n"):
        out += b"\n"  # ND-JSON lines (and bodies) keep their line end
    return guard.guard_bytes(out, rehydrate, guard.JSON)  # inside JSON, a token can only be in a string


def _head_may_hold_token(resp: http.Response) -> bool:
    if might_hold_token(resp.reason or ""):
        return True
    for part in (resp.headers, resp.trailers):
        if part is not None and any(might_hold_token(n) or might_hold_token(v) for n, v in part.fields):
            return True
    return False


def guard_head(resp: http.Response, rehydrate) -> None:
    """Tokens in header values, the reason phrase and trailers restored or redacted
    (a line break in a value becomes a space); a field whose name holds a token is dropped."""
    if not _head_may_hold_token(resp):
        return
    if resp.reason and might_hold_token(resp.reason):
        reason = guard.guard_bytes(resp.reason.encode("utf-8", "surrogateescape"), rehydrate, guard.LINE)
        resp.reason = reason.decode("utf-8", "replace")
    for part in (resp.headers, resp.trailers):
        if part is None:
            continue
        fields = []
        for name, value in part.fields:
            if might_hold_token(name):
                log.warning("masker dropped a response header whose name holds a token")
                continue
            new = guard.guard_bytes(value, rehydrate, guard.LINE, at_end=True)
            fields.append((name, value if new is value else new.replace(b"\x00", b" ")))
        part.fields = tuple(fields)
