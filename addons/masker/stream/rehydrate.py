"""Per-key stream rehydration: hold back only what could still become a token.

Each stream of text deltas (a chat choice, a tool call's arguments, a content
block, an output item) has its own pending tail. A delta is appended to the
tail; everything before the first position where a token could still begin
is rehydrated and emitted at once, the rest waits for the next delta or for
the key to be flushed. Text without an ``M`` is therefore never delayed.
A tail flushed when its key ends that is a token cut off (``MSKV1.NAME.K_X.AB``:
the model hit its limit, the stream ended) is redacted, never sent as is.

``SseRehydrator`` glues the SSE parser to an ``EventRehydrator`` (one per
provider stream shape) that rewrites parsed JSON events, and then guards
every byte it sends (``masker.stream.guard``): a token the parsed path did
not restore (``event:``/``id:``/comment lines, data that is not JSON,
invalid UTF-8, fields a shape does not look at, JSON keys) is restored or
redacted there, JSON-escaped on data lines that hold JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from masker import metrics
from masker.providers.base import RehydrateFn, rehydrate_leaves
from masker.stream import guard
from masker.stream.sse import SseEvent, SseParser, make_event
from masker.tokens.scheme import might_hold_token, pending_token_start

Envelope = Callable[[str], Any]


@dataclass(slots=True)
class _Tail:
    text: str
    json_escape: bool
    envelope: Envelope
    since: float  # time.perf_counter() when its first character was held back


class PendingTails:
    """Pending (not yet emitted) text per key, in first-seen order.

    ``envelope`` builds the event that carries a flushed tail: it is given
    the rehydrated text and returns a JSON object shaped like the key's last
    delta event.
    """

    def __init__(self, rehydrate: RehydrateFn) -> None:
        self._rehydrate = rehydrate
        self._tails: dict[Hashable, _Tail] = {}

    def push(self, key: Hashable, text: str, *, envelope: Envelope, json_escape: bool = False) -> str:
        """Rehydrated text of ``key`` that can be emitted now (may be empty)."""
        tail = self._tails.pop(key, None)
        buf = tail.text + text if tail is not None else text
        cut = pending_token_start(buf)
        if cut is None:
            cut = len(buf)
        if tail is not None and cut:
            metrics.stream_held_back(time.perf_counter() - tail.since)  # the held text goes out now
        if cut < len(buf):
            since = tail.since if tail is not None and not cut else time.perf_counter()
            self._tails[key] = _Tail(buf[cut:], json_escape, envelope, since)
        return self._rehydrate(buf[:cut], json_escape=json_escape) if cut else ""

    def take(self, key: Hashable) -> str:
        """Rehydrated pending text of ``key`` (empty if none); the key is done."""
        tail = self._tails.pop(key, None)
        if tail is None:
            return ""
        metrics.stream_held_back(time.perf_counter() - tail.since)
        return guard.rehydrate_text_end(tail.text, self._rehydrate, json_escape=tail.json_escape)

    def keys(self) -> list[Hashable]:
        return list(self._tails)

    def flush(self, keys: Iterable[Hashable] | None = None) -> list[Any]:
        """Envelope events carrying the pending text of ``keys`` (default: all)."""
        chosen = list(self._tails) if keys is None else [k for k in keys if k in self._tails]
        out = []
        for key in chosen:
            tail = self._tails[key]
            out.append(tail.envelope(self.take(key)))
        return out


class EventRehydrator(Protocol):
    """Rewrites the parsed JSON events of one stream shape."""

    def event(self, obj: Any) -> tuple[list[Any], Any | None]:
        """(extra events to send first, the rewritten event or None if unchanged).

        ``obj`` was freshly parsed for this call: the handler owns it and may
        rewrite it in place or keep it as a template for later flushes.
        """

    def end(self) -> list[Any]:
        """Events that flush every pending tail (end of stream, ``[DONE]``)."""


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class SseRehydrator:
    """Raw upstream SSE bytes in, rehydrated SSE bytes out, under any chunking.

    ``rehydrate`` is what the byte guard and the second look at unchanged
    events use; without it every token they find is redacted (fail closed),
    so the proxy passes the engine's (``masker.proxy.rehydration``).
    """

    def __init__(self, handler: EventRehydrator, rehydrate: RehydrateFn | None = None) -> None:
        self._handler = handler
        self._parser = SseParser()
        self._last: SseEvent | None = None  # the last event as it was sent
        self._like: SseEvent | None = None  # the last data event: framing for flushes
        self.rehydrate: RehydrateFn = rehydrate if rehydrate is not None else guard.redact_all

    def feed(self, data: bytes) -> bytes:
        """Bytes to send now for ``data`` (possibly empty while a tail is held)."""
        return b"".join(self._event(ev) for ev in self._parser.feed(data))

    def finish(self) -> bytes:
        """End of body: the rest of the stream and every pending tail."""
        out = b"".join(self._event(ev) for ev in self._parser.finish())
        extras = self._handler.end()
        if extras:
            if self._last is not None:
                out += self._last.closing()
            out += self._frame(extras, self._like)
        return out

    def _event(self, ev: SseEvent) -> bytes:
        self._last = ev
        cut = not ev.terminator  # cut off by the end of the stream
        data = ev.data
        if data is None or not ev.is_utf8:  # no data (comments, event:/id: only) or not UTF-8: bytes
            raw = ev.raw()
            if not might_hold_token(raw):
                return raw
            return self._guard(raw, json_data=not ev.is_utf8 and _json_data(ev), at_end=cut)
        self._like = ev
        if data.strip() == "[DONE]":
            return self._frame(self._handler.end(), ev) + self._guard(ev.raw(), json_data=False, at_end=cut)
        try:
            obj = json.loads(data)
        except ValueError:
            return self._guard(ev.raw(), json_data=False, at_end=cut)
        escaped = "\\u00" in data and guard.ESCAPED_MARK_STR_RE.search(data) is not None
        extras, new = self._handler.event(obj)
        if new is None and escaped:
            # Sent as it came, so a \u-escaped token in a field the shape does not
            # look at would reach the client: every leaf and key gets a look.
            again, changed = rehydrate_leaves(json.loads(data), self.rehydrate)
            new = again if changed else None
        if new is not None:
            self._last = ev.with_data(dumps(new))
        return self._frame(extras, ev) + self._guard(self._last.raw(), json_data=True, at_end=cut)

    def _guard(self, raw: bytes, *, json_data: bool, at_end: bool) -> bytes:
        """Every token left in an event's bytes restored or redacted (``masker.stream.guard``)."""
        if not might_hold_token(raw):
            return raw
        line_mode = _json_event_line_mode if json_data else _text_event_line_mode
        return guard.guard_lines(raw, self.rehydrate, line_mode, at_end=at_end)

    def _frame(self, objs: list[Any], like: SseEvent | None) -> bytes:
        """Serialize extra events in the framing of ``like`` (event: line, EOL)."""
        if not objs:
            return b""
        eol = like.eol if like is not None else b"\n"
        named = like is not None and like.event_type is not None
        out = b""
        for obj in objs:
            name = obj.get("type") if named and isinstance(obj, dict) else None
            raw = make_event(dumps(obj), event=name if isinstance(name, str) else None, eol=eol).raw()
            out += self._guard(raw, json_data=True, at_end=False)
        return out


def _is_data_line(line: bytes) -> bool:
    name = line.rstrip(b"\r\n").partition(b":")[0]
    return name == b"data"


def _json_event_line_mode(line: bytes) -> str:
    """Data lines of an event whose data is JSON: a token sits inside a JSON string."""
    return guard.JSON if _is_data_line(line) else guard.LINE


def _text_event_line_mode(line: bytes) -> str:
    return guard.LINE


def _json_data(ev: SseEvent) -> bool:
    """Whether an event's data (invalid UTF-8 allowed) is JSON."""
    values = []
    for line in ev.lines:
        body = line.rstrip(b"\r\n")
        name, sep, value = body.partition(b":")
        if name == b"data":
            values.append(value[1:] if value.startswith(b" ") else value)
    try:
        json.loads(b"\n".join(values).decode("utf-8", "surrogateescape"))
    except ValueError:
        return False
    return True
