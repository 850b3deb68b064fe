"""Feeds the live firewall view (``masker.admin.live``) from LLM flows: public side only.

Registered after ``Rehydration``. Per flow:

* ``request``: a request Masker masked opens a turn with the masked body
  (what went upstream) and the span notes (``masking.SPANS_KEY``: kinds,
  tokens, never a value); a request Masker refused becomes a blocked turn
  with its code and nothing of its body (which may hold PHI);
* ``upstream`` (the ``Rehydration`` tap): the response body as the
  upstream sent it, before rehydration, bounded (``live.ResponseCopy``);
* ``response`` / ``error``: the turn is finished with the status, outcome
  and the rehydration outcomes by kind (``rehydration.REHYDRATED_KEY``).

The view never makes a flow fail: every hook catches everything and logs
the exception type only.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from masker.admin.live import LiveBuffer, ResponseCopy
from masker.audit.events import REHYDRATION, REHYDRATION_FAILED
from masker.providers import url
from masker.proxy import access_log
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import MASKED_KEY, SPANS_KEY, api_path
from masker.proxy.rehydration import REHYDRATED_KEY
from masker.scope import Scope

log = logging.getLogger("masker.proxy")


class LiveCapture:
    def __init__(self, buffer: LiveBuffer) -> None:
        self.buffer = buffer
        self._turns: dict[str, int] = {}  # flow id -> open turn id
        self._copies: dict[str, ResponseCopy] = {}  # flow id -> the upstream response so far

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            scope = flow.metadata.get(SCOPE_KEY)
            if not self.buffer.recording:
                return  # the admin listener is off: nobody can see the view
            if not isinstance(scope, Scope) or not access_log.is_masker_flow(flow):
                return  # not an LLM flow, or its agent/session id was refused (and may hold PHI)
            route = url.route_template(api_path(flow))
            if flow.metadata.get(MASKED_KEY) and flow.response is None:
                self._turns[flow.id] = self.buffer.open_turn(
                    scope, flow.request.method, route, api_path(flow), flow.request.content,
                    flow.metadata.get(SPANS_KEY) or [])
            elif flow.response is not None:
                code, _ = access_log.outcome(flow)
                self.buffer.blocked(scope, flow.request.method, route, code, flow.response.status_code)
        except Exception as e:  # noqa: BLE001 - the view never breaks a flow
            log.error("masker live view could not record a request: %s", type(e).__name__)

    def upstream(self, flow: http.HTTPFlow, piece: bytes) -> None:
        """The ``Rehydration`` tap; may run in a thread (one at a time per flow)."""
        try:
            if flow.id not in self._turns:
                return
            copy = self._copies.get(flow.id)
            if copy is None:
                mime = flow.response.headers.get("content-type", "") if flow.response is not None else ""
                copy = self._copies[flow.id] = ResponseCopy(mime.split(";", 1)[0].strip().lower())
            copy.add(piece)
        except Exception as e:  # noqa: BLE001 - never kills the stream it taps
            log.error("masker live view could not copy a response: %s", type(e).__name__)

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        turn_id = self._turns.pop(flow.id, None)
        copy = self._copies.pop(flow.id, None)
        if turn_id is None:
            return
        try:
            code, _ = access_log.outcome(flow)
            counts = flow.metadata.get(REHYDRATED_KEY) or {}
            self.buffer.finish(
                turn_id, status=flow.response.status_code if flow.response is not None else 0, outcome=code,
                response=copy, rehydrated=counts.get(REHYDRATION, {}), failed=counts.get(REHYDRATION_FAILED, {}))
        except Exception as e:  # noqa: BLE001
            log.error("masker live view could not record a response: %s", type(e).__name__)
