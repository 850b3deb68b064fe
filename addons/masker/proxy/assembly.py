"""The sidecar's addon chain, in hook order (shared by ``masker run`` and ``mitmdump -s``)."""

from __future__ import annotations

from masker.admin.live import LiveBuffer
from masker.engine import Engine
from masker.proxy.access_log import AccessLog
from masker.proxy.admin_listener import AdminListener
from masker.proxy.agent_sync import AgentSync
from masker.proxy.agent_upstream import AgentUpstream
from masker.proxy.content_view import SpansView
from masker.proxy.engine_holder import EngineFactory, EngineHolder
from masker.proxy.flow_marks import FlowMarks
from masker.proxy.identity import Identity
from masker.proxy.live_capture import LiveCapture
from masker.proxy.local_endpoints import LocalEndpoints
from masker.proxy.masking import ForwardGuard, Masking
from masker.proxy.metrics import FlowMetrics
from masker.proxy.options import MaskerOptions
from masker.proxy.policy_reload import PolicyReloader
from masker.proxy.recorder import AuditRecorder
from masker.proxy.rehydration import Rehydration
from masker.proxy.upstream import UpstreamGuard
from masker.proxy.websocket import RealtimeSocket


def sidecar_addons(engine: Engine | None = None, *, engine_factory: EngineFactory | None = None) -> list[object]:
    """Addons for one sidecar. ``engine`` fixes the engine (unit tests); else
    ``engine_factory`` (default ``masker.runtime.open_runtime``; test entry
    scripts pass a fake) builds it from the options. Never an option: see
    ``masker.proxy.engine_holder``."""
    holder = EngineHolder(engine, factory=engine_factory)
    live = LiveCapture(LiveBuffer())

    def current() -> Engine | None:
        return holder.engine

    def recorder() -> AuditRecorder | None:
        return holder.recorder

    return [
        MaskerOptions(),
        holder,
        PolicyReloader(holder),  # SIGHUP and the file watch
        AgentSync(holder),  # PostgreSQL: agent changes of other replicas reload here; vault pings for /readyz
        AdminListener(holder, live.buffer),  # admin API, live view, /metrics (after the holder: the engine is built)
        LocalEndpoints(ready=holder.unready, verify=holder.verify),
        Identity(),
        AgentUpstream(current),  # an agent with an upstream reaches only that one
        Masking(current, recorder, holder.unready),
        ForwardGuard(),
        UpstreamGuard(),
        Rehydration(current, recorder, tap=live.upstream),
        live,  # the live view: masked requests, upstream responses, outcomes (after Rehydration)
        RealtimeSocket(current, recorder),
        AccessLog(),  # after every other addon: sees each flow's final outcome
        FlowMetrics(),  # after AccessLog: counts each flow from its access summary
        FlowMarks(),  # mitmweb: comments, marks, a bounded copy of streamed bodies
        SpansView(),  # mitmweb: the "masker spans" content view
    ]
