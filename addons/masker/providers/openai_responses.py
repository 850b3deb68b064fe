"""OpenAI Responses API (``/v1/responses``); its stream logic also serves Realtime.

Request free text: ``instructions``; ``input`` as a string or items:
messages (content string or ``input_text``/``output_text``/``refusal``
parts), ``function_call.arguments`` (JSON text), ``function_call_output``
and ``custom_tool_call(_output)`` text, reasoning summaries; ``prompt``
variables, ``user``, ``metadata`` values. Image/file/audio parts follow the
media switch. Unknown item or part types are refused: they could carry text
that would go out unmasked.

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

from masker.providers.base import FieldSink, RehydrateFn, path_key, rehydrate_leaves, unsupported
from masker.stream.rehydrate import PendingTails

_TEXT_PARTS = {
    "input_text": "text",
    "output_text": "text",
    "text": "text",
    "summary_text": "text",
    "reasoning_text": "text",
    "refusal": "refusal",
}
_MEDIA_PARTS = frozenset({"input_image", "input_file", "input_audio", "image", "audio", "file"})


def collect(body: dict[str, Any], sink: FieldSink) -> None:
    sink.text(body, "instructions", role="system", path="instructions")
    items = body.get("input")
    if isinstance(items, str):
        sink.text(body, "input", role="user", path="input")
    elif isinstance(items, list):
        for i, item in enumerate(items):
            input_item(items, i, f"input/{i}", sink)
    prompt = body.get("prompt")
    if isinstance(prompt, dict):
        prompt_variables(prompt, "prompt", sink)
    sink.text(body, "user", role=None, path="user")
    sink.leaves(body, "metadata", role=None, path="metadata")


def prompt_variables(prompt: dict[str, Any], path: str, sink: FieldSink) -> None:
    """Reusable-prompt ``variables``: strings or single input parts."""
    variables = prompt.get("variables")
    if not isinstance(variables, dict):
        return
    for name in list(variables):
        vpath = f"{path}/variables/{path_key(name)}"
        if isinstance(variables[name], dict):
            parts(variables, name, "user", vpath, sink, wrap=True)
        else:
            sink.text(variables, name, role="user", path=vpath)


def input_item(items: list[Any], i: int, path: str, sink: FieldSink) -> None:
    """One item of ``input`` (also Realtime ``conversation.item.create`` items)."""
    item = items[i]
    if isinstance(item, str):
        sink.text(items, i, role="user", path=path)
        return
    if not isinstance(item, dict):
        return
    kind = item.get("type", "message" if "role" in item else None)
    role = item.get("role") if isinstance(item.get("role"), str) else None
    if kind == "message":
        parts(item, "content", role, f"{path}/content", sink)
    elif kind == "function_call":
        sink.json_text(item, "arguments", role="assistant", path=f"{path}/arguments")
    elif kind == "custom_tool_call":
        sink.text(item, "input", role="assistant", path=f"{path}/input")
    elif kind in ("function_call_output", "custom_tool_call_output"):
        parts(item, "output", "tool", f"{path}/output", sink)
    elif kind == "reasoning":
        parts(item, "summary", "assistant", f"{path}/summary", sink)
        parts(item, "content", "assistant", f"{path}/content", sink)
    elif kind != "item_reference":
        raise unsupported(path, "input item")


def parts(
    container: dict[str, Any], key: str, role: str | None, path: str, sink: FieldSink, *, wrap: bool = False
) -> None:
    """``container[key]``: a string, a list of parts, or (``wrap``) a single part."""
    value = container.get(key)
    if isinstance(value, str):
        sink.text(container, key, role=role, path=path)
        return
    if wrap and isinstance(value, dict):
        _part(value, role, path, sink)
        return
    if isinstance(value, list):
        for j, part in enumerate(value):
            if isinstance(part, str):
                sink.text(value, j, role=role, path=f"{path}/{j}")
            else:
                _part(part, role, f"{path}/{j}", sink)


def _part(part: Any, role: str | None, path: str, sink: FieldSink) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS:
        field = _TEXT_PARTS[kind]
        sink.text(part, field, role=role, path=f"{path}/{field}")
    elif kind in _MEDIA_PARTS:
        sink.media(path)
        sink.text(part, "transcript", role=role, path=f"{path}/transcript")
    else:
        raise unsupported(path, "content part")


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
            keys = [k for k in self._tails.keys() if all(dict(k).get(c) == v for c, v in at.items())]
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
