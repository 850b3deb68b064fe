"""Anthropic Messages (``/v1/messages``, ``/v1/messages/count_tokens``).

Request free text: ``system`` (string or text blocks); ``messages[].content``
as a string or blocks: ``text``, ``thinking`` text, ``tool_use``/
``server_tool_use`` ``input`` (every string leaf), ``tool_result`` content
(string or blocks), text-source ``document`` data/title/context,
``search_result`` title and text; ``metadata.user_id``. Image and binary
documents follow the media switch; ``redacted_thinking`` and
``web_search_tool_result`` (opaque / public web content) pass; any other
block type is refused.

Masking ``thinking`` text keeps PHI from leaving; it may invalidate the
block's signature when the masked text differs from what the model wrote.

Stream: ``content_block_delta`` text (``text_delta``, ``thinking_delta``,
``input_json_delta`` JSON-escaped) gets a pending tail per block index,
flushed into an extra delta event before that block's
``content_block_stop`` (all blocks before ``message_delta``/``message_stop``).
"""

from __future__ import annotations

from typing import Any

from masker.providers.base import FieldSink, RehydrateFn, rehydrate_leaves, unsupported
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
_PASS_BLOCKS = frozenset({"redacted_thinking", "web_search_tool_result"})


def collect(body: dict[str, Any], sink: FieldSink) -> None:
    blocks(body, "system", "system", "system", sink)
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, msg in enumerate(messages):
            if isinstance(msg, dict):
                role = msg.get("role") if isinstance(msg.get("role"), str) else None
                blocks(msg, "content", role, f"messages/{i}/content", sink)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        sink.text(metadata, "user_id", role=None, path="metadata/user_id")


def blocks(container: dict[str, Any], key: str, role: str | None, path: str, sink: FieldSink) -> None:
    """``container[key]`` as a string or a list of content blocks."""
    value = container.get(key)
    if isinstance(value, str):
        sink.text(container, key, role=role, path=path)
    elif isinstance(value, list):
        for j, block in enumerate(value):
            _block(block, role, f"{path}/{j}", sink)


def _block(block: Any, role: str | None, path: str, sink: FieldSink) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        sink.text(block, "text", role=role, path=f"{path}/text")
    elif kind == "thinking":
        sink.text(block, "thinking", role=role, path=f"{path}/thinking")
    elif kind in ("tool_use", "server_tool_use"):
        sink.leaves(block, "input", role=role, path=f"{path}/input")
    elif kind == "tool_result":
        blocks(block, "content", "tool", f"{path}/content", sink)
    elif kind == "image":
        sink.media(path)
    elif kind == "document":
        _document(block, role, path, sink)
    elif kind == "search_result":
        sink.text(block, "title", role=role, path=f"{path}/title")
        blocks(block, "content", role, f"{path}/content", sink)
    elif kind not in _PASS_BLOCKS:
        raise unsupported(path, "content block")


def _document(block: dict[str, Any], role: str | None, path: str, sink: FieldSink) -> None:
    source = block.get("source")
    stype = source.get("type") if isinstance(source, dict) else None
    if stype == "text":
        sink.text(source, "data", role=role, path=f"{path}/source/data")
    elif stype == "content":
        blocks(source, "content", role, f"{path}/source/content", sink)
    else:
        sink.media(path)
    sink.text(block, "title", role=role, path=f"{path}/title")
    sink.text(block, "context", role=role, path=f"{path}/context")


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
            if field is not None and isinstance(delta.get(field), str):  # type: ignore[union-attr]
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
