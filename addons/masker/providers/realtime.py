"""OpenAI Realtime (WebSocket JSON events), beta and GA event names.

Client events: every string, number and key is scanned, extra fields and
unknown event types included (``masker.providers.walk``). This module adds
what Realtime defines: instructions and transcription prompts are system
text, conversation items have the Responses item roles and shapes,
``input_audio_buffer.append`` and audio/image parts follow the media switch,
and the exemptions below, each with its reason.

Server events are rehydrated with the Responses stream logic: text,
transcript and function-call-argument deltas keep a pending tail per (item,
content index); ``*.done`` events carry the full text and are rehydrated
whole after the tail is flushed.
"""

from __future__ import annotations

import json

from masker.engine import MaskingError
from masker.providers import openai_responses
from masker.providers.base import FieldSink, MaskFn, RehydrateFn, loads_strict
from masker.providers.walk import BodyWalk, Exempt, Role, Shape, is_number, one_of, shaped
from masker.stream.rehydrate import dumps

_AUDIO_FORMATS = one_of("pcm16", "g711_ulaw", "g711_alaw", "audio/pcm", "audio/pcmu", "audio/pcma")

SHAPE = Shape(
    "openai_realtime",
    exempt=(
        *openai_responses.EXEMPT,
        Exempt(("type",), shaped(r"[a-z_]+(?:\.[a-z_]+)+"), "a Realtime event type (dotted lower-case words)"),
        Exempt(("**", "voice"), one_of("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse",
                                       "marin", "cedar"), "built-in voice names"),
        Exempt(("**", "modalities", "*"), one_of("text", "audio"), "modality enum"),
        Exempt(("**", "output_modalities", "*"), one_of("text", "audio"), "modality enum"),
        Exempt(("**", "input_audio_format"), _AUDIO_FORMATS, "audio format enum"),
        Exempt(("**", "output_audio_format"), _AUDIO_FORMATS, "audio format enum"),
        Exempt(("**", "format", "type"), _AUDIO_FORMATS, "audio format enum"),
        Exempt(("**", "turn_detection", "type"), one_of("server_vad", "semantic_vad"), "turn detection enum"),
        Exempt(("**", "turn_detection", "eagerness"), one_of("low", "medium", "high", "auto"), "eagerness enum"),
        Exempt(("**", "turn_detection", "*"), is_number, "voice-activity thresholds and durations"),
        Exempt(("**", "noise_reduction", "type"), one_of("near_field", "far_field"), "noise reduction enum"),
        Exempt(("**", "max_response_output_tokens"), lambda v: is_number(v) or v == "inf", "a token limit"),
        Exempt(("**", "max_output_tokens"), lambda v: is_number(v) or v == "inf", "a token limit"),
        Exempt(("**", "audio_end_ms"), is_number, "an offset in the audio buffer"),
        Exempt(("**", "content_index"), is_number, "a position in an item"),
        Exempt(("**", "sample_rate"), is_number, "audio sample rate"),
        Exempt(("**", "rate"), is_number, "audio sample rate"),
        Exempt(("**", "conversation"), one_of("auto", "none"), "conversation enum"),
    ),
    roles=(
        Role(("session", "instructions"), "system"),
        Role(("session", "**", "prompt"), "system"),
        Role(("response", "instructions"), "system"),
        Role(("item",), openai_responses.item_role),
        Role(("response", "input", "*"), openai_responses.item_role),
    ),
    fields=openai_responses.FIELDS | frozenset({
        "event_id", "session", "response", "item", "audio", "instructions", "voice", "modalities",
        "output_modalities", "input_audio_format", "output_audio_format", "input_audio_transcription",
        "turn_detection", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
        "interrupt_response", "eagerness", "idle_timeout_ms", "max_response_output_tokens", "tracing",
        "noise_reduction", "input_audio_noise_reduction", "audio_end_ms", "content_index", "previous_item_id",
        "transcription", "language", "output", "speed", "rate", "sample_rate", "expires_at",
    }),
    media=lambda node: node.get("type") in ("input_audio_buffer.append", *openai_responses.MEDIA_PARTS),
)


def mask_realtime_client_event(text: str, mask: MaskFn, *, media: str = "block") -> str:
    """The client event with everything scanned masked (the same text when nothing changed)."""
    try:
        obj = loads_strict(text)
    except ValueError:
        raise MaskingError("invalid_event", "realtime client event is not JSON", 400) from None
    if not isinstance(obj, dict):
        raise MaskingError("invalid_event", "realtime client event is not a JSON object", 400)
    sink = FieldSink(media)
    BodyWalk(SHAPE, sink).walk([obj])
    if not sink.fields:
        return text
    before = json.dumps(obj, ensure_ascii=False)
    sink.apply(mask)
    after = json.dumps(obj, ensure_ascii=False)
    return text if after == before else after


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
