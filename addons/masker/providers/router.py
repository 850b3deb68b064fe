"""Entry points the proxy calls: pick the provider shape by URL path.

* ``mask_request``: the body walk registers every string, number and key of
  the body that the path's ``Shape`` does not exempt, the mask function is
  called once with all of them (not at all when there are none), and a
  masked copy of the body comes back. A body that is not a JSON object on a
  known path is walked by the generic shape.
* ``rehydrate_response``: every string leaf of a response body is rehydrated
  (strings under ``arguments`` as JSON text); the same rule fits every
  provider, so the path is not needed to choose.
* ``stream_rehydrator``: an ``SseRehydrator`` whose events are dispatched by
  their shape (``choices`` -> Chat/Completions, Anthropic event types ->
  Anthropic, ``response.*`` -> Responses), so gateways with unusual paths
  stream correctly too.
"""

from __future__ import annotations

import copy
from typing import Any

from masker.providers import anthropic, embeddings, generic, openai_chat, openai_responses
from masker.providers.base import FieldSink, MaskFn, RehydrateFn, rehydrate_leaves
from masker.providers.walk import BodyWalk, Shape
from masker.stream.rehydrate import SseRehydrator

__all__ = [
    "MaskFn",
    "RehydrateFn",
    "SseRehydrator",
    "mask_request",
    "provider_for",
    "rehydrate_response",
    "stream_rehydrator",
]

SHAPES: dict[str, Shape] = {
    "openai_chat": openai_chat.SHAPE,
    "openai_responses": openai_responses.SHAPE,
    "anthropic": anthropic.SHAPE,
    "embeddings": embeddings.EMBEDDINGS,
    "completions": embeddings.COMPLETIONS,
}


def provider_for(path: str) -> str:
    """Shape name for a request path (query, fragment and host are ignored)."""
    p = path.split("?", 1)[0].split("#", 1)[0]
    if "://" in p:
        p = "/" + p.split("://", 1)[1].partition("/")[2]
    p = p.rstrip("/")
    if p.endswith("/chat/completions"):
        return "openai_chat"
    if p.endswith("/responses"):
        return "openai_responses"
    if p.endswith(("/v1/messages", "/v1/messages/count_tokens")):
        return "anthropic"
    if p.endswith("/embeddings"):
        return "embeddings"
    if p.endswith("/completions"):
        return "completions"
    return "generic"


def mask_request(path: str, body: Any, mask: MaskFn, *, media: str = "block") -> Any:
    """A masked copy of ``body``; raises ``MaskingError`` when it must not go out."""
    sink = FieldSink(media)
    box = [copy.deepcopy(body)]
    shape = SHAPES.get(provider_for(path), generic.SHAPE) if isinstance(body, dict) else generic.SHAPE
    BodyWalk(shape, sink).walk(box)
    sink.apply(mask)
    return box[0]


def rehydrate_response(path: str, body: Any, rehydrate: RehydrateFn) -> Any:
    """``body`` with every token rehydrated (the same object when none was found)."""
    return rehydrate_leaves(body, rehydrate)[0]


class _AnyStream:
    """Dispatches each parsed event to the stream logic of its shape."""

    def __init__(self, rehydrate: RehydrateFn) -> None:
        self._chat = openai_chat.ChatStream(rehydrate)
        self._anthropic = anthropic.AnthropicStream(rehydrate)
        self._responses = openai_responses.ResponsesStream(rehydrate)

    def event(self, obj: Any) -> tuple[list[Any], Any | None]:
        if isinstance(obj, dict):
            if isinstance(obj.get("choices"), list):
                return self._chat.event(obj)
            if obj.get("type") in anthropic.EVENT_TYPES:
                return self._anthropic.event(obj)
        return self._responses.event(obj)

    def end(self) -> list[Any]:
        return self._chat.end() + self._anthropic.end() + self._responses.end()


def stream_rehydrator(path: str, rehydrate: RehydrateFn) -> SseRehydrator:
    """A rehydrator for one SSE response body (``path`` is accepted for symmetry)."""
    return SseRehydrator(_AnyStream(rehydrate), rehydrate)
