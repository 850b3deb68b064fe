"""OpenAI Chat Completions (``/v1/chat/completions``, Azure deployments too).

Request free text: ``messages[].content`` (string, or ``text``/``refusal``
parts), participant ``name`` (not the function name of ``tool``/``function``
messages), assistant ``tool_calls[].function.arguments`` and
legacy ``function_call.arguments`` (JSON text: string leaves masked),
``tool``/``function`` message contents, ``prediction.content``, ``user`` and
``metadata`` values. Image/audio/file parts follow the media switch; any
other part type is refused (it could carry text we do not mask).

Stream: ``chat.completion.chunk`` events (and legacy completions chunks with
``choices[].text``) are rehydrated with a pending tail per (choice, field),
tool-call arguments per (choice, tool index), flushed when the choice gets a
``finish_reason``, at ``[DONE]`` or at the end of the body.
"""

from __future__ import annotations

from typing import Any, Hashable

from masker.providers.base import FieldSink, RehydrateFn, rehydrate_leaves, unsupported
from masker.stream.rehydrate import PendingTails

_MEDIA_PARTS = frozenset({"image_url", "input_audio", "file", "image", "audio"})
_TEXT_PARTS = {"text": "text", "refusal": "refusal"}


def collect(body: dict[str, Any], sink: FieldSink) -> None:
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, msg in enumerate(messages):
            if isinstance(msg, dict):
                _message(msg, f"messages/{i}", sink)
    prediction = body.get("prediction")
    if isinstance(prediction, dict):
        content_parts(prediction, "content", None, "prediction/content", sink)
    sink.text(body, "user", role=None, path="user")
    sink.leaves(body, "metadata", role=None, path="metadata")


def _message(msg: dict[str, Any], path: str, sink: FieldSink) -> None:
    role = msg.get("role") if isinstance(msg.get("role"), str) else None
    content_parts(msg, "content", role, f"{path}/content", sink)
    if role not in ("function", "tool"):  # there ``name`` is a function name, not a person
        sink.text(msg, "name", role=role, path=f"{path}/name")
    sink.text(msg, "refusal", role=role, path=f"{path}/refusal")
    calls = msg.get("tool_calls")
    if isinstance(calls, list):
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                sink.json_text(fn, "arguments", role=role, path=f"{path}/tool_calls/{j}/function/arguments")
    fc = msg.get("function_call")
    if isinstance(fc, dict):
        sink.json_text(fc, "arguments", role=role, path=f"{path}/function_call/arguments")
    audio = msg.get("audio")
    if isinstance(audio, dict) and "data" in audio:
        sink.media(f"{path}/audio")


def content_parts(container: dict[str, Any], key: str, role: str | None, path: str, sink: FieldSink) -> None:
    """``container[key]`` as a string or a list of chat content parts."""
    content = container.get(key)
    if isinstance(content, str):
        sink.text(container, key, role=role, path=path)
        return
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        ppath = f"{path}/{j}"
        if isinstance(part, str):  # some clients send bare strings
            sink.text(content, j, role=role, path=ppath)
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            sink.text(part, _TEXT_PARTS[kind], role=role, path=f"{ppath}/{_TEXT_PARTS[kind]}")
        elif kind in _MEDIA_PARTS:
            sink.media(ppath)
        else:
            raise unsupported(ppath, "content part")


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
                mine = [k for k in self._tails.keys() if k[0] == ci and k not in present]
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
