"""Incremental Server-Sent Events parser and serializer.

Works on raw bytes so that any chunking is harmless: a line is only decoded
once its terminator has arrived, so a chunk boundary in the middle of a line,
of a UTF-8 multibyte character or of a ``\\r\\n`` pair never matters.

An event keeps its raw lines, so events that are not rewritten go out
byte-for-byte (``event:``/``id:``/``retry:`` lines, comments, CRLF vs LF).
A rewritten event keeps every non-data line and replaces its data lines.

The parser is linear in what it is fed, whatever the chunking: it remembers
where its last search for a line end stopped (one 16 MiB line fed in 32 KiB
chunks: 47 s before, 0.05 s now; ``scripts/bench_sse.py --ref <rev>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EOL_RE = re.compile(rb"\r\n|\n|\r")


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One event block: its raw lines and the blank line that ended it.

    ``lines`` hold each field or comment line with its own terminator;
    ``terminator`` is the blank line (``b"\\n"``, ``b"\\r\\n"``, ``b"\\r"``),
    or ``b""`` for a block cut off by the end of the stream.
    """

    lines: tuple[bytes, ...]
    terminator: bytes

    def raw(self) -> bytes:
        return b"".join(self.lines) + self.terminator

    @property
    def eol(self) -> bytes:
        """The line terminator this event uses (LF when it cannot tell)."""
        for line in self.lines:
            m = _EOL_RE.search(line)
            if m is not None:
                return m.group(0)
        return self.terminator or b"\n"

    def field(self, name: str) -> str | None:
        """Value of the last ``name`` field (``data`` values are joined by LF)."""
        values = [v for k, v in self._fields() if k == name]
        if not values:
            return None
        return "\n".join(values) if name == "data" else values[-1]

    @property
    def is_utf8(self) -> bool:
        raw = b"".join(self.lines)
        if raw.isascii():  # much faster than decoding (base64 image events are ASCII)
            return True
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    @property
    def data(self) -> str | None:
        return self.field("data")

    @property
    def event_type(self) -> str | None:
        return self.field("event")

    def _fields(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for line in self.lines:
            parsed = _parse_line(line)
            if parsed is not None:
                out.append(parsed)
        return out

    def with_data(self, data: str) -> SseEvent:
        """This event with its data lines replaced by ``data``.

        The new data lines take the place (and the ``data:`` vs ``data: ``
        spelling) of the first old data line; other lines stay as they were.
        """
        eol = self.eol
        prefix = b"data: "
        at = None
        kept: list[bytes] = []
        for line in self.lines:
            parsed = _parse_line(line)
            if parsed is not None and parsed[0] == "data":
                if at is None:
                    at = len(kept)
                    prefix = b"data:" if not line.startswith(b"data: ") else b"data: "
                continue
            kept.append(line)
        new = [prefix + part.encode("utf-8") + eol for part in data.split("\n")]
        if at is None:
            at = len(kept)
        return SseEvent(tuple(kept[:at] + new + kept[at:]), self.terminator)

    def closing(self) -> bytes:
        """Bytes that end this event when it was cut off by the end of the stream."""
        if self.terminator:
            return b""
        eol = self.eol
        last = self.lines[-1] if self.lines else b""
        return (eol if last and not last.endswith((b"\n", b"\r")) else b"") + eol


def _parse_line(line: bytes) -> tuple[str, str] | None:
    """(field, value) of a raw line; None for comments and undecodable lines."""
    body = line.rstrip(b"\r\n")  # a line holds no CR/LF before its terminator
    if not body or body.startswith(b":"):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    name, sep, value = text.partition(":")
    if sep and value.startswith(" "):
        value = value[1:]
    return name, value


def make_event(data: str, *, event: str | None = None, eol: bytes = b"\n") -> SseEvent:
    """A new event (``event:`` line when given) carrying ``data``."""
    lines: list[bytes] = []
    if event is not None:
        lines.append(b"event: " + event.encode("utf-8") + eol)
    lines.extend(b"data: " + part.encode("utf-8") + eol for part in data.split("\n"))
    return SseEvent(tuple(lines), eol)


class SseParser:
    """Turns bytes in arbitrary chunks into complete ``SseEvent`` blocks.

    Linear in the bytes fed, however they are chunked: ``_scanned`` remembers
    how far the unfinished line at the end of the buffer has already been
    searched for a line end, so a long line (a base64 image event) arriving
    in many chunks is searched once, not once per chunk.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf known to hold no line end (searching resumes here)
        self._lines: list[bytes] = []

    def feed(self, data: bytes) -> list[SseEvent]:
        if not data:
            return []
        self._buf += data
        return self._drain(final=False)

    def finish(self) -> list[SseEvent]:
        """End of stream: an unterminated last line and block come out as is."""
        events = self._drain(final=True)
        if self._buf:
            self._lines.append(bytes(self._buf))
            self._buf.clear()
        self._scanned = 0
        if self._lines:
            events.append(SseEvent(tuple(self._lines), b""))
            self._lines = []
        return events

    def _drain(self, *, final: bool) -> list[SseEvent]:
        events: list[SseEvent] = []
        buf = self._buf
        pos = 0
        start = self._scanned
        # Next CR and LF at or after ``start`` (memchr-fast ``find``); each is only
        # searched again once ``pos`` has passed it, so a feed costs one pass.
        cr = buf.find(b"\r", start)
        lf = buf.find(b"\n", start)
        while True:
            if cr != -1 and cr < pos:
                cr = buf.find(b"\r", pos)
            if lf != -1 and lf < pos:
                lf = buf.find(b"\n", pos)
            if cr == -1 and lf == -1:
                scan = len(buf)
                break
            if cr != -1 and (lf == -1 or cr < lf):
                if cr + 1 == len(buf) and not final:
                    scan = cr  # a lone CR at the end may be the first half of CRLF: look again
                    break
                end = cr + 2 if lf == cr + 1 else cr + 1
            else:
                end = lf + 1
            line = bytes(buf[pos:end])
            eol_len = 2 if end - pos >= 2 and line[-2:] == b"\r\n" else 1
            blank = len(line) == eol_len
            pos = end
            if blank:  # blank line: dispatch
                if self._lines:
                    events.append(SseEvent(tuple(self._lines), line))
                    self._lines = []
                else:  # stray blank line between events: keep it verbatim
                    events.append(SseEvent((), line))
            else:
                self._lines.append(line)
        if pos:
            del buf[:pos]  # CPython moves the start of a bytearray: no copy of the rest
        self._scanned = scan - pos
        return events
