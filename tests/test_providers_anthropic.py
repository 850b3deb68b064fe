"""Anthropic Messages: request blocks, response and stream specifics."""

from __future__ import annotations

import json

import pytest

from masker.engine import MaskingError
from masker.providers.router import mask_request, rehydrate_response, stream_rehydrator
from tests.helpers.providers import VALUES, FakeMask, fake_rehydrate

PATH = "/v1/messages"
NAME, PHONE, QUOTED = VALUES["Alice Smith"], VALUES["555-123-4567"], VALUES['Dan "Danny" O\\Brien']


def test_system_and_blocks() -> None:
    b = {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "Patient is Alice Smith", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "alice@example.com"},
        "messages": [
            {"role": "user", "content": "Hi, 555-123-4567"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Alice Smith wants", "signature": "sig"},
                {"type": "text", "text": "Looking up"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup",
                 "input": {"name": "Alice Smith", "ids": [1, "555-123-4567"], "deep": {"x": True}}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "Alice Smith: ok"}]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "555-123-4567"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Note on Alice Smith"},
                 "title": "Alice Smith chart"},
                {"type": "redacted_thinking", "data": "opaque"},
            ]},
        ],
    }
    mask = FakeMask()
    out = mask_request(PATH, b, mask)
    assert out["system"][0] == {"type": "text", "text": f"Patient is {NAME}", "cache_control": {"type": "ephemeral"}}
    assert out["metadata"]["user_id"] == VALUES["alice@example.com"]
    m = out["messages"]
    assert m[0]["content"] == f"Hi, {PHONE}"
    assert m[1]["content"][0] == {"type": "thinking", "thinking": f"{NAME} wants", "signature": "sig"}
    assert m[1]["content"][2]["input"] == {"name": NAME, "ids": [1, PHONE], "deep": {"x": True}}
    assert m[1]["content"][2]["name"] == "lookup"
    assert m[2]["content"][0]["content"][0]["text"] == f"{NAME}: ok"
    assert m[2]["content"][1]["content"] == PHONE
    assert m[2]["content"][2]["source"]["data"] == f"Note on {NAME}"
    assert m[2]["content"][2]["title"] == f"{NAME} chart"
    assert m[2]["content"][3] == {"type": "redacted_thinking", "data": "opaque"}
    paths = {f.path: f.role for f in mask.fields}
    assert paths["system/0/text"] == "system"
    assert paths["messages/1/content/2/input/name"] == "assistant"
    assert paths["messages/2/content/0/content/0/text"] == "tool"


@pytest.mark.parametrize("block", [
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "AAAA"}},
])
def test_media_blocks_follow_the_switch(block: dict) -> None:
    b = {"messages": [{"role": "user", "content": [block, {"type": "text", "text": "Alice Smith"}]}]}
    with pytest.raises(MaskingError) as err:
        mask_request(PATH, b, FakeMask())
    assert err.value.code == "media_blocked"
    out = mask_request(PATH, b, FakeMask(), media="allow")
    assert out["messages"][0]["content"] == [block, {"type": "text", "text": NAME}]


def test_image_inside_tool_result_is_media_and_unknown_block_scanned() -> None:
    img = {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
    with pytest.raises(MaskingError):
        mask_request(PATH, {"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [img]}]}]}, FakeMask())
    out = mask_request(PATH, {"messages": [{"role": "user", "content": [{"type": "mystery", "x": "Alice Smith"}]}]},
                       FakeMask())
    assert out["messages"][0]["content"][0] == {"type": "mystery", "x": NAME}  # deny by default: scanned


def test_count_tokens_path_uses_the_same_shape() -> None:
    out = mask_request("/v1/messages/count_tokens", {"model": "claude", "messages": [
        {"role": "user", "content": "Alice Smith"}]}, FakeMask())
    assert out["messages"][0]["content"] == NAME and out["model"] == "claude"


def test_response_rehydrated_including_tool_use_input() -> None:
    resp = {"id": "msg_1", "type": "message", "role": "assistant", "content": [
        {"type": "text", "text": f"Found {NAME}"},
        {"type": "tool_use", "id": "toolu_1", "name": "call", "input": {"who": QUOTED, "n": 2}},
    ]}
    out = rehydrate_response(PATH, resp, fake_rehydrate)
    assert out["content"][0]["text"] == "Found Alice Smith"
    assert out["content"][1]["input"] == {"who": 'Dan "Danny" O\\Brien', "n": 2}


def sse(evs: list[dict]) -> bytes:
    return b"".join(f"event: {e['type']}\r\ndata: {json.dumps(e)}\r\n\r\n".encode() for e in evs)


def test_tail_flushed_at_block_stop_and_signature_untouched() -> None:
    evs = [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm M"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "MSKV1AAA"}},
        {"type": "content_block_stop", "index": 0},
    ]
    raw = sse(evs)
    out = stream_rehydrator(PATH, fake_rehydrate).feed(raw)
    blocks = out.split(b"\r\n\r\n")[:-1]
    assert len(blocks) == 4
    objs = [json.loads(b.split(b"\r\ndata: ")[1]) for b in blocks]
    assert objs[0]["delta"] == {"type": "thinking_delta", "thinking": "hmm "}
    assert blocks[1] + b"\r\n\r\n" == sse([evs[1]])  # signature delta byte-identical
    assert blocks[2].startswith(b"event: content_block_delta\r\n")
    assert objs[2] == {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "M"}}
    assert objs[3] == evs[2]
