"""OpenAI Chat Completions (``/v1/chat/completions``, Azure deployments too).

Request: every string, number and key is scanned (``masker.providers.walk``);
this module adds what Chat defines: each message's ``role`` is the role of
its text, tool-call ``arguments`` are JSON text, image/audio/file parts
follow the media switch, and the exemptions below, each with its reason.

Stream: ``chat.completion.chunk`` events (and legacy completions chunks with
``choices[].text``) are rehydrated with a pending tail per (choice, field),
tool-call arguments per (choice, tool index), flushed when the choice gets a
``finish_reason``, at ``[DONE]`` or at the end of the body.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from masker.providers.base import RehydrateFn, rehydrate_leaves
from masker.providers.walk import (
    COMMON_EXEMPT,
    COMMON_FIELDS,
    GENERATION_EXEMPT,
    Exempt,
    Role,
    Shape,
    is_number,
    node_role,
    one_of,
)
from masker.stream.rehydrate import PendingTails

MEDIA_PARTS = frozenset({"image_url", "input_audio", "file", "image", "audio"})

SHAPE = Shape(
    "openai_chat",
    exempt=(
        *COMMON_EXEMPT,
        *GENERATION_EXEMPT,
        Exempt(("messages", "*", "content", "*", "type"), one_of("text", "refusal", *MEDIA_PARTS), "content part type enum"),
        Exempt(("tools", "*", "type"), one_of("function", "custom"), "tool type enum"),
        Exempt(("messages", "*", "tool_calls", "*", "type"), one_of("function", "custom"), "tool call type enum"),
        Exempt(("**", "parameters", "**", "type"), one_of("object", "string", "number", "integer", "boolean",
                                                          "array", "null"), "JSON Schema type enum"),
        Exempt(("tool_choice",), one_of("auto", "none", "required"), "tool choice enum"),
        Exempt(("tool_choice", "type"), one_of("function", "allowed_tools", "custom"), "tool choice type enum"),
        Exempt(("response_format", "type"), one_of("text", "json_object", "json_schema"), "response format enum"),
        Exempt(("reasoning_effort",), one_of("minimal", "low", "medium", "high"), "reasoning effort enum"),
        Exempt(("service_tier",), one_of("auto", "default", "flex", "priority", "scale"), "service tier enum"),
        Exempt(("verbosity",), one_of("low", "medium", "high"), "verbosity enum"),
        Exempt(("modalities", "*"), one_of("text", "audio"), "modality enum"),
        Exempt(("audio", "voice"), one_of("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx",
                                         "sage", "shimmer", "verse", "marin", "cedar"), "built-in voice names"),
        Exempt(("audio", "format"), one_of("wav", "aac", "mp3", "flac", "opus", "pcm16"), "audio format enum"),
        Exempt(("messages", "*", "content", "*", "image_url", "detail"), one_of("auto", "low", "high"), "detail enum"),
        Exempt(("messages", "*", "content", "*", "input_audio", "format"), one_of("wav", "mp3"), "audio format enum"),
        Exempt(("logit_bias", "*"), is_number, "a bias between -100 and 100 for a token id"),
        Exempt(("prediction", "type"), one_of("content"), "prediction type enum"),
    ),
    roles=(Role(("messages", "*"), node_role),),
    fields=COMMON_FIELDS | frozenset({
        "messages", "image_url", "input_audio", "file", "file_data", "filename", "refusal", "tool_calls",
        "function_call", "functions", "max_tokens", "response_format", "json_schema", "schema", "stop",
        "frequency_penalty", "presence_penalty", "logit_bias", "stream_options", "include_usage",
        "parallel_tool_calls", "reasoning_effort", "service_tier", "store", "prediction", "modalities", "audio",
        "voice", "verbosity", "web_search_options", "prompt_cache_key", "safety_identifier",
    }),
    media=lambda node: node.get("type") in MEDIA_PARTS or ("data" in node and "format" in node),
)


# Delta string fields streamed as text (not JSON).
_DELTA_TEXT = ("content", "refusal", "reasoning_content", "reasoning")


class ChatStream:
    """``EventRehydrator`` for ``chat.completion.chunk`` / completions chunks."""

    def __init__(self, rehydrate: RehydrateFn) -> None:
        self._rehydrate = rehydrate
        self._tails = PendingTails(rehydrate)

    def event(self, obj: Any) -> tuple[list[Any], Any | None]:
        if not (isinstance(obj, dict) and isinstance(obj.get("choices"), list)):
            new, changed = rehydrate_leaves(obj, self._rehydrate)
            return [], new if changed else None
        new = obj  # freshly parsed for us: rewritten in place
        changed = False
        extras: list[Any] = []
        for pos, choice in enumerate(new["choices"]):
            if not isinstance(choice, dict):
                continue
            ci = choice.get("index", pos)
            here: list[tuple[Hashable, dict[str, Any], str]] = []  # (key, holder, field)
            for key, holder, field, escape in _delta_fields(choice, ci):
                original = holder[field]
                out = self._tails.push(key, original, json_escape=escape, envelope=_envelope(new, choice, key))
                holder[field] = out
                changed = changed or out != original
                here.append((key, holder, field))
            if choice.get("finish_reason") is not None:
                present = {k for k, _, _ in here}
                for key, holder, field in here:
                    rest = self._tails.take(key)
                    if rest:
                        holder[field] += rest
                        changed = True
                keys: list[Any] = self._tails.keys()  # this stream's own keys: (choice index, ...) tuples
                mine = [k for k in keys if k[0] == ci and k not in present]
                extras.extend(self._tails.flush(mine))
        return extras, new if changed else None

    def end(self) -> list[Any]:
        return self._tails.flush()


def _delta_fields(choice: dict[str, Any], ci: Any) -> list[tuple[Hashable, dict[str, Any], str, bool]]:
    """(key, holder, field, json_escape) for each streamed text in a choice."""
    out: list[tuple[Hashable, dict[str, Any], str, bool]] = []
    if isinstance(choice.get("text"), str):  # legacy completions
        out.append(((ci, "text"), choice, "text", False))
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return out
    for field in _DELTA_TEXT:
        if isinstance(delta.get(field), str):
            out.append(((ci, field), delta, field, False))
    audio = delta.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("transcript"), str):
        out.append(((ci, "audio.transcript"), audio, "transcript", False))
    calls = delta.get("tool_calls")
    if isinstance(calls, list):
        for pos, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                out.append(((ci, "tool", call.get("index", pos)), fn, "arguments", True))
    fc = delta.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
        out.append(((ci, "function_call"), fc, "arguments", True))
    return out


def _envelope(event: dict[str, Any], choice: dict[str, Any], key: Hashable):
    """Builder of a minimal chunk carrying flushed text for ``key``.

    Only the changing field is set: SDK accumulators concatenate every string
    they see, so repeating ``name``/``role`` would corrupt the message.
    """
    ci, field = key[0], key[1]  # type: ignore[index]

    def build(text: str) -> dict[str, Any]:
        top = {k: v for k, v in event.items() if k not in ("choices", "usage")}
        if "usage" in event:
            top["usage"] = None
        base: dict[str, Any] = {"index": ci}
        if field == "text":
            base["text"] = text
        elif field == "tool":
            base["delta"] = {"tool_calls": [{"index": key[2], "function": {"arguments": text}}]}  # type: ignore[index]
        elif field == "function_call":
            base["delta"] = {"function_call": {"arguments": text}}
        elif field == "audio.transcript":
            base["delta"] = {"audio": {"transcript": text}}
        else:
            base["delta"] = {field: text}
        if "logprobs" in choice:
            base["logprobs"] = None
        base["finish_reason"] = None
        return {**top, "choices": [base]}

    return build
