"""Shared pieces of the provider shapes: the field sink and leaf rehydration.

The request walk (``masker.providers.walk``) registers every string, number
and object key of a body with a ``FieldSink`` (where it sits, which role said
it); the sink then calls the mask function ONCE with all fields and writes
the masked texts back. What a provider may leave out is decided by its
``Shape`` (exemptions with reasons), never by a list of fields to mask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from masker.engine import MaskingError, TextField
from masker.stream.guard import rehydrate_text_end
from masker.tokens.scheme import TOKEN_MARK, might_hold_token

MaskFn = Callable[[list[TextField]], list[str]]


class RehydrateFn(Protocol):
    def __call__(self, text: str, *, json_escape: bool = False) -> str: ...


# Keys whose string values are opaque blobs (base64): not rehydrated unless they
# hold a scheme mark (saves scanning base64; the byte guard covers them anyway).
OPAQUE_KEYS = frozenset(
    {"signature", "encrypted_content", "audio", "b64_json", "partial_image_b64", "embedding"}
)
# Keys whose string values are JSON text themselves (tool-call arguments).
JSON_TEXT_KEYS = frozenset({"arguments"})

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def path_key(key: object) -> str:
    """A path step as it may appear in a field path (paths carry no values)."""
    if isinstance(key, int):
        return str(key)
    return key if isinstance(key, str) and _IDENT_RE.fullmatch(key) else "*"


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that refuses what an upstream could read differently.

    A duplicate key is refused (an upstream may take the copy Masker did not
    look at), and so are ``NaN``/``Infinity`` (not JSON; re-serialized they
    would reach the upstream as whatever its parser makes of them).
    """
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MaskingError("duplicate_key", "a JSON object has the same key twice; Masker refuses it", 400)
    return obj


def _no_constant(name: str) -> Any:
    raise MaskingError("invalid_json", f"{name} is not JSON", 400)


class FieldSink:
    """Collects every scannable piece of one request body, then masks them at once."""

    def __init__(self, media: str = "block") -> None:
        self.media_allowed = media == "allow"  # anything else fails closed
        self._fields: list[TextField] = []
        self._setters: list[Callable[[str], None]] = []
        self._finalizers: list[Callable[[], None]] = []

    @property
    def fields(self) -> list[TextField]:
        return list(self._fields)

    def _add(self, field: TextField, setter: Callable[[str], None]) -> None:
        self._fields.append(field)
        self._setters.append(setter)

    def text(self, container: Any, key: Any, *, role: str | None, path: str) -> None:
        """``container[key]``, a non-empty string: masked in place."""
        value = container[key]
        if isinstance(value, str) and value:
            self._add(TextField(value, role, path), lambda masked: container.__setitem__(key, masked))

    def fixed(self, container: Any, key: Any, *, role: str | None, path: str, what: str) -> None:
        """A string that must not change (a model name): scanned, refused if it holds an identifier."""
        value = container[key]
        if isinstance(value, str) and value:
            self._add(TextField(value, role, path), lambda masked: _unchanged(masked, value, what, path))

    def key(self, obj: dict[str, Any], key: str, *, role: str | None, path: str) -> None:
        """An object key of ``obj`` (``path`` ends in ``{key}``): scanned; one that holds
        an identifier is refused, since renaming a key breaks the API contract."""
        if key:
            self._add(TextField(key, role, path), lambda masked: _unchanged(masked, key, "a JSON key", path))

    def number(self, container: Any, key: Any, *, role: str | None, path: str, context: str) -> None:
        """A JSON number, scanned as its decimal text with ``context`` (its key's
        words) in front for the detector. One that is an identifier leaves as a
        string token: a number cannot hold a token, and the digits must not go."""
        value = container[key]
        text = repr(value) if isinstance(value, float) else str(value)

        def setter(masked: str) -> None:
            if masked != text:
                container[key] = masked

        self._add(TextField(text, role, path, context), setter)

    def json_text(self, container: Any, key: Any, *, path: str, walk: Callable[[list[Any]], None],
                  role: str | None) -> None:
        """A string that holds JSON (tool-call arguments): ``walk`` registers the
        pieces of the parsed value, which is re-serialized only when something
        changed (the original bytes are kept otherwise). Text that is not JSON is
        masked as text; JSON with a duplicate key is refused (``loads_strict``)."""
        raw = container[key]
        if not isinstance(raw, str) or not raw:
            return
        try:
            parsed = loads_strict(raw)
        except ValueError:
            self.text(container, key, role=role, path=path)
            return
        box = [parsed]
        before = len(self._fields)
        walk(box)
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


def _unchanged(masked: str, original: str, what: str, path: str) -> None:
    if masked != original:
        raise MaskingError("unmaskable_value", f"{what} at {path} holds an identifier and cannot be masked", 400)


def rehydrate_json_text(raw: str, rehydrate: RehydrateFn) -> str:
    """Rehydrate a string that should be JSON text (tool-call arguments).

    Restored values are JSON-escaped when the text is JSON or looks like the
    start of JSON (arguments cut off by a token limit), as the streamed
    deltas of the same arguments are; other text is restored as is. A token
    cut off at the end of the text is redacted (as a stream's last tail is).
    """
    if raw.lstrip().startswith(("{", "[")):
        return rehydrate_text_end(raw, rehydrate, json_escape=True)
    try:
        json.loads(raw)
    except ValueError:
        return rehydrate_text_end(raw, rehydrate)
    return rehydrate_text_end(raw, rehydrate, json_escape=True)


def rehydrate_leaves(value: Any, rehydrate: RehydrateFn) -> tuple[Any, bool]:
    """(value with every string leaf and object key rehydrated, whether anything changed).

    Returns the very same object when nothing changed; otherwise a rewritten
    copy of the changed containers. Strings under ``arguments`` are JSON text
    and are restored with JSON escaping. Strings under ``OPAQUE_KEYS`` (base64
    blobs) are only looked at when they hold a scheme mark (``MSKV1.`` /
    ``MSK1.``: base64 has no dot, so a genuine blob never does), lists under
    them (embeddings) are skipped (the byte guard sees any literal token in
    them), objects under them (a message's ``audio``) are walked like any
    other. A token cut off at the end
    of a string is redacted. A key that holds a token is restored too; if two
    keys of one object then read the same, the later ones get ``#2``, ``#3``..
    so no value is lost.
    """
    if isinstance(value, str):
        out = rehydrate_text_end(value, rehydrate)
        return out, out != value
    if isinstance(value, dict):
        changed = False
        new: dict[str, Any] = {}
        for k, v in value.items():
            nk = rehydrate_text_end(k, rehydrate) if isinstance(k, str) and TOKEN_MARK in k else k
            if k in OPAQUE_KEYS and not isinstance(v, dict):
                # a blob (base64 str) or an embedding (a list of numbers): looked at
                # only when a string holds a mark; the byte guard sees the rest
                nv: Any = rehydrate_text_end(v, rehydrate) if isinstance(v, str) and might_hold_token(v) else v
                c = nv is not v and nv != v
            elif k in JSON_TEXT_KEYS and isinstance(v, str):
                nv = rehydrate_json_text(v, rehydrate)
                c = nv != v
            else:
                nv, c = rehydrate_leaves(v, rehydrate)
            if nk != k:
                c = True
                if nk in new or nk in value:
                    nk = _free_key(nk, new, value)
            new[nk] = nv
            changed = changed or c
        return (new, True) if changed else (value, False)
    if isinstance(value, list):
        pairs = [rehydrate_leaves(v, rehydrate) for v in value]
        if any(c for _, c in pairs):
            return [v for v, _ in pairs], True
        return value, False
    return value, False


def _free_key(key: str, *taken: dict[str, Any]) -> str:
    n = 2
    while any(f"{key}#{n}" in t for t in taken):
        n += 1
    return f"{key}#{n}"
