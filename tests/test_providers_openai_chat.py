"""OpenAI Chat Completions: request fields, response and stream rehydration."""

from __future__ import annotations

import copy
import json

import pytest

from masker.engine import MaskingError
from masker.providers.router import mask_request, rehydrate_response, stream_rehydrator
from tests.helpers.providers import VALUES, FakeMask, fake_rehydrate

PATH = "/v1/chat/completions"
NAME, PHONE, QUOTED = VALUES["Alice Smith"], VALUES["555-123-4567"], VALUES['Dan "Danny" O\\Brien']


def body() -> dict:
    return {
        "model": "gpt-4o-mini",
        "user": "alice@example.com",
        "messages": [
            {"role": "system", "content": "You help Alice Smith."},
            {"role": "user", "name": "Alice Smith", "content": [
                {"type": "text", "text": "Call me at 555-123-4567"},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "lookup", "arguments": '{"name": "Alice Smith", "n": 3, "tags": ["555-123-4567"]}'}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Found Alice Smith"},
            {"role": "assistant", "function_call": {"name": "legacy", "arguments": "Alice Smith not json"}},
            {"role": "function", "name": "legacy", "content": "ok 555-123-4567"},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "Alice Smith lookup",
                                                     "parameters": {"type": "object"}}}],
    }


def test_every_free_text_field_masked_in_one_call() -> None:
    original = body()
    mask = FakeMask()
    out = mask_request(PATH, original, mask)
    assert original == body()  # input not mutated
    msgs = out["messages"]
    assert msgs[0]["content"] == f"You help {NAME}."
    assert msgs[1]["name"] == NAME
    assert msgs[1]["content"][0]["text"] == f"Call me at {PHONE}"
    args = json.loads(msgs[2]["tool_calls"][0]["function"]["arguments"])
    assert args == {"name": NAME, "n": 3, "tags": [PHONE]}
    assert msgs[2]["tool_calls"][0]["function"]["name"] == "lookup"
    assert msgs[3]["content"] == f"Found {NAME}"
    assert msgs[4]["function_call"]["arguments"] == f"{NAME} not json"  # not JSON: masked as text
    assert msgs[5]["content"] == f"ok {PHONE}"
    assert out["user"] == VALUES["alice@example.com"]
    # Tool definitions are scanned like everything else; enums and the model name are exempt.
    assert out["tools"][0]["function"]["description"] == f"{NAME} lookup" and out["model"] == "gpt-4o-mini"
    roles = {f.path: f.role for f in mask.fields}
    assert {path: roles[path] for path in (
        "messages/0/content", "messages/1/content/0/text", "messages/1/name",
        "messages/2/tool_calls/0/function/arguments/name", "messages/2/tool_calls/0/function/arguments/tags/0",
        "messages/3/content", "messages/4/function_call/arguments", "messages/5/content", "user",
        "tools/0/function/description",
    )} == {
        "messages/0/content": "system", "messages/1/content/0/text": "user", "messages/1/name": "user",
        "messages/2/tool_calls/0/function/arguments/name": "assistant",
        "messages/2/tool_calls/0/function/arguments/tags/0": "assistant",
        "messages/3/content": "tool", "messages/4/function_call/arguments": "assistant",
        "messages/5/content": "function", "user": None, "tools/0/function/description": None,
    }
    exempt = {"model", "messages/0/role", "messages/1/content/0/type", "messages/2/tool_calls/0/type",
              "tools/0/type", "tools/0/function/parameters/type"}
    assert not exempt & set(roles)


def test_unchanged_arguments_keep_their_exact_bytes() -> None:
    raw = '{"n":  1,   "s": "nothing here"}'
    b = {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": raw}}]}]}
    assert mask_request(PATH, b, FakeMask())["messages"][0]["tool_calls"][0]["function"]["arguments"] == raw


@pytest.mark.parametrize("part", [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    {"type": "file", "file": {"file_data": "AAAA"}},
])
def test_media_parts_follow_the_switch(part: dict) -> None:
    b = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "Alice Smith"}, part]}]}
    with pytest.raises(MaskingError) as err:
        mask_request(PATH, b, FakeMask())
    assert (err.value.code, err.value.status) == ("media_blocked", 400)
    out = mask_request(PATH, b, FakeMask(), media="allow")
    assert out["messages"][0]["content"] == [{"type": "text", "text": NAME}, part]


def test_unknown_part_type_is_scanned() -> None:
    b = {"messages": [{"role": "user", "content": [{"type": "input_video", "video": "Alice Smith"}]}]}
    assert mask_request(PATH, b, FakeMask())["messages"][0]["content"][0]["video"] == NAME


def test_azure_path_with_query() -> None:
    b = {"messages": [{"role": "user", "content": "Alice Smith"}]}
    out = mask_request("/openai/deployments/gpt4/chat/completions?api-version=2024-10-21", b, FakeMask())
    assert out["messages"][0]["content"] == NAME


def test_no_free_text_means_no_mask_call() -> None:
    mask = FakeMask()
    mask_request(PATH, {"model": "gpt-4o-mini", "messages": [], "max_tokens": 256, "stream": True}, mask)
    assert mask.calls == []


def test_response_rehydrated_including_json_arguments() -> None:
    args = json.dumps({"who": QUOTED, "phone": PHONE})
    resp = {"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": f"Calling {NAME}",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]}}]}
    frozen = copy.deepcopy(resp)
    out = rehydrate_response(PATH, resp, fake_rehydrate)
    assert resp == frozen
    msg = out["choices"][0]["message"]
    assert msg["content"] == "Calling Alice Smith"
    assert json.loads(msg["tool_calls"][0]["function"]["arguments"]) == {
        "who": 'Dan "Danny" O\\Brien', "phone": "555-123-4567"}
    untouched = {"choices": [{"message": {"content": "no tokens"}}]}
    assert rehydrate_response(PATH, untouched, fake_rehydrate) is untouched


def chunk(ci: int, delta: dict, finish: str | None = None) -> bytes:
    obj = {"id": "x", "object": "chat.completion.chunk", "model": "m",
           "choices": [{"index": ci, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def events(raw: bytes) -> list[dict]:
    return [json.loads(b[6:]) for b in raw.split(b"\n\n") if b and b != b"data: [DONE]"]


def test_stream_finish_flushes_into_the_same_chunk_and_interleaved_choices() -> None:
    r = stream_rehydrator(PATH, fake_rehydrate)
    out = r.feed(chunk(0, {"content": "Hi " + NAME[:5]}) + chunk(1, {"content": "Bye 5 P"}))
    out += r.feed(chunk(0, {"content": NAME[5:]}) + chunk(1, {"content": "M"}, "stop"))
    out += r.feed(chunk(0, {}, "stop") + b"data: [DONE]\n\n") + r.finish()
    evs = events(out)
    text = {0: "", 1: ""}
    for ev in evs:
        text[ev["choices"][0]["index"]] += ev["choices"][0]["delta"].get("content", "")
    assert text == {0: "Hi Alice Smith", 1: "Bye 5 PM"}
    # Choice 1's held "M" went out in the chunk that carried finish_reason.
    assert evs[3]["choices"][0] == {"index": 1, "delta": {"content": "M"}, "logprobs": None, "finish_reason": "stop"}
    assert out.endswith(b"data: [DONE]\n\n")


def test_stream_flush_of_tool_arguments_is_a_minimal_delta() -> None:
    r = stream_rehydrator(PATH, fake_rehydrate)
    head = {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": \"M"}}]}
    out = r.feed(chunk(0, head)) + r.feed(chunk(0, {}, "tool_calls")) + r.finish()
    evs = events(out)
    assert evs[0]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": "'}
    assert evs[1]["choices"][0]["delta"] == {"tool_calls": [{"index": 0, "function": {"arguments": "M"}}]}
    assert evs[1]["choices"][0]["finish_reason"] is None
    assert evs[2]["choices"][0]["finish_reason"] == "tool_calls"


def test_legacy_completions_stream() -> None:
    def c(text: str) -> bytes:
        return b"data: " + json.dumps({"object": "text_completion", "choices": [{"index": 0, "text": text}]}).encode() + b"\n\n"

    r = stream_rehydrator("/v1/completions", fake_rehydrate)
    out = r.feed(c("Dear " + PHONE[:9])) + r.feed(c(PHONE[9:])) + r.feed(b"data: [DONE]\n\n") + r.finish()
    assert "".join(e["choices"][0]["text"] for e in events(out)) == "Dear 555-123-4567"
