"""``/healthz``, ``/readyz`` and ``POST /audit/verify``, answered by the proxy itself.

Regular mode: requests to ``masker.local`` or to the proxy's own address.
Reverse mode: those paths on the listen port. Never forwarded.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from mitmproxy import ctx, http

from masker.proxy import errors, routing
from masker.proxy.options import default_admin_token

log = logging.getLogger("masker.proxy")

LOCAL_PATHS = ("/healthz", "/readyz", "/audit/verify")
ADMIN_HEADER = "x-masker-admin-token"


def _json(status: int, doc: dict[str, Any]) -> http.Response:
    return http.Response.make(status, json.dumps(doc).encode(), {"content-type": "application/json", "cache-control": "no-store"})


class LocalEndpoints:
    """``ready()`` -> None when ready, else the reason; ``verify()`` -> {ok, event_count, message}."""

    def __init__(self, ready: Callable[[], str | None], verify: Callable[[], dict[str, Any]] | None) -> None:
        self._ready = ready
        self._verify = verify
        self._admin_token = default_admin_token()  # masker_admin_token, updated in configure

    def configure(self, updated: set[str]) -> None:
        if "masker_admin_token" in updated:
            self._admin_token = ctx.options.masker_admin_token

    async def request(self, flow: http.HTTPFlow) -> None:
        try:
            path = flow.request.path.split("?", 1)[0]
            local = routing.is_to_proxy_itself(flow)
            if not local and not (routing.is_reverse(flow) and path in LOCAL_PATHS):
                return
            flow.metadata["masker_local"] = True
            flow.response = await self._answer(flow, path)
        except Exception as e:  # noqa: BLE001 - never forward a local request
            errors.fail_closed(flow, "local_endpoint", e)

    async def _answer(self, flow: http.HTTPFlow, path: str) -> http.Response:
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        if path == "/readyz":
            problem = self._ready()
            return _json(200, {"status": "ready"}) if problem is None else _json(503, {"status": "not_ready", "reason": problem})
        if path == "/audit/verify":
            return await self._audit_verify(flow)
        return errors.error_response(404, "not_found", "unknown Masker endpoint")

    async def _audit_verify(self, flow: http.HTTPFlow) -> http.Response:
        if flow.request.method != "POST":
            return errors.error_response(405, "method_not_allowed", "use POST")
        expected = self._admin_token
        given = flow.request.headers.get(ADMIN_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return errors.error_response(403, "forbidden", "admin token missing or wrong (or masker_admin_token unset)")
        if self._verify is None:
            return errors.error_response(501, "not_available", "journal verification is not wired")
        try:
            result = await asyncio.to_thread(self._verify)
        except Exception as e:  # noqa: BLE001
            log.error("masker audit verify failed: %s", type(e).__name__)
            return errors.error_response(500, "verify_failed", f"verification could not run ({type(e).__name__})")
        return _json(200 if result.get("ok") else 409, result)
