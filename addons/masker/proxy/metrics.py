"""Counts each finished LLM flow in ``masker.metrics``, from the access line's summary.

Registered right after ``AccessLog``, which stores the flow's summary
(``access_log.SUMMARY_KEY``: agent, outcome, who answered, added ms) when it
logs the flow: a flow is counted exactly when it gets an access line, from
the same fields, and nothing is computed twice. The spans replaced in its
request (``masking.SPANS_KEY``) are counted here too, once per flow,
so detections made in a worker process need no trip back.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from masker import metrics
from masker.providers.router import provider_for
from masker.proxy.access_log import SUMMARY_KEY
from masker.proxy.masking import SPANS_KEY

log = logging.getLogger("masker.proxy")

COUNTED_KEY = "masker_metrics_counted"


class FlowMetrics:
    """Requests by provider, agent and outcome, added latency and detections, per finished flow."""

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._count(flow)  # a CONNECT Masker refused has its access line (and summary) already

    def response(self, flow: http.HTTPFlow) -> None:
        self._count(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._count(flow)

    def _count(self, flow: http.HTTPFlow) -> None:
        try:
            fields = flow.metadata.get(SUMMARY_KEY)
            if fields is None or flow.metadata.get(COUNTED_KEY):
                return
            flow.metadata[COUNTED_KEY] = True
            added_ms = fields["added_ms"]
            metrics.request_done(
                provider_for(flow.request.path), fields["agent"], fields["outcome"], fields["by"],
                added_ms / 1000 if added_ms is not None else None,
            )
            metrics.count_detections(flow.metadata.get(SPANS_KEY) or ())
        except Exception as e:  # noqa: BLE001 - a metric never breaks a flow
            log.error("masker could not count a flow: %s", type(e).__name__)
