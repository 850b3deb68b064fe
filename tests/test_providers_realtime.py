"""OpenAI Realtime WebSocket events: client masking, server rehydration."""

from __future__ import annotations

import json

import pytest

from masker.engine import MaskingError
from masker.providers.realtime import RealtimeRehydrator, mask_realtime_client_event
from tests.helpers.providers import VALUES, FakeMask, fake_rehydrate

NAME, PHONE, QUOTED = VALUES["Alice Smith"], VALUES["555-123-4567"], VALUES['Dan "Danny" O\\Brien']


def masked(event: dict, **kw) -> dict:
    return json.loads(mask_realtime_client_event(json.dumps(event), FakeMask(), **kw))


def test_client_events_masked() -> None:
    item = {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                         "content": [{"type": "input_text", "text": "I am Alice Smith"}]}}
    assert masked(item)["item"]["content"][0]["text"] == f"I am {NAME}"
    session = {"type": "session.update", "session": {"instructions": "Caller Alice Smith",
                                                     "input_audio_transcription": {"model": "whisper-1", "prompt": "Alice Smith"},
                                                     "tools": [{"name": "t", "description": "Alice Smith"}]}}
    out = masked(session)["session"]
    assert out["instructions"] == f"Caller {NAME}" and out["input_audio_transcription"]["prompt"] == NAME
    assert out["tools"] == [{"name": "t", "description": NAME}]  # tool descriptions are scanned too
    ga = {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"transcription": {"prompt": "Alice Smith"}}}}}
    assert masked(ga)["session"]["audio"]["input"]["transcription"]["prompt"] == NAME
    resp = {"type": "response.create", "response": {"instructions": "Say 555-123-4567", "input": [
        {"type": "function_call_output", "call_id": "c", "output": "Alice Smith"}]}}
    out = masked(resp)["response"]
    assert out["instructions"] == f"Say {PHONE}" and out["input"][0]["output"] == NAME
    fc = {"type": "conversation.item.create", "item": {"type": "function_call", "name": "f", "call_id": "c",
                                                       "arguments": '{"q": "Alice Smith"}'}}
    assert json.loads(masked(fc)["item"]["arguments"]) == {"q": NAME}


def test_events_without_text_pass_as_the_same_string() -> None:
    mask = FakeMask()
    for event in ['{"type": "input_audio_buffer.commit"}', '{"type": "response.create"}']:
        assert mask_realtime_client_event(event, mask) == event
    assert mask.calls == []
    event = '{"type":"response.cancel", "event_id": "e"}'  # scanned (event_id), nothing found: same string
    assert mask_realtime_client_event(event, mask) == event


def test_audio_follows_the_media_switch() -> None:
    audio = '{"type": "input_audio_buffer.append", "audio": "AAAA"}'
    with pytest.raises(MaskingError) as err:
        mask_realtime_client_event(audio, FakeMask())
    assert (err.value.code, err.value.status) == ("media_blocked", 400)
    assert mask_realtime_client_event(audio, FakeMask(), media="allow") == audio
    part = {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
        {"type": "input_audio", "audio": "AAAA", "transcript": "Alice Smith"}]}}
    with pytest.raises(MaskingError):
        masked(part)
    assert masked(part, media="allow")["item"]["content"][0]["transcript"] == NAME


def test_unknown_client_event_has_free_strings_masked_and_bad_json_refused() -> None:
    out = masked({"type": "future.event", "event_id": "evt_1", "note": "Alice Smith"})
    assert out == {"type": "future.event", "event_id": "evt_1", "note": NAME}
    with pytest.raises(MaskingError):
        mask_realtime_client_event("not json", FakeMask())


def ev(**kw) -> str:
    return json.dumps(kw)


def test_server_deltas_rehydrated_with_tails_and_done_events() -> None:
    r = RealtimeRehydrator(fake_rehydrate)
    c = {"response_id": "r", "item_id": "it", "output_index": 0, "content_index": 0}
    out = []
    for delta in ["Hello " + NAME[:10], NAME[10:] + " at 5 P", "M"]:
        out += r.server_events(ev(type="response.output_audio_transcript.delta", **c, delta=delta))
    out += r.server_events(ev(type="response.output_audio_transcript.done", **c, transcript=f"Hello {NAME} at 5 PM"))
    objs = [json.loads(o) for o in out]
    assert [o.get("delta") for o in objs[:-1]] == ["Hello ", "Alice Smith at 5 P", "", "M"]
    assert objs[-2]["type"] == "response.output_audio_transcript.delta" and objs[-2]["item_id"] == "it"
    assert objs[-1]["transcript"] == "Hello Alice Smith at 5 PM"


def test_function_call_arguments_json_escaped() -> None:
    r = RealtimeRehydrator(fake_rehydrate)
    args = json.dumps({"who": QUOTED})
    c = {"item_id": "fc", "output_index": 1, "call_id": "call_1"}
    got = ""
    for i in range(0, len(args), 7):
        (msg,) = r.server_events(ev(type="response.function_call_arguments.delta", **c, delta=args[i:i + 7]))
        got += json.loads(msg)["delta"]
    assert json.loads(got) == {"who": 'Dan "Danny" O\\Brien'}
    done = r.server_event(ev(type="response.function_call_arguments.done", **c, arguments=args))
    assert json.loads(json.loads(done)["arguments"]) == {"who": 'Dan "Danny" O\\Brien'}


def test_audio_and_untouched_server_events_are_the_same_string() -> None:
    r = RealtimeRehydrator(fake_rehydrate)
    audio = ev(type="response.output_audio.delta", item_id="i", output_index=0, content_index=0, delta="MSKV1AAAM")
    assert r.server_event(audio) == audio
    created = '{"type":"session.created","session":{"id":"s"}}'
    assert r.server_event(created) == created
    echo = ev(type="conversation.item.created", item={"content": [{"type": "input_text", "text": NAME}]})
    assert json.loads(r.server_event(echo))["item"]["content"][0]["text"] == "Alice Smith"


def test_single_message_api_keeps_full_text_in_done() -> None:
    r = RealtimeRehydrator(fake_rehydrate)
    c = {"item_id": "it", "output_index": 0, "content_index": 0}
    assert json.loads(r.server_event(ev(type="response.output_text.delta", **c, delta="at 5 PM")))["delta"] == "at 5 P"
    done = json.loads(r.server_event(ev(type="response.output_text.done", **c, text="at 5 PM")))
    assert done == {"type": "response.output_text.done", **c, "text": "at 5 PM"}
