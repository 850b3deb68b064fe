"""OpenAI Responses API (``/v1/responses``); its stream logic also serves Realtime.

Request: every string, number and key is scanned (``masker.providers.walk``),
``item_reference`` ids, ``previous_response_id`` and reasoning
``encrypted_content`` included unless they have the provider's id shape;
this module adds what Responses defines: ``instructions`` are system text, a
string ``input`` is user text, each item's ``role`` (or its type: tool calls
are the assistant's, their outputs the tool's) is the role of its text,
``arguments`` are JSON text, image/file/audio parts follow the media switch,
and the exemptions below, each with its reason.

Stream: every ``response.*.delta`` event with a string ``delta`` (output
text, refusals, function-call arguments (JSON-escaped), reasoning text,
transcripts) gets a pending tail keyed by (item_id, output_index,
content_index, summary_index). A ``*.done`` event flushes the tails at its
coordinates into a delta event placed before it; ``response.completed`` /
``incomplete`` / ``failed`` / ``done`` flush every tail. Non-delta events are
rehydrated whole (every string leaf).
"""

from __future__ import annotations

from typing import Any

from masker.providers.base import RehydrateFn, rehydrate_leaves
from masker.providers.walk import COMMON_EXEMPT, COMMON_FIELDS, GENERATION_EXEMPT, Exempt, Role, Shape, node_role, one_of
from masker.stream.rehydrate import PendingTails

MEDIA_PARTS = frozenset({"input_image", "input_file", "input_audio", "image", "audio", "file"})
ITEM_TYPES = (
    "message", "input_text", "output_text", "text", "summary_text", "reasoning_text", "refusal", "function_call",
    "function_call_output", "custom_tool_call", "custom_tool_call_output", "reasoning", "item_reference",
    "web_search_call", "file_search_call", "computer_call", "computer_call_output", "image_generation_call",
    "code_interpreter_call", "local_shell_call", "local_shell_call_output", "mcp_call", "mcp_list_tools",
    "mcp_approval_request", "mcp_approval_response", "function", "custom", "web_search", "web_search_preview",
    "file_search", "code_interpreter", "image_generation", "mcp", "computer_use_preview", "local_shell",
    "json_schema", "json_object", "url_citation", "file_citation", "input_audio", *MEDIA_PARTS,
)
_TOOL_CALLS = frozenset({"function_call", "custom_tool_call", "reasoning", "computer_call", "local_shell_call"})
_TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output", "computer_call_output",
                           "local_shell_call_output"})


def item_role(item: Any) -> str | None:
    """The role of an input item's text: its ``role``, else by its type."""
    role = node_role(item)
    if role is not None or not isinstance(item, dict):
        return role
    kind = item.get("type")
    return "assistant" if kind in _TOOL_CALLS else "tool" if kind in _TOOL_OUTPUTS else None


EXEMPT = (
    *COMMON_EXEMPT,
    *GENERATION_EXEMPT,
    Exempt(("**", "type"), one_of(*ITEM_TYPES), "item, part and tool type enums"),
    Exempt(("**", "status"), one_of("in_progress", "completed", "incomplete"), "item status enum"),
    Exempt(("**", "detail"), one_of("auto", "low", "high"), "image detail enum"),
    Exempt(("reasoning", "effort"), one_of("minimal", "low", "medium", "high"), "reasoning effort enum"),
    Exempt(("reasoning", "summary"), one_of("auto", "concise", "detailed"), "reasoning summary enum"),
    Exempt(("truncation",), one_of("auto", "disabled"), "truncation enum"),
    Exempt(("service_tier",), one_of("auto", "default", "flex", "priority", "scale"), "service tier enum"),
    Exempt(("tool_choice",), one_of("auto", "none", "required"), "tool choice enum"),
    Exempt(("text", "verbosity"), one_of("low", "medium", "high"), "verbosity enum"),
    Exempt(("include", "*"), one_of("reasoning.encrypted_content", "file_search_call.results",
                                    "web_search_call.action.sources", "message.input_image.image_url",
                                    "computer_call_output.output.image_url", "code_interpreter_call.outputs",
                                    "message.output_text.logprobs"), "include enum"),
)
FIELDS = COMMON_FIELDS | frozenset({
    "instructions", "input", "previous_response_id", "prompt", "variables", "version", "reasoning", "effort",
    "summary", "encrypted_content", "output", "call_id", "annotations", "image_url", "file_data", "filename",
    "file_url", "max_output_tokens", "truncation", "include", "store", "background", "service_tier",
    "parallel_tool_calls", "text", "verbosity", "json_schema", "schema", "conversation", "prompt_cache_key",
    "safety_identifier", "refusal", "logprobs", "transcript", "input_audio",
})


def is_media(node: dict[str, Any]) -> bool:
    return node.get("type") in MEDIA_PARTS


SHAPE = Shape(
    "openai_responses",
    exempt=EXEMPT,
    roles=(
        Role(("instructions",), "system"),
        Role(("input",), lambda v: "user" if isinstance(v, str) else None),
        Role(("input", "*"), item_role),
        Role(("prompt", "variables"), "user"),
    ),
    fields=FIELDS,
    media=is_media,
)


_COORDS = ("item_id", "output_index", "content_index", "summary_index")
# Deltas that are base64 audio, not text: never held back or rewritten.
_BINARY = frozenset({"response.audio", "response.output_audio"})
_END_ALL = frozenset({"response.completed", "response.incomplete", "response.failed", "response.done"})


class ResponsesStream:
    """``EventRehydrator`` for Responses API (and Realtime server) events."""

    def __init__(self, rehydrate: RehydrateFn) -> None:
        self._rehydrate = rehydrate
        self._tails = PendingTails(rehydrate)

    def event(self, obj: Any) -> tuple[list[Any], Any | None]:
        kind = obj.get("type") if isinstance(obj, dict) else None
        if not isinstance(kind, str):
            return self._whole(obj)
        if kind.startswith("response.") and kind.endswith(".delta"):
            prefix = kind[: -len(".delta")]
            if prefix in _BINARY or not isinstance(obj.get("delta"), str):
                return [], None
            return [], self._delta(obj, prefix)
        extras: list[Any] = []
        if kind in _END_ALL:
            extras = self._tails.flush()
        elif kind.endswith(".done"):
            at = {c: obj[c] for c in _COORDS if obj.get(c) is not None}
            pending: list[Any] = self._tails.keys()  # this stream's own keys: ((coordinate, value), ...) tuples
            keys = [k for k in pending if all(dict(k).get(c) == v for c, v in at.items())]
            extras = self._tails.flush(keys)
        return extras, self._whole(obj)[1]

    def end(self) -> list[Any]:
        return self._tails.flush()

    def _delta(self, obj: dict[str, Any], prefix: str) -> dict[str, Any] | None:
        key = tuple((c, obj.get(c)) for c in _COORDS)
        template = {**obj, "logprobs": []} if "logprobs" in obj else obj

        def envelope(text: str) -> dict[str, Any]:
            return {**template, "delta": text}

        out = self._tails.push(key, obj["delta"], json_escape="arguments" in prefix, envelope=envelope)
        return None if out == obj["delta"] else {**obj, "delta": out}

    def _whole(self, obj: Any) -> tuple[list[Any], Any | None]:
        new, changed = rehydrate_leaves(obj, self._rehydrate)
        return [], new if changed else None
