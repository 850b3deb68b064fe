"""Anthropic Messages (``/v1/messages``, ``/v1/messages/count_tokens``).

Request: every string, number and key is scanned (``masker.providers.walk``),
``redacted_thinking`` data and ``web_search_tool_result`` content included
(what is opaque to us may still carry what a client put there); this module
adds what Messages defines: ``system`` is system text, each message's
``role`` is the role of its blocks, ``tool_result`` content is tool text,
image blocks and base64/file documents follow the media switch, and the
exemptions below, each with its reason.

Masking ``thinking`` text keeps PHI from leaving; it may invalidate the
block's signature when the masked text differs from what the model wrote.

Stream: ``content_block_delta`` text (``text_delta``, ``thinking_delta``,
``input_json_delta`` JSON-escaped) gets a pending tail per block index,
flushed into an extra delta event before that block's
``content_block_stop`` (all blocks before ``message_delta``/``message_stop``).
"""

from __future__ import annotations

from typing import Any

from masker.providers.base import RehydrateFn, rehydrate_leaves
from masker.providers.walk import COMMON_EXEMPT, COMMON_FIELDS, GENERATION_EXEMPT, Exempt, Role, Shape, node_role, one_of, shaped
from masker.stream.rehydrate import PendingTails

EVENT_TYPES = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    }
)
BLOCK_TYPES = ("text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
               "server_tool_use", "web_search_tool_result", "web_search_result", "search_result",
               "container_upload", "mcp_tool_use", "mcp_tool_result")


def _is_media(node: dict[str, Any]) -> bool:
    """An image block, or a document whose source is not text (base64 PDF, a file, a URL)."""
    kind = node.get("type")
    if kind == "image":
        return True
    if kind == "document":
        source = node.get("source")
        return not (isinstance(source, dict) and source.get("type") in ("text", "content"))
    return False


def _block_role(block: Any) -> str | None:
    return "tool" if isinstance(block, dict) and block.get("type") == "tool_result" else None


SHAPE = Shape(
    "anthropic",
    exempt=(
        *COMMON_EXEMPT,
        *GENERATION_EXEMPT,
        Exempt(("**", "type"), one_of(*BLOCK_TYPES, "base64", "url", "file", "content", "ephemeral", "enabled",
                                      "disabled", "auto", "any", "tool", "none", "custom", "object", "string",
                                      "number", "integer", "boolean", "array", "null", "char_location",
                                      "page_location", "content_block_location", "search_result_location",
                                      "web_search_result_location"), "block, source, cache and schema type enums"),
        Exempt(("tools", "*", "type"), shaped(r"[a-z_]+_\d{8}"), "a versioned server tool type (web_search_20250305)"),
        Exempt(("tools", "*", "name"), one_of("web_search", "web_fetch", "bash", "str_replace_editor",
                                              "str_replace_based_edit_tool", "computer", "code_execution"),
               "names Anthropic fixes for its server and client tools"),
        Exempt(("**", "media_type"), shaped(r"(?:image|application|text)/[a-z0-9.+-]{1,40}"), "a MIME type"),
        Exempt(("**", "cache_control", "ttl"), one_of("5m", "1h"), "cache lifetime enum"),
        Exempt(("service_tier",), one_of("auto", "standard_only"), "service tier enum"),
        Exempt(("thinking", "budget_tokens"), lambda v: isinstance(v, int), "a token budget"),
    ),
    roles=(
        Role(("system",), "system"),
        Role(("messages", "*"), node_role),
        Role(("messages", "*", "content", "*"), _block_role),
    ),
    fields=COMMON_FIELDS | frozenset({
        "system", "messages", "max_tokens", "stop_sequences", "top_k", "thinking", "budget_tokens",
        "input_schema", "tool_use_id", "is_error", "signature", "context", "service_tier", "ttl",
        "disable_parallel_tool_use", "container", "mcp_servers", "file_id", "encrypted_content",
    }),
    media=_is_media,
)


_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


class AnthropicStream:
    """``EventRehydrator`` for Anthropic Messages stream events."""

    def __init__(self, rehydrate: RehydrateFn) -> None:
        self._rehydrate = rehydrate
        self._tails = PendingTails(rehydrate)

    def event(self, obj: Any) -> tuple[list[Any], Any | None]:
        kind = obj.get("type") if isinstance(obj, dict) else None
        extras: list[Any] = []
        if kind == "content_block_delta":
            delta = obj.get("delta")
            dtype = delta.get("type") if isinstance(delta, dict) else None
            if dtype == "signature_delta":
                return [], None
            field = _DELTA_FIELDS.get(dtype)  # type: ignore[arg-type]
            if field is not None and isinstance(delta.get(field), str):
                return [], self._delta(obj, field)
        elif kind == "content_block_stop":
            extras = self._tails.flush([obj.get("index")])
        elif kind in ("message_delta", "message_stop"):
            extras = self._tails.flush()
        new, changed = rehydrate_leaves(obj, self._rehydrate)
        return extras, new if changed else None

    def end(self) -> list[Any]:
        return self._tails.flush()

    def _delta(self, obj: dict[str, Any], field: str) -> dict[str, Any] | None:
        template = obj  # never mutated: rewritten events are new dicts

        def envelope(text: str) -> dict[str, Any]:
            return {**template, "delta": {**template["delta"], field: text}}

        text = obj["delta"][field]
        out = self._tails.push(obj.get("index"), text, json_escape=field == "partial_json", envelope=envelope)
        return None if out == text else {**obj, "delta": {**obj["delta"], field: out}}
