"""Embeddings ``input`` and legacy completions ``prompt``/``suffix``.

A string or a list of strings is free text; token arrays (lists of ints, or
lists of such lists) are left as they are: they cannot be scanned.
"""

from __future__ import annotations

from typing import Any

from masker.providers.base import FieldSink


def collect_embeddings(body: dict[str, Any], sink: FieldSink) -> None:
    _strings(body, "input", sink)
    sink.text(body, "user", role=None, path="user")


def collect_completions(body: dict[str, Any], sink: FieldSink) -> None:
    _strings(body, "prompt", sink)
    sink.text(body, "suffix", role="user", path="suffix")
    sink.text(body, "user", role=None, path="user")


def _strings(body: dict[str, Any], key: str, sink: FieldSink) -> None:
    value = body.get(key)
    if isinstance(value, str):
        sink.text(body, key, role="user", path=key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                sink.text(value, i, role="user", path=f"{key}/{i}")
