"""JSON error answers the client (and its SDK) can show.

Every Masker refusal has the shape ``{"error": {"type", "code", "message"}}``
so the OpenAI and Anthropic SDKs surface ``code`` and ``message`` verbatim.
Messages never carry request content (no PHI): codes, kinds and sizes only.
"""

from __future__ import annotations

import json
import logging

from mitmproxy import http

log = logging.getLogger("masker.proxy")

MASKER_ERROR = "masker_error"


def error_response(status: int, code: str, message: str, *, type_: str = MASKER_ERROR) -> http.Response:
    body = json.dumps({"error": {"type": type_, "code": code, "message": message}}).encode()
    return http.Response.make(
        status,
        body,
        {"content-type": "application/json", "x-masker-error": code, "cache-control": "no-store"},
    )


def refuse(flow: http.HTTPFlow, status: int, code: str, message: str, *, type_: str = MASKER_ERROR) -> None:
    """Answer the client with a JSON error; nothing is forwarded upstream."""
    flow.response = error_response(status, code, message, type_=type_)
    flow.metadata["masker_refused"] = code
    log.warning("masker refused %s %s: %s (%d)", flow.request.method, flow.request.host, code, status)


def fail_closed(flow: http.HTTPFlow, where: str, exc: BaseException) -> None:
    """Last-resort handler for an unexpected exception in a hook.

    Only the exception type is logged: messages of third-party exceptions may
    quote request content.
    """
    log.error("masker %s failed: %s", where, type(exc).__name__)
    refuse(flow, 502, f"{where}_failed", f"Masker could not process the request ({type(exc).__name__}); nothing was forwarded.")
