"""mitmweb's "masker spans" content view: what Masker replaced in a request, and what left.

For an LLM flow, the view shows one row per span Masker replaced in the
request (``masking.SPANS_KEY``, set by the masking addon: field, location,
kind, pass, detector, confidence, action and the token or marker written,
never the original value), then the masked request body: the request's
content already *is* what the provider received, so the view shows that,
pretty-printed when it is JSON. Picked from the view menu on the request
or the response tab, it always shows the request's side: the response body
holds rehydrated values.

It is never chosen automatically (``render_priority`` stays below the raw
view's), so the default view of a request remains the provider's copy as
mitmproxy shows any body.

mitmproxy 12 has no public way to unregister a content view: ``SpansView``
registers it on ``load`` (registering again replaces it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mitmproxy import contentviews, http
from mitmproxy.contentviews import Contentview, Metadata

from masker.proxy.masking import SPANS_KEY

NAME = "masker spans"
_COLUMNS = ("field", "path", "kind", "pass", "detector", "confidence", "action", "replacement")
_NEVER_DEFAULT = 0.01  # below the raw view (0.1): shown only when picked


def _spans_of(metadata: Metadata) -> list[Mapping[str, Any]] | None:
    flow = metadata.flow
    if not isinstance(flow, http.HTTPFlow):
        return None
    spans = flow.metadata.get(SPANS_KEY)
    return [s for s in spans if isinstance(s, Mapping)] if isinstance(spans, list) else None


def _cell(span: Mapping[str, Any], column: str) -> str:
    value = span.get(column)
    if value is None:
        return "-"
    if column == "confidence" and isinstance(value, (int, float)):
        return f"{value:.2f}"
    return str(value)


def spans_table(spans: Sequence[Mapping[str, Any]]) -> str:
    """The spans as an aligned text table, one row per span."""
    rows = [list(_COLUMNS)] + [[_cell(s, c) for c in _COLUMNS] for s in spans]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _body(request: http.Request) -> str:
    content = request.get_content(strict=False)
    if not content:
        return "(no body)"
    try:
        return json.dumps(json.loads(content), indent=2, ensure_ascii=False)
    except ValueError:
        return content.decode("utf-8", "backslashreplace")


class MaskerSpansContentview(Contentview):
    name = NAME

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        spans = _spans_of(metadata)
        if spans is None or not isinstance(metadata.flow, http.HTTPFlow):
            raise ValueError("not a request Masker masked")
        head = f"Masker replaced {len(spans)} span(s) in this request (never a value here)."
        table = spans_table(spans) if spans else "(nothing was replaced)"
        body = _body(metadata.flow.request)
        return f"{head}\n\n{table}\n\nMasked request body (what the provider received):\n\n{body}\n"

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        return _NEVER_DEFAULT if _spans_of(metadata) is not None else -1


class SpansView:
    """Registers the "masker spans" content view with mitmproxy (mitmweb's view menu)."""

    def load(self, loader: object) -> None:
        contentviews.add(MaskerSpansContentview())
