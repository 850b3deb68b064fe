"""The engine of one policy generation: each agent masked by its own policy.

``AgentEngines`` implements ``masker.engine.Engine`` over a validated
``PolicyCatalog``: one ``MaskingEngine`` per distinct policy (the global one,
and one for each agent whose policy or kid differs), picked by the request
scope's agent. With a worker pool, ``mask_texts`` goes to the pool with this
generation's catalog, so the workers mask by exactly the same policies;
rehydration and journaling stay in this process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from masker.audit.events import Event
from masker.engine import SpanNote, TextField
from masker.masking import MaskingEngine
from masker.policy.catalog import CatalogPolicies, PolicyCatalog
from masker.policy.model import Policy
from masker.scope import Scope

if TYPE_CHECKING:
    from masker.engine_pool import PooledEngine


class AgentEngines:
    def __init__(
        self,
        catalog: PolicyCatalog,
        policies: CatalogPolicies,
        default: MaskingEngine,
        by_agent: dict[str, MaskingEngine],
        pool: PooledEngine | None = None,
    ) -> None:
        self.catalog = catalog
        self.policies = policies
        self.policy = default.policy
        self._default = default
        self._by_agent = by_agent
        self._pool = pool

    @property
    def generation(self) -> int:
        return self.catalog.generation

    def engines(self) -> list[MaskingEngine]:
        """Every distinct engine of this generation (the global one first)."""
        return [self._default, *{id(e): e for e in self._by_agent.values()}.values()]

    def engine_for(self, agent: str) -> MaskingEngine:
        return self._by_agent.get(agent, self._default)

    def policy_for(self, agent: str) -> Policy:
        return self.engine_for(agent).policy

    def upstream_for(self, agent: str) -> str | None:
        return self.policies.upstreams.get(agent)

    def with_pool(self, pool: PooledEngine) -> AgentEngines:
        return AgentEngines(self.catalog, self.policies, self._default, self._by_agent, pool)

    def mask_texts(self, fields: Sequence[TextField], scope: Scope, notes: list[SpanNote] | None = None) -> list[str]:
        if self._pool is not None:
            return self._pool.mask_texts(fields, scope, self.catalog, notes)
        return self.engine_for(scope.agent).mask_texts(fields, scope, notes)

    def rehydrate(self, text: str, scope: Scope, events: list[Event] | None = None, *, json_escape: bool = False) -> str:
        return self.engine_for(scope.agent).rehydrate(text, scope, events, json_escape=json_escape)

    def record(self, events: Sequence[Event]) -> None:
        self._default.record(events)
