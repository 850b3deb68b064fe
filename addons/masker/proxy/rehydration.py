"""Restores the caller's tokens in LLM responses (buffered and SSE-streamed).

Buffered JSON goes through the provider router; SSE is streamed through the
router's ``SseRehydrator`` (parsed events, pending token tails held back).
Tokens outside the caller's scope come back redacted (the engine decides).
Errors: a buffered response becomes a 502 JSON error; a broken stream is
killed, never passed on corrupted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Callable

from mitmproxy import http

from masker.audit.events import Event
from masker.engine import Engine
from masker.providers import router
from masker.proxy import errors, upstream
from masker.proxy.codec import FEED_LIMIT, BodyTooLarge, StreamDecoder, decode_bounded
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import MASKED_KEY, api_path, is_json_type
from masker.proxy.options import detect_timeout, max_body_bytes
from masker.proxy.recorder import AuditRecorder
from masker.scope import Scope

log = logging.getLogger("masker.proxy")

RESPONSE_LIMIT_FACTOR = 8  # decoded responses may be this many times masker_max_body
TOKEN_MARK = b"MSK"  # every Masker token (MSKV1..., MSK1...) starts with it
# A streamed (SSE) response is not limited in total, but one event may take at
# most this many decoded bytes (and never more than masker_max_response), and
# one upstream chunk may decode to at most FEED_LIMIT: past either the stream
# is killed, never cut short silently.
SSE_EVENT_LIMIT = 8 * 1024 * 1024
_BLANK_LINES = (b"\n\n", b"\r\r", b"\n\r")  # a line end then an empty line: where an SSE event ends


def _sse_event_limit() -> int:
    try:
        limit = upstream.max_response_bytes()
    except AttributeError:  # UpstreamGuard (which declares masker_max_response) not loaded
        limit = None
    return min(SSE_EVENT_LIMIT, limit or SSE_EVENT_LIMIT)


def _mime(flow: http.HTTPFlow) -> str:
    assert flow.response is not None
    return flow.response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class StreamRehydration:
    """The ``flow.response.stream`` callable for one SSE response.

    Runs on the event loop per chunk: decoding and rehydration of small
    chunks only; rehydration events are kept in ``events`` and handed to the
    recorder by the ``response`` hook once the stream has ended.
    """

    _event_limit = SSE_EVENT_LIMIT  # class defaults: tests build instances without __init__
    _event_bytes = 0  # decoded bytes since the last event boundary
    _last_byte = b""

    def __init__(self, flow: http.HTTPFlow, engine: Engine, scope: Scope, encoding: str, event_limit: int = SSE_EVENT_LIMIT) -> None:
        self.flow = flow
        self.events: list[Event] = []
        self.dead = False
        self._event_limit = event_limit
        self._decoder = StreamDecoder(encoding)  # no total limit; pieces() bounds each step

        def rehydrate(text: str, *, json_escape: bool = False) -> str:
            return engine.rehydrate(text, scope, self.events, json_escape=json_escape)

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

    Once a response is complete (or failed), the flow's held
    ``request_forwarded`` event and the response's rehydration events go to
    the recorder as one batch: journaled off the event loop, never delaying
    the response (``masker.proxy.recorder``).
    """

    def __init__(self, engine: Callable[[], Engine | None], recorder: Callable[[], AuditRecorder | None]) -> None:
        self._engine = engine
        self._recorder = recorder
        # per-flow stream state lives here, not in flow.metadata (which mitmproxy may serialize)
        self._streams: weakref.WeakKeyDictionary[http.HTTPFlow, StreamRehydration] = weakref.WeakKeyDictionary()

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
            stream = StreamRehydration(flow, engine, flow.metadata[SCOPE_KEY], encoding, _sse_event_limit())
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
            flow.response = errors.error_response(502, "rehydration_failed", f"Masker could not restore the response ({type(e).__name__})")
        finally:
            self._release(flow, events)

    def error(self, flow: http.HTTPFlow) -> None:
        stream = self._streams.pop(flow, None)
        if flow.metadata.get(MASKED_KEY):
            self._release(flow, stream.events if stream is not None else [])

    def _release(self, flow: http.HTTPFlow, events: list[Event]) -> None:
        recorder = self._recorder()
        if recorder is None:
            log.error("masker has no audit recorder; %d rehydration event(s) not journaled", len(events))
            return
        recorder.release(flow.id, list(events))

    async def _rehydrate_buffered(self, flow: http.HTTPFlow, events: list[Event]) -> None:
        """Rehydrate a whole response body; its rehydration events are added to ``events``."""
        resp = flow.response
        assert resp is not None
        raw = resp.raw_content
        mime = _mime(flow)
        jsonish = is_json_type(mime) or mime.endswith("ndjson")
        if not raw or not (jsonish or mime.startswith("text/")):
            return  # empty or binary (audio, files): nothing token-shaped to restore
        engine = self._engine()
        if engine is None:
            raise RuntimeError("no engine")
        encoding = resp.headers.get("content-encoding")
        if encoding in (None, "identity") and TOKEN_MARK not in raw and b"\\u" not in raw:
            return  # no token, not even \u-escaped: passed on byte for byte, no thread hop
        scope: Scope = flow.metadata[SCOPE_KEY]
        limit = (max_body_bytes() or 0) * RESPONSE_LIMIT_FACTOR
        path = api_path(flow)

        def work() -> str:
            text = decode_bounded(raw, encoding, limit).decode("utf-8")

            def rehydrate(t: str, *, json_escape: bool = False) -> str:
                return engine.rehydrate(t, scope, events, json_escape=json_escape)

            if is_json_type(mime):
                try:
                    doc = json.loads(text)
                except ValueError:
                    out = rehydrate(text, json_escape=True)
                else:
                    out = json.dumps(router.rehydrate_response(path, doc, rehydrate), ensure_ascii=False)
            else:
                out = rehydrate(text, json_escape=jsonish)
            return out

        out = await asyncio.wait_for(asyncio.to_thread(work), timeout=detect_timeout())
        resp.headers.pop("content-encoding", None)
        resp.content = out.encode("utf-8")
