"""One access line per LLM request, and the per-flow summary mitmweb marks show.

Logged by ``masker.access`` at INFO once the flow is over (``response``,
``error``, or a refused ``CONNECT``), with these fields and never a value:

``agent`` / ``session``
    the caller's scope (ids of a validated shape that holds no identifier;
    ``-`` when the id itself was refused);
``method`` / ``host`` / ``route``
    the route template the journal records (``/v1/threads/{id}/runs``);
``status``
    what the client got (``0``: no HTTP answer, e.g. a killed stream);
``outcome`` / ``by``
    ``forwarded`` (``by=upstream``), else the code of Masker's own answer
    (``by=masker``: ``invalid_json``, ``residual_phi``, ``engine_unavailable``,
    ``upstream_timeout``, ``rehydration_failed``...), ``stream_killed``
    or ``client_disconnected``;
``masked``
    replacements Masker wrote into the request, by kind (tokens and
    ``[REDACTED:KIND]``; surrogates of the ``synthetic`` scheme cannot be
    told from text and are not counted);
``added_ms``
    time spent in Masker's hooks: from the end of the client's request to
    the end of the request hooks (masking, journal append), plus from the
    end of the upstream response to the end of the response hooks
    (rehydration of a buffered body; a streamed body's per-chunk work is not
    included).

Local endpoints (``/healthz``, ``/readyz``) and traffic that is not to an LLM
host are not logged here.
"""

from __future__ import annotations

import collections
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from mitmproxy import http

from masker import logs
from masker.providers import url
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.upstream import ANSWERED_KEY, ERROR_KEY
from masker.scope import Scope
from masker.tokens.scheme import KID_RE, KIND_RE, MIN_AEAD_BODY_LEN, SCHEME_RE, TOKEN_MARK

log = logging.getLogger("masker.access")

KINDS_KEY = "masker_masked_kinds"  # flow.metadata: {kind: count} of the replacements in the request
MASKED_AT_KEY = "masker_t_masked"  # flow.metadata: time.time() once the request hooks were done
SUMMARY_KEY = "masker_access"  # flow.metadata: the access line's fields (``summary``) once logged
# Keys set by masking.py (LLM_KEY; not imported: masking.py imports this module),
# local_endpoints.py and errors.refuse.
_SCOPE, _LLM, _LOCAL, _REFUSED = SCOPE_KEY, "masker_llm", "masker_local", "masker_refused"
_ANSWERED, _UPSTREAM_ERROR = ANSWERED_KEY, ERROR_KEY
# For counting only (the rehydrator validates tokens with TOKEN_RE): the stdlib ``re``
# with a fixed-length body prefix is ~4x faster than a TOKEN_RE scan (~20 us per KB).
_TOKEN_KIND_RE = re.compile(rf"{SCHEME_RE}\.({KIND_RE})\.{KID_RE}\.[A-Z2-7]{{{MIN_AEAD_BODY_LEN}}}")
_REDACTED_RE = re.compile(rf"\[REDACTED:({KIND_RE})\]")


def replacement_kinds(texts: Sequence[str]) -> collections.Counter[str]:
    """Tokens and ``[REDACTED:KIND]`` markers in ``texts``, by kind."""
    counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        if TOKEN_MARK in text:
            counts.update(m.group(1) for m in _TOKEN_KIND_RE.finditer(text))
        if "[REDACTED:" in text:
            counts.update(m.group(1) for m in _REDACTED_RE.finditer(text))
    return counts


def count_masked(metadata: dict, fields: Sequence[Any], masked: Sequence[str]) -> None:
    """Add to ``metadata[KINDS_KEY]`` what masking wrote into ``fields`` (kinds and counts only).

    Replacements already present in the input (a token sent back in a chat
    history) are not counted again. Never raises: the count is for the log.
    """
    try:
        changed = [(f.text, m) for f, m in zip(fields, masked, strict=True) if m != f.text]  # unchanged: nothing added
        added = replacement_kinds([m for _, m in changed]) - replacement_kinds([t for t, _ in changed])
        if added:
            total = collections.Counter(metadata.get(KINDS_KEY) or {})
            total.update(added)
            metadata[KINDS_KEY] = dict(sorted(total.items()))
    except Exception:  # noqa: BLE001
        pass


def is_masker_flow(flow: http.HTTPFlow) -> bool:
    """An LLM flow, or one Masker answered itself; not a local endpoint."""
    md = flow.metadata
    return not md.get(_LOCAL) and bool(md.get(_LLM) or md.get(_REFUSED))


def outcome(flow: http.HTTPFlow) -> tuple[str, str]:
    """(code, who answered): ``forwarded``/``upstream``, or Masker's own code/``masker``."""
    md, resp = flow.metadata, flow.response
    if md.get(_REFUSED):
        return str(md[_REFUSED]), "masker"
    if resp is not None and resp.headers.get("x-masker-error"):
        return resp.headers["x-masker-error"], "masker"
    if md.get(_ANSWERED):
        return str(md[_ANSWERED]), "masker"
    if flow.error is not None:
        if md.get(_UPSTREAM_ERROR):
            return str(md[_UPSTREAM_ERROR]), "masker"
        msg = (flow.error.msg or "").lower()
        if resp is not None or "killed" in msg:
            return "stream_killed", "masker"
        if "client" in msg:
            return "client_disconnected", "client"
        return "error", "masker"
    return "forwarded", "upstream"


def added_ms(flow: http.HTTPFlow, now: float | None = None) -> float | None:
    """Milliseconds spent in Masker's request hooks plus its response hooks (see the module doc)."""
    req, resp = flow.request, flow.response
    masked_at = flow.metadata.get(MASKED_AT_KEY)
    total = 0.0
    if masked_at is not None and req.timestamp_end is not None:
        total += max(0.0, masked_at - req.timestamp_end)
    if resp is not None and resp.timestamp_end is not None and now is not None and flow.error is None:
        total += max(0.0, now - resp.timestamp_end)
    return round(total * 1000, 1)


def summary(flow: http.HTTPFlow, now: float | None = None) -> dict[str, Any]:
    """The access line's fields for ``flow`` (no values: see the module doc)."""
    scope = flow.metadata.get(_SCOPE)
    code, by = outcome(flow)
    req = flow.request
    return {
        "agent": scope.agent if isinstance(scope, Scope) else "-",
        "session": scope.session if isinstance(scope, Scope) else "-",
        "method": req.method,
        "host": req.pretty_host,
        "route": url.route_template(req.path),
        "status": flow.response.status_code if flow.response is not None else 0,
        "outcome": code,
        "by": by,
        "masked": dict(flow.metadata.get(KINDS_KEY) or {}),
        "added_ms": added_ms(flow, now),
    }


class AccessLog:
    """Writes the access line; registered after every other Masker addon."""

    def request(self, flow: http.HTTPFlow) -> None:
        flow.metadata[MASKED_AT_KEY] = time.time()

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and flow.metadata.get(_REFUSED):
            self._log(flow)  # a CONNECT Masker refused (a bad agent id): no request follows

    def response(self, flow: http.HTTPFlow) -> None:
        self._log(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._log(flow)

    def _log(self, flow: http.HTTPFlow) -> None:
        try:
            if SUMMARY_KEY in flow.metadata or not is_masker_flow(flow):
                return
            fields = flow.metadata[SUMMARY_KEY] = summary(flow, time.time())
            log.info("access %s", logs.render(fields), extra={"fields": fields, "short": "access"})
        except Exception as e:  # noqa: BLE001 - a log line never breaks a flow
            log.error("masker access log failed: %s", type(e).__name__)
