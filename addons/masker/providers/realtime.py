"""OpenAI Realtime (WebSocket JSON events), beta and GA event names.

Client events masked before they leave: ``session.update`` (and
``transcription_session.update``) instructions, transcription prompts and
prompt variables; ``response.create`` instructions and ``input`` items;
``conversation.item.create`` items (same item shapes as the Responses API).
``input_audio_buffer.append`` and audio/image parts follow the media switch.
Events known to carry no text pass unchanged; any other event type has every
non-structural string leaf masked.

Server events are rehydrated with the Responses stream logic: text,
transcript and function-call-argument deltas keep a pending tail per (item,
content index); ``*.done`` events carry the full text and are rehydrated
whole after the tail is flushed.
"""

from __future__ import annotations

import json
from typing import Any

from masker.engine import MaskingError
from masker.providers import generic, openai_responses
from masker.providers.base import FieldSink, MaskFn, RehydrateFn
from masker.stream.rehydrate import dumps

_NO_TEXT = frozenset(
    {
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "output_audio_buffer.clear",
        "response.cancel",
        "conversation.item.truncate",
        "conversation.item.delete",
        "conversation.item.retrieve",
    }
)


def mask_realtime_client_event(text: str, mask: MaskFn, *, media: str = "block") -> str:
    """The client event with its free text masked (the same text when it has none)."""
    try:
        obj = json.loads(text)
    except ValueError:
        raise MaskingError("invalid_event", "realtime client event is not JSON", 400) from None
    if not isinstance(obj, dict):
        raise MaskingError("invalid_event", "realtime client event is not a JSON object", 400)
    sink = FieldSink(media)
    kind = obj.get("type")
    if kind in ("session.update", "transcription_session.update"):
        _session(obj.get("session"), sink)
    elif kind == "response.create":
        _response(obj.get("response"), sink)
    elif kind == "conversation.item.create":
        if isinstance(obj.get("item"), dict):
            openai_responses.input_item([obj["item"]], 0, "item", sink)
    elif kind == "input_audio_buffer.append":
        sink.media("audio")
    elif kind not in _NO_TEXT:
        generic.collect([obj], sink)
    if not sink.fields:
        return text
    sink.apply(mask)
    return json.dumps(obj, ensure_ascii=False)


def _session(session: Any, sink: FieldSink) -> None:
    if not isinstance(session, dict):
        return
    sink.text(session, "instructions", role="system", path="session/instructions")
    beta = session.get("input_audio_transcription")
    if isinstance(beta, dict):
        sink.text(beta, "prompt", role="system", path="session/input_audio_transcription/prompt")
    transcription = _dig(session, "audio", "input", "transcription")
    if isinstance(transcription, dict):
        sink.text(transcription, "prompt", role="system", path="session/audio/input/transcription/prompt")
    prompt = session.get("prompt")
    if isinstance(prompt, dict):
        openai_responses.prompt_variables(prompt, "session/prompt", sink)


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _response(response: Any, sink: FieldSink) -> None:
    if not isinstance(response, dict):
        return
    sink.text(response, "instructions", role="system", path="response/instructions")
    items = response.get("input")
    if isinstance(items, list):
        for i in range(len(items)):
            openai_responses.input_item(items, i, f"response/input/{i}", sink)
    prompt = response.get("prompt")
    if isinstance(prompt, dict):
        openai_responses.prompt_variables(prompt, "response/prompt", sink)


class RealtimeRehydrator:
    """Rehydrates the server events of one Realtime session, in order."""

    def __init__(self, rehydrate: RehydrateFn) -> None:
        self._stream = openai_responses.ResponsesStream(rehydrate)

    def server_events(self, text: str) -> list[str]:
        """Messages to send for one server message: flushed deltas first, then it.

        Before a ``*.done`` / ``response.done`` event, a held-back tail of
        its item comes out as an extra delta message of the same shape.
        """
        try:
            obj = json.loads(text)
        except ValueError:
            return [text]
        extras, new = self._stream.event(obj)
        return [dumps(e) for e in extras] + [text if new is None else dumps(new)]

    def server_event(self, text: str) -> str:
        """One message in, one message out (for callers that cannot inject).

        A held-back tail flushed before a ``*.done`` event is not sent as a
        delta here; the ``.done`` event (and ``response.done``) still carries
        the full rehydrated text. Prefer ``server_events``.
        """
        return self.server_events(text)[-1]
