"""OpenAI Responses API: request fields, response and stream rehydration."""

from __future__ import annotations

import json

import pytest

from masker.engine import MaskingError
from masker.providers.router import mask_request, rehydrate_response, stream_rehydrator
from tests.helpers.providers import VALUES, FakeMask, fake_rehydrate

PATH = "/v1/responses"
NAME, PHONE, QUOTED = VALUES["Alice Smith"], VALUES["555-123-4567"], VALUES['Dan "Danny" O\\Brien']


def test_string_input_and_instructions() -> None:
    mask = FakeMask()
    out = mask_request(PATH, {"model": "gpt-4.1", "instructions": "Greet Alice Smith", "input": "I am Alice Smith"}, mask)
    assert out == {"model": "gpt-4.1", "instructions": f"Greet {NAME}", "input": f"I am {NAME}"}
    assert [(f.role, f.path) for f in mask.fields] == [("system", "instructions"), ("user", "input")]


def test_input_items() -> None:
    b = {"model": "gpt-4.1", "input": [
        {"role": "user", "content": "Call 555-123-4567"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Alice Smith here"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi Alice Smith", "annotations": []}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q": "Alice Smith"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "555-123-4567"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "user is Alice Smith"}],
         "encrypted_content": "opaque"},
        {"type": "item_reference", "id": "msg_0"},
    ], "prompt": {"id": "pmpt_1", "variables": {"patient": "Alice Smith"}}, "metadata": {"note": "Alice Smith"}}
    mask = FakeMask()
    out = mask_request(PATH, b, mask)
    items = out["input"]
    assert items[0]["content"] == f"Call {PHONE}"
    assert items[1]["content"][0]["text"] == f"{NAME} here"
    assert items[2]["content"][0]["text"] == f"Hi {NAME}"
    assert json.loads(items[3]["arguments"]) == {"q": NAME} and items[3]["name"] == "lookup"
    assert items[4]["output"] == PHONE and items[4]["call_id"] == "c1"
    assert items[5]["summary"][0]["text"] == f"user is {NAME}" and items[5]["encrypted_content"] == "opaque"
    assert items[6] == {"type": "item_reference", "id": "msg_0"}
    assert out["prompt"] == {"id": "pmpt_1", "variables": {"patient": NAME}}
    assert out["metadata"] == {"note": NAME}
    roles = {f.path: f.role for f in mask.fields}
    assert roles["input/3/arguments/q"] == "assistant" and roles["input/4/output"] == "tool"


def test_media_and_unknown_items() -> None:
    image = {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA"}]}
    with pytest.raises(MaskingError) as err:
        mask_request(PATH, {"input": [image]}, FakeMask())
    assert err.value.code == "media_blocked"
    assert mask_request(PATH, {"input": [image]}, FakeMask(), media="allow") == {"input": [image]}
    out = mask_request(PATH, {"input": [{"type": "web_search_call", "action": {"query": "Alice Smith"}}]}, FakeMask())
    assert out["input"][0]["action"]["query"] == NAME  # no item type is unknown to the walker


def test_response_object_rehydrated() -> None:
    resp = {"id": "resp_1", "object": "response", "instructions": f"Greet {NAME}", "output": [
        {"type": "message", "id": "m", "role": "assistant",
         "content": [{"type": "output_text", "text": f"Hello {NAME}", "annotations": []}]},
        {"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": json.dumps({"who": QUOTED})},
    ]}
    out = rehydrate_response(PATH, resp, fake_rehydrate)
    assert out["instructions"] == "Greet Alice Smith"
    assert out["output"][0]["content"][0]["text"] == "Hello Alice Smith"
    assert json.loads(out["output"][1]["arguments"]) == {"who": 'Dan "Danny" O\\Brien'}


def sse(evs: list[dict]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in evs)


def parse(raw: bytes) -> list[dict]:
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        name, data = block.split("\n")
        obj = json.loads(data[len("data: "):])
        assert name == f"event: {obj['type']}"
        out.append(obj)
    return out


def test_function_call_argument_deltas_flushed_before_done() -> None:
    # Arguments cut off by max_output_tokens right after an "M": still JSON-looking text.
    args = json.dumps({"who": QUOTED, "tail": "M"})[:-2]
    cut = args.index(QUOTED) + 9
    c = {"item_id": "fc_1", "output_index": 1, "sequence_number": 5}
    evs = [
        {"type": "response.function_call_arguments.delta", **c, "delta": args[:cut]},
        {"type": "response.function_call_arguments.delta", **c, "delta": args[cut:]},
        {"type": "response.function_call_arguments.done", **c, "arguments": args},
    ]
    out = parse(stream_rehydrator(PATH, fake_rehydrate).feed(sse(evs)))
    deltas = [e["delta"] for e in out if e["type"].endswith(".delta")]
    done = out[-1]
    assert done["type"] == "response.function_call_arguments.done"
    assert "".join(deltas) == done["arguments"] == fake_rehydrate(args, json_escape=True)
    assert out[-2] == {"type": "response.function_call_arguments.delta", **c, "delta": "M"}  # same envelope


def test_other_items_keep_their_pending_tail_at_a_done() -> None:
    a = {"item_id": "m1", "output_index": 0, "content_index": 0}
    b = {"item_id": "m2", "output_index": 1, "content_index": 0}
    evs = [
        {"type": "response.output_text.delta", **a, "delta": "x " + NAME[:4]},
        {"type": "response.output_text.delta", **b, "delta": "y M"},
        {"type": "response.output_text.done", **b, "text": "y M"},
        {"type": "response.output_text.delta", **a, "delta": NAME[4:]},
    ]
    out = parse(stream_rehydrator(PATH, fake_rehydrate).feed(sse(evs)))
    assert [(e["item_id"], e.get("delta", e.get("text"))) for e in out] == [
        ("m1", "x "), ("m2", "y "), ("m2", "M"), ("m2", "y M"), ("m1", "Alice Smith")]
