"""Shared pieces of the provider shapes: field collection and leaf rehydration.

A provider walker registers every free-text string of a request body with a
``FieldSink`` (where it sits, which role said it); the sink then calls the
mask function ONCE with all fields and writes the masked texts back.

What counts as free text (masked): message/content text, tool-call arguments
(string leaves of the parsed JSON), tool results, instructions/system text,
``name`` of chat messages, ``user``/``metadata`` values. Never masked: model
names, ids, roles, types, tool names and tool/function *definitions* (schemas
and descriptions are developer-authored) and JSON object keys.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Protocol

from masker.engine import MaskingError, TextField

MaskFn = Callable[[list[TextField]], list[str]]


class RehydrateFn(Protocol):
    def __call__(self, text: str, *, json_escape: bool = False) -> str: ...


# Keys whose string values are structure, never free text (generic walker).
# Ids are masked there: an unknown API's ``patient_id`` may well be PHI.
STRUCTURAL_KEYS = frozenset({"model", "role", "type", "object"})
# Keys whose values are opaque blobs: never rehydrated (saves scanning base64).
OPAQUE_KEYS = frozenset(
    {"signature", "encrypted_content", "audio", "b64_json", "partial_image_b64", "embedding"}
)
# Keys whose string values are JSON text themselves (tool-call arguments).
JSON_TEXT_KEYS = frozenset({"arguments"})

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def path_key(key: str) -> str:
    """A JSON object key as it may appear in a field path (paths carry no values)."""
    return key if _IDENT_RE.fullmatch(key) else "*"


class FieldSink:
    """Collects the free-text fields of one request body, then masks them at once."""

    def __init__(self, media: str = "block") -> None:
        self.media_allowed = media == "allow"  # anything else fails closed
        self._fields: list[TextField] = []
        self._setters: list[Callable[[str], None]] = []
        self._finalizers: list[Callable[[], None]] = []

    @property
    def fields(self) -> list[TextField]:
        return list(self._fields)

    def text(self, container: Any, key: Any, *, role: str | None, path: str) -> None:
        """Register ``container[key]`` when it is a non-empty string."""
        value = _get(container, key)
        if isinstance(value, str) and value:
            self._fields.append(TextField(value, role, path))
            self._setters.append(lambda masked, c=container, k=key: c.__setitem__(k, masked))

    def leaves(self, container: Any, key: Any, *, role: str | None, path: str) -> None:
        """Register every string leaf under ``container[key]`` (object keys untouched)."""
        value = _get(container, key)
        if isinstance(value, str):
            self.text(container, key, role=role, path=path)
        elif isinstance(value, dict):
            for k in list(value):
                self.leaves(value, k, role=role, path=f"{path}/{path_key(k)}")
        elif isinstance(value, list):
            for i in range(len(value)):
                self.leaves(value, i, role=role, path=f"{path}/{i}")

    def json_text(self, container: Any, key: Any, *, role: str | None, path: str) -> None:
        """Register a string that holds JSON (tool-call arguments).

        The string leaves of the parsed value are masked and the value is
        re-serialized; the original string is kept byte-for-byte when nothing
        changed. Text that is not valid JSON is masked as plain text.
        """
        raw = _get(container, key)
        if not isinstance(raw, str) or not raw:
            return
        try:
            parsed = json.loads(raw)
        except ValueError:
            self.text(container, key, role=role, path=path)
            return
        box = [parsed]
        before = len(self._fields)
        self.leaves(box, 0, role=role, path=path)
        if len(self._fields) == before:
            return
        original = json.loads(raw)

        def reserialize() -> None:
            if box[0] != original:
                container[key] = json.dumps(box[0], ensure_ascii=False)

        self._finalizers.append(reserialize)

    def media(self, path: str) -> None:
        """A non-text part (image, audio, file) at ``path``: allowed or blocked."""
        if not self.media_allowed:
            raise MaskingError("media_blocked", f"non-text content at {path} is blocked by policy", 400)

    def apply(self, mask: MaskFn) -> None:
        """Mask all registered fields in one call and write the results back."""
        if not self._fields:
            return
        masked = mask(list(self._fields))
        if not isinstance(masked, list) or len(masked) != len(self._fields):
            raise MaskingError("mask_failed", "mask function returned a wrong number of fields", 502)
        for setter, text in zip(self._setters, masked):
            if not isinstance(text, str):
                raise MaskingError("mask_failed", "mask function returned a non-string", 502)
            setter(text)
        for finalize in self._finalizers:
            finalize()


def unsupported(path: str, what: str) -> MaskingError:
    """Fail closed on a part we cannot vouch for (it might carry unmasked text)."""
    return MaskingError("unsupported_content", f"unsupported {what} at {path}", 400)


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
        return container[key]
    return None


def rehydrate_json_text(raw: str, rehydrate: RehydrateFn) -> str:
    """Rehydrate a string that should be JSON text (tool-call arguments).

    Restored values are JSON-escaped when the text is JSON or looks like the
    start of JSON (arguments cut off by a token limit), as the streamed
    deltas of the same arguments are; other text is restored as is.
    """
    if raw.lstrip().startswith(("{", "[")):
        return rehydrate(raw, json_escape=True)
    try:
        json.loads(raw)
    except ValueError:
        return rehydrate(raw)
    return rehydrate(raw, json_escape=True)


def rehydrate_leaves(value: Any, rehydrate: RehydrateFn) -> tuple[Any, bool]:
    """(value with every string leaf rehydrated, whether anything changed).

    Returns the very same object when nothing changed; otherwise a rewritten
    copy of the changed containers. Strings under ``arguments`` are JSON text
    and are restored with JSON escaping; opaque blobs are skipped.
    """
    if isinstance(value, str):
        out = rehydrate(value)
        return out, out != value
    if isinstance(value, dict):
        changed = False
        new: dict[str, Any] = {}
        for k, v in value.items():
            if k in OPAQUE_KEYS:
                new[k] = v
                continue
            if k in JSON_TEXT_KEYS and isinstance(v, str):
                nv: Any = rehydrate_json_text(v, rehydrate)
                c = nv != v
            else:
                nv, c = rehydrate_leaves(v, rehydrate)
            new[k] = nv
            changed = changed or c
        return (new, True) if changed else (value, False)
    if isinstance(value, list):
        pairs = [rehydrate_leaves(v, rehydrate) for v in value]
        if any(c for _, c in pairs):
            return [v for v, _ in pairs], True
        return value, False
    return value, False
