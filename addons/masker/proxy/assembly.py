"""The sidecar's addon chain, in hook order (shared by ``masker run`` and ``mitmdump -s``)."""

from __future__ import annotations

from masker.engine import Engine
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.identity import Identity
from masker.proxy.local_endpoints import LocalEndpoints
from masker.proxy.masking import ForwardGuard, Masking
from masker.proxy.options import MaskerOptions
from masker.proxy.rehydration import Rehydration
from masker.proxy.websocket import RealtimeSocket


def sidecar_addons(engine: Engine | None = None) -> list[object]:
    """Addons for one sidecar. ``engine`` fixes the engine (tests); else it is built from options."""
    holder = EngineHolder(engine)

    def current() -> Engine | None:
        return holder.engine

    def problem() -> str | None:
        return None if holder.engine is not None else holder.problem

    return [
        MaskerOptions(),
        holder,
        LocalEndpoints(ready=problem, verify=holder.verify),
        Identity(),
        Masking(current, problem),
        ForwardGuard(),
        Rehydration(current),
        RealtimeSocket(current),
    ]
