"""Incremental SSE parser/serializer: any chunking, framing preserved."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from masker.stream.sse import SseEvent, SseParser, make_event

STREAM = (
    b": keep-alive comment\r\n"
    b"\r\n"
    b"event: message_start\r\n"
    b"id: 7\r\n"
    b'data: {"type":"message_start","text":"h\xc3\xa9llo \xe2\x82\xac"}\r\n'
    b"\r\n"
    b"retry: 1000\n"
    b"data:no-space\n"
    b"data: second line\n"
    b"\n"
    b"data: lone-cr\r"
    b"\r"
    b"data: [DONE]\n"
    b"\n"
)


def parse_chunked(data: bytes, cuts: list[int]) -> list[SseEvent]:
    parser = SseParser()
    events: list[SseEvent] = []
    prev = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        events += parser.feed(data[prev:cut])
        prev = cut
    return events + parser.finish()


def test_fields_and_framing() -> None:
    events = parse_chunked(STREAM, [])
    assert b"".join(ev.raw() for ev in events) == STREAM
    comment, start, multi, lone_cr, done = events
    assert comment.data is None and comment.lines == (b": keep-alive comment\r\n",)
    assert start.event_type == "message_start"
    assert start.field("id") == "7"
    assert start.data == '{"type":"message_start","text":"héllo €"}'
    assert start.eol == b"\r\n"
    assert multi.data == "no-space\nsecond line"
    assert lone_cr.data == "lone-cr" and lone_cr.terminator == b"\r"
    assert done.data == "[DONE]"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    # Splits inside "\r\n", inside the UTF-8 bytes of "é"/"€", mid-line: all the same.
    assert parse_chunked(STREAM, cuts) == parse_chunked(STREAM, [])


def test_every_single_byte_split() -> None:
    whole = parse_chunked(STREAM, [])
    for cut in range(len(STREAM) + 1):
        assert parse_chunked(STREAM, [cut]) == whole


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r") == []
    events = parser.feed(b"\n")
    assert [ev.raw() for ev in events] == [b"data: a\r\n\r\n"]


def test_with_data_keeps_other_lines_and_spelling() -> None:
    (ev,) = parse_chunked(b"event: x\r\nid: 1\r\ndata:old\r\ndata:more\r\n: note\r\n\r\n", [])
    new = ev.with_data('{"a":"ü"}')
    assert new.raw() == 'event: x\r\nid: 1\r\ndata:{"a":"ü"}\r\n: note\r\n\r\n'.encode()
    assert new.data == '{"a":"ü"}'


def test_unterminated_tail_comes_out_at_finish() -> None:
    parser = SseParser()
    assert parser.feed(b"data: 1\n\ndata: 2") == [SseEvent((b"data: 1\n",), b"\n")]
    (last,) = parser.finish()
    assert last.raw() == b"data: 2" and last.terminator == b""
    assert last.closing() == b"\n\n"


def test_make_event() -> None:
    ev = make_event('{"type":"t"}', event="t", eol=b"\r\n")
    assert ev.raw() == b'event: t\r\ndata: {"type":"t"}\r\n\r\n'
