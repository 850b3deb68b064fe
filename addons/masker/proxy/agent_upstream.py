"""An agent with an ``upstream`` (``masker.agents``) reaches that upstream and no other.

* reverse mode: the agent's requests are sent to its upstream instead of
  the listener's target (``/proxy/{agent}/v1/...`` -> the agent's base URL);
* regular mode: a request for the agent to another host or port is
  refused (403 ``upstream_mismatch``): the client picks the host, Masker
  only checks it.

The upstream host must be one Masker intercepts (``masker_llm_hosts`` or a
reverse target): an agent record can narrow where traffic goes, never open
a new egress. Otherwise the request is refused (403 ``upstream_not_allowed``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from mitmproxy import ctx, http

from masker.engine import Engine
from masker.proxy import errors, routing
from masker.proxy.identity import SCOPE_KEY


class AgentUpstream:
    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self._engine = engine
        # parsed by ``configure``: what this proxy intercepts
        self._llm_hosts: tuple[str, ...] = routing.DEFAULT_LLM_HOSTS
        self._reverse_targets: set[tuple[str, int]] = set()

    def configure(self, updated: set[str]) -> None:
        if "masker_llm_hosts" in updated:
            self._llm_hosts = tuple(ctx.options.masker_llm_hosts)
        if "mode" in updated:
            self._reverse_targets = set(routing.reverse_targets(ctx.options.mode))

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.metadata.get("masker_local"):
            return
        try:
            scope, engine = flow.metadata.get(SCOPE_KEY), self._engine()
            if scope is None or engine is None:
                return  # Masking refuses it (no engine) or Identity already did (no scope)
            upstream = engine.upstream_for(scope.agent)
            if upstream is None:
                return
            parts = urlsplit(upstream)
            host, scheme = parts.hostname or "", parts.scheme
            port = parts.port or (443 if scheme == "https" else 80)
            allowed = routing.is_llm_host(host, self._llm_hosts) or (host, port) in self._reverse_targets
            if not allowed:
                errors.refuse(flow, 403, "upstream_not_allowed",
                              "the agent's upstream is not an LLM host this proxy intercepts; nothing was forwarded")
            elif routing.is_reverse(flow):
                flow.request.scheme, flow.request.host, flow.request.port = scheme, host, port
            elif (flow.request.host.lower(), flow.request.port) != (host.lower(), port):
                errors.refuse(flow, 403, "upstream_mismatch",
                              "this agent may only reach its configured upstream; nothing was forwarded")
        except Exception as e:  # noqa: BLE001 - fail closed
            errors.fail_closed(flow, "agent_upstream", e)
