"""Per-key pending tails and SSE stream rehydration across providers.

The property tests stream the same text through Chat Completions, Responses
and Anthropic SSE with arbitrary delta splits and arbitrary byte chunking and
check the client sees exactly the rehydrated whole.
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from masker.providers.router import stream_rehydrator
from masker.stream.guard import rehydrate_text_end
from masker.stream.rehydrate import PendingTails
from masker.tokens.scheme import TOKEN_RE, pending_token_start
from tests.helpers.providers import M_BODY_TOKEN, UNKNOWN_TOKEN, VALUES, fake_rehydrate

NAME = VALUES["Alice Smith"]
AEAD = VALUES["Zoë Müller"]
QUOTED = VALUES['Dan "Danny" O\\Brien']

# ---------------------------------------------------------------- hold-back


def test_hold_back_only_possible_token_prefixes() -> None:
    assert pending_token_start("plain text without the letter") is None
    assert pending_token_start("I am at 5 PM") == len("I am at 5 P")  # "M" could start a token
    assert pending_token_start("Mary Major met") is None
    assert pending_token_start("see MSKV1.NA") == 4
    assert pending_token_start(f"x {NAME}") is None  # complete vault token: never held
    assert pending_token_start(f"x {AEAD}") == 2  # an AEAD token might still grow
    assert pending_token_start(f"x {AEAD} y") is None


def test_m_inside_a_complete_vault_body_is_not_a_cut_point() -> None:
    text = "Dr " + M_BODY_TOKEN
    assert pending_token_start(text) is None
    assert pending_token_start(text + " MSK") == len(text) + 1


def test_text_without_M_is_emitted_immediately() -> None:
    tails = PendingTails(fake_rehydrate)
    env = lambda t: t  # noqa: E731
    for delta in ["Hello ", "there, how ", "are you", " feeling today?"]:
        assert tails.push("k", delta, envelope=env) == delta
    assert tails.keys() == []


def test_split_token_is_restored_once_complete() -> None:
    tails = PendingTails(fake_rehydrate)
    env = lambda t: {"delta": t}  # noqa: E731
    out = [tails.push("k", piece, envelope=env) for piece in ["Call ", NAME[:7], NAME[7:20], NAME[20:] + " now"]]
    assert out == ["Call ", "", "", "Alice Smith now"]
    assert tails.flush() == []


def test_flush_uses_the_envelope_and_escapes_json() -> None:
    tails = PendingTails(fake_rehydrate)
    assert tails.push(1, '{"who": "', envelope=lambda t: ("a", t), json_escape=True) == '{"who": "'
    assert tails.push(1, QUOTED[:10], envelope=lambda t: ("b", t), json_escape=True) == ""
    assert tails.push(2, "5 PM", envelope=lambda t: ("c", t)) == "5 P"
    assert tails.push(1, QUOTED[10:], envelope=lambda t: ("d", t), json_escape=True) == r'Dan \"Danny\" O\\Brien'
    assert tails.flush([2]) == [("c", "M")]
    assert tails.keys() == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="MSKV1.NAME_TEST2AZ7 x", max_size=60), st.text(alphabet="MSK.V1AZ x", max_size=20))
def test_held_back_text_is_the_leftmost_possible_token_prefix(before: str, delta: str) -> None:
    tails = PendingTails(lambda t, *, json_escape=False: t)  # identity: no token is known
    emitted = tails.push("k", before, envelope=str) + tails.push("k", delta, envelope=str)
    whole = before + delta
    assert whole.startswith(emitted)
    held = whole[len(emitted) :]
    if held:
        assert pending_token_start(held) == 0  # the held part could still be a token
        assert pending_token_start(whole) == len(emitted)


# ------------------------------------------------------------ stream builders

PIECES = st.sampled_from(
    [
        "Hello ",
        "5 PM",
        "M",
        "MS",
        "MSKV1.",
        "MSKV1.NAME.K_TEST.ABC",
        "MSK1.NAME.",
        "Mary ",
        " ",
        "é€😀",
        '"q"\\',
        "\n",
        NAME,
        AEAD,
        QUOTED,
        UNKNOWN_TOKEN,
        M_BODY_TOKEN,
        VALUES["MRN 00123"],
        VALUES["555-123-4567"],
    ]
)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    parts = [text[a:b] for a, b in zip(points, points[1:])]
    return parts or [""]


def sse(events: list[tuple[str | None, str]], eol: str) -> bytes:
    out = ""
    for name, data in events:
        if name is not None:
            out += f"event: {name}{eol}"
        out += f"data: {data}{eol}{eol}"
    return out.encode()


def expected(text: str) -> str:
    """What a client gets for a whole streamed text: tokens restored, one cut off at the end redacted."""
    return rehydrate_text_end(text, fake_rehydrate)


def run(path: str, data: bytes, cuts: list[int]) -> bytes:
    rehydrator = stream_rehydrator(path, fake_rehydrate)
    rehydrator.rehydrate = fake_rehydrate
    out = b""
    prev = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        out += rehydrator.feed(data[prev:cut])
        prev = cut
    return out + rehydrator.finish()


def client_events(raw: bytes) -> list[tuple[str | None, str]]:
    """An independent minimal SSE reader (what a client does)."""
    text = raw.decode("utf-8")
    assert text.endswith(("\n\n", "\r\n\r\n")), "stream must end with a complete event"
    out = []
    for block in re.split(r"\r\n\r\n|\n\n", text.replace("\r\n", "\n"))[:-1]:
        name, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        out.append((name, "\n".join(data)))
    return out


def chat_stream(content: list[str], args: list[str]) -> list[tuple[str | None, str]]:
    env = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}

    def chunk(delta: dict, finish: str | None = None) -> tuple[None, str]:
        return None, json.dumps({**env, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": c}) for c in content]
    events.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                         "function": {"name": "lookup", "arguments": ""}}]}))
    events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in args]
    events.append(chunk({}, "tool_calls"))
    events.append((None, "[DONE]"))
    return events


def chat_result(events: list[tuple[str | None, str]]) -> tuple[str, str]:
    assert events[-1] == (None, "[DONE]")
    content = args = ""
    for _, data in events[:-1]:
        obj = json.loads(data)
        for choice in obj["choices"]:
            delta = choice["delta"]
            content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                args += call["function"].get("arguments", "")
                if "name" in call["function"]:
                    assert call["function"]["name"] == "lookup"
    finishes = [json.loads(d)["choices"][0]["finish_reason"] for _, d in events[:-1]]
    assert finishes[-1] == "tool_calls" and finishes.count("tool_calls") == 1
    return content, args


def responses_stream(deltas: list[str], full: str) -> list[tuple[str | None, str]]:
    coords = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    evs = [
        {"type": "response.created", "response": {"id": "resp_1", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "msg_1", "type": "message"}},
        {"type": "response.content_part.added", **coords, "part": {"type": "output_text", "text": ""}},
    ]
    evs += [{"type": "response.output_text.delta", **coords, "delta": d} for d in deltas]
    part = {"type": "output_text", "text": full, "annotations": []}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [part]}
    evs += [
        {"type": "response.output_text.done", **coords, "text": full},
        {"type": "response.content_part.done", **coords, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": "resp_1", "output": [item]}},
    ]
    return [(e["type"], json.dumps(e, ensure_ascii=False)) for e in evs]


def responses_result(events: list[tuple[str | None, str]]) -> str:
    text = ""
    seen_done = False
    for name, data in events:
        obj = json.loads(data)
        assert obj["type"] == name
        if name == "response.output_text.delta":
            assert not seen_done, "a delta after the done event"
            text += obj["delta"]
        elif name == "response.output_text.done":
            seen_done = True
            assert obj["text"] == text
        elif name == "response.completed":
            assert obj["response"]["output"][0]["content"][0]["text"] == text
    assert seen_done
    return text


def anthropic_stream(deltas: list[str], args: list[str]) -> list[tuple[str | None, str]]:
    evs = [
        {"type": "message_start", "message": {"id": "msg_1", "role": "assistant", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    evs += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}} for d in deltas]
    evs += [
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}},
    ]
    evs += [{"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": a}}
            for a in args]
    evs += [
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    return [(e["type"], json.dumps(e, ensure_ascii=False)) for e in evs]


def anthropic_result(events: list[tuple[str | None, str]]) -> tuple[str, str]:
    blocks = {0: "", 1: ""}
    stopped: set[int] = set()
    for name, data in events:
        obj = json.loads(data)
        assert obj["type"] == name
        if name == "content_block_delta":
            assert obj["index"] not in stopped, "a delta after its block stopped"
            delta = obj["delta"]
            blocks[obj["index"]] += delta["text"] if delta["type"] == "text_delta" else delta["partial_json"]
        elif name == "content_block_stop":
            stopped.add(obj["index"])
    assert [n for n, _ in events][-2:] == ["message_delta", "message_stop"]
    return blocks[0], blocks[1]


def assert_no_token(raw: bytes) -> None:
    assert TOKEN_RE.search(raw.decode("utf-8")) is None


TEXTS = st.lists(PIECES, min_size=1, max_size=10).map("".join)
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)
EOLS = st.sampled_from(["\n", "\r\n"])


@settings(max_examples=120, deadline=None)
@given(TEXTS, CUTS, CUTS, CUTS, EOLS)
def test_chat_any_split_same_rehydrated_text(text: str, dcuts, acuts, bcuts, eol: str) -> None:
    args = json.dumps({"patient": text}, ensure_ascii=False)
    data = sse(chat_stream(split(text, dcuts), split(args, acuts)), eol)
    out = run("/v1/chat/completions", data, bcuts)
    assert_no_token(out)
    content, got_args = chat_result(client_events(out))
    assert content == expected(text)
    assert got_args == fake_rehydrate(args, json_escape=True)
    assert json.loads(got_args) == {"patient": fake_rehydrate(text)}
    assert out == run("/v1/chat/completions", data, [])  # byte-identical under any chunking


@settings(max_examples=120, deadline=None)
@given(TEXTS, CUTS, CUTS, EOLS)
def test_responses_any_split_same_rehydrated_text(text: str, dcuts, bcuts, eol: str) -> None:
    data = sse(responses_stream(split(text, dcuts), text), eol)
    out = run("/v1/responses", data, bcuts)
    assert_no_token(out)
    assert responses_result(client_events(out)) == expected(text)
    assert out == run("/v1/responses", data, [])


@settings(max_examples=120, deadline=None)
@given(TEXTS, CUTS, CUTS, CUTS, EOLS)
def test_anthropic_any_split_same_rehydrated_text(text: str, dcuts, acuts, bcuts, eol: str) -> None:
    args = json.dumps({"patient": text}, ensure_ascii=False)
    data = sse(anthropic_stream(split(text, dcuts), split(args, acuts)), eol)
    out = run("/v1/messages", data, bcuts)
    assert_no_token(out)
    got_text, got_args = anthropic_result(client_events(out))
    assert got_text == expected(text)
    assert json.loads(got_args) == {"patient": fake_rehydrate(text)}
    assert out == run("/v1/messages", data, [])


# ------------------------------------------------------------ stream details


def test_untouched_stream_is_byte_identical_and_not_delayed() -> None:
    data = sse(chat_stream(["Hello ", "there"], ['{"a": 1}']), "\r\n") + b": trailing comment\r\n\r\n"
    rehydrator = stream_rehydrator("/v1/chat/completions", fake_rehydrate)
    first_event_end = data.index(b"\r\n\r\n") + 4
    assert rehydrator.feed(data[:first_event_end]) == data[:first_event_end]
    assert rehydrator.feed(data[first_event_end:]) + rehydrator.finish() == data[first_event_end:]


def test_flush_before_done_and_at_end_of_body_without_done() -> None:
    events = chat_stream(["It is 5 P", "M"], [])
    data = sse(events[:-2], "\n")  # no finish_reason chunk, no [DONE]
    out = run("/v1/chat/completions", data, [])
    evs = client_events(out)
    assert "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for _, d in evs) == "It is 5 PM"
    last = json.loads(evs[-1][1])
    assert last["choices"][0]["delta"] == {"content": "M"} and last["model"] == "gpt-4o"


def test_unknown_and_non_json_events_pass_through() -> None:
    data = b"event: weird\ndata: not json\n\nid: 9\ndata: {\"x\": 1}\n\n"
    assert run("/v1/chat/completions", data, []) == data


def test_tokens_in_non_json_events_are_restored_by_the_byte_guard() -> None:
    data = b"event: weird\ndata: not json " + NAME.encode() + b"\n\nid: 9\ndata: {\"x\": 1}\n\n"
    assert run("/v1/chat/completions", data, []) == data.replace(NAME.encode(), b"Alice Smith")


def test_error_event_tokens_are_rehydrated() -> None:
    data = sse([("error", json.dumps({"type": "error", "error": {"message": f"bad {NAME}"}}))], "\n")
    (ev,) = client_events(run("/v1/messages", data, []))
    assert json.loads(ev[1])["error"]["message"] == "bad Alice Smith"


def test_tail_flushed_after_unterminated_last_event_keeps_valid_framing() -> None:
    events = anthropic_stream(["Dr M"], [])[:4]
    data = sse(events, "\n")[:-1]  # body ends right after the last data line
    evs = client_events(run("/v1/messages", data, []))
    texts = [json.loads(d)["delta"]["text"] for n, d in evs if n == "content_block_delta"]
    assert "".join(texts) == "Dr M"


def test_audio_deltas_are_never_held_or_rewritten() -> None:
    ev = {"type": "response.output_audio.delta", "item_id": "i", "output_index": 0, "content_index": 0,
          "delta": "AAAAMSK"}
    data = sse([(None, json.dumps(ev))], "\n")
    assert run("/v1/responses", data, []) == data


def test_rewritten_unterminated_last_event_gets_exactly_one_blank_line() -> None:
    events = anthropic_stream([NAME[:5] + NAME[5:] + " M"], [])[:4]
    data = sse(events, "\n")[:-2]  # no newline after the last data line
    out = run("/v1/messages", data, [])
    assert b"\n\n\n" not in out
    texts = [json.loads(d)["delta"]["text"] for n, d in client_events(out) if n == "content_block_delta"]
    assert texts == ["Alice Smith ", "M"]


def test_invalid_utf8_event_passes_raw() -> None:
    data = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}], "b": "\xff"}\n\n'
    assert run("/v1/chat/completions", data, []) == data


def test_flush_at_end_after_a_comment_keeps_event_lines() -> None:
    data = sse(anthropic_stream(["see M"], [])[:4], "\r\n") + b": keep-alive\r\n\r\n"
    out = run("/v1/messages", data, [])
    assert out.endswith(b'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0,'
                        b'"delta":{"type":"text_delta","text":"M"}}\r\n\r\n')
