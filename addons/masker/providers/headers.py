"""Request headers an LLM provider receives: an allow-list, each value checked.

Only the headers below leave, and each only with a value of the shape the
provider defines (a credential, a version date, an id); an allow-listed
header with any other value refuses the request, since it cannot be masked
without breaking the call. Every other header (SDK telemetry such as
``x-stainless-*``, tracing, custom ``X-Patient-*`` headers) is dropped: the
provider does not need it and nothing in it was scanned. ``User-Agent`` is
replaced by Masker's own.

Hop-by-hop and framing headers (``content-length``, ``transfer-encoding``,
``connection``) are the proxy's business and are kept as the proxy sets them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from masker.engine import MaskingError

USER_AGENT = "masker-sidecar"


def _shape(regex: str) -> Callable[[str], bool]:
    compiled = re.compile(regex)
    return lambda v: compiled.fullmatch(v) is not None


# An API key or bearer token as the providers issue them: ``sk-...`` keys, JWTs
# (Azure AD), or a long run of letters and digits (Azure keys). Free text, an
# e-mail or a dashed number has none of these shapes.
_KEY = r"(?:sk-[A-Za-z0-9_-]{4,500}|eyJ[A-Za-z0-9_-]{4,4000}\.[A-Za-z0-9_-]{4,4000}\.[A-Za-z0-9_-]{0,1000}|[A-Za-z0-9]{20,500})"
# name -> (value test, why it may leave)
ALLOWED: dict[str, tuple[Callable[[str], bool], str]] = {
    "host": (_shape(r"[A-Za-z0-9.-]{1,253}(?::\d{1,5})?"), "the intercepted host itself"),
    "content-type": (_shape(r"application/json(?:;\s*charset=utf-8)?"), "Masker forwards JSON only"),
    "content-length": (_shape(r"\d{1,12}"), "framing"),
    "transfer-encoding": (_shape(r"chunked"), "framing"),
    "connection": (_shape(r"(?i)keep-alive|close|upgrade"), "hop-by-hop"),
    "accept": (_shape(r"(?:application/json|text/event-stream|\*/\*)(?:\s*,\s*(?:application/json|text/event-stream|\*/\*))*"),
               "what the SDKs accept"),
    "accept-encoding": (_shape(r"identity"), "Masker asks for identity to parse responses"),
    "authorization": (_shape(rf"Bearer {_KEY}"), "the provider's API key (a credential, not PHI)"),
    "x-api-key": (_shape(_KEY), "Anthropic's API key"),
    "api-key": (_shape(_KEY), "Azure OpenAI's API key"),
    "anthropic-version": (_shape(r"20(?:2[3-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"),
                          "an API version: a release date Anthropic names (2023 or later)"),
    "anthropic-beta": (_shape(r"[a-z][a-z0-9-]{0,60}-20\d\d-\d\d-\d\d(?:\s*,\s*[a-z][a-z0-9-]{0,60}-20\d\d-\d\d-\d\d)*"),
                       "beta feature names (name-YYYY-MM-DD) Anthropic defines"),
    "anthropic-dangerous-direct-browser-access": (_shape(r"true"), "a flag"),
    "openai-organization": (_shape(r"org-[A-Za-z0-9]{8,64}"), "an OpenAI organization id"),
    "openai-project": (_shape(r"proj_[A-Za-z0-9]{8,64}"), "an OpenAI project id"),
    "openai-beta": (_shape(r"[a-z_]+=v\d+(?:\s*,\s*[a-z_]+=v\d+)*"), "beta flags OpenAI defines (realtime=v1)"),
    "idempotency-key": (_shape(r"(?:stainless-[a-z]+-retry-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
                        "a random UUID the SDKs send for retries"),
    "upgrade": (_shape(r"(?i)websocket"), "WebSocket handshake (Realtime)"),
    "sec-websocket-key": (_shape(r"[A-Za-z0-9+/]{22}=="), "WebSocket handshake nonce"),
    "sec-websocket-version": (_shape(r"13"), "WebSocket handshake"),
    "sec-websocket-extensions": (_shape(r"permessage-deflate(?:\s*;\s*[a-z_]+(?:=\d{1,2})?)*"),
                                 "WebSocket compression negotiation"),
    "sec-websocket-protocol": (_shape(rf"(?:realtime|openai-beta\.realtime-v1|openai-insecure-api-key\.{_KEY})"
                                      rf"(?:\s*,\s*(?:realtime|openai-beta\.realtime-v1|openai-insecure-api-key\.{_KEY}))*"),
                               "Realtime subprotocols (one carries the API key)"),
}


def forwardable(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """(the headers that may leave, how many were dropped); raises for an
    allow-listed header whose value has another shape."""
    kept: list[tuple[str, str]] = []
    dropped = 0
    for name, value in headers:
        low = name.lower()
        if low == "user-agent":
            continue  # replaced below
        rule = ALLOWED.get(low)
        if rule is None:
            dropped += 1
            continue
        if not rule[0](value.strip()):
            raise MaskingError("header_refused", f"the {low} header has a value Masker cannot vouch for", 400)
        kept.append((name, value))
    kept.append(("user-agent", USER_AGENT))
    return kept, dropped
