"""Any other JSON endpoint: every string leaf is free text.

Exceptions, so that requests stay valid: values under structural keys
(``model``, ``role``, ``type``, ``object``) are not masked, object keys are
never masked, and numbers/booleans/null are untouched. Ids are masked like any
other string (an unknown API's ``patient_id`` may be PHI; the detector leaves
opaque ids alone). A ``data:`` URL carrying base64
(an inline image, audio or file) follows the media switch.
"""

from __future__ import annotations

from typing import Any

from masker.providers.base import STRUCTURAL_KEYS, FieldSink, path_key


def collect(box: list[Any], sink: FieldSink) -> None:
    """Register the string leaves of ``box[0]`` (boxed so a bare string can be replaced)."""
    _walk(box, 0, "", sink)


def _walk(container: Any, key: Any, path: str, sink: FieldSink) -> None:
    value = container[key]
    if isinstance(value, str):
        if value.startswith("data:") and ";base64," in value[:200]:
            sink.media(path or "/")
        else:
            sink.text(container, key, role=None, path=path)
    elif isinstance(value, dict):
        for k in list(value):
            if k not in STRUCTURAL_KEYS:
                _walk(value, k, f"{path}/{path_key(k)}" if path else path_key(k), sink)
    elif isinstance(value, list):
        for i in range(len(value)):
            _walk(value, i, f"{path}/{i}" if path else str(i), sink)
