"""Policy reload and agents: ``/api/v1/admin/policy*`` and ``/api/v1/agents*``.

Every change goes through a policy reload, so what the API answers is what
the proxy now masks by: an agent is written, the catalog reloaded, and if
the reload is refused (its policy, or the policy file as it now is, does not
validate) the write is undone and the issues come back with 400/422.
Blocking work (SQLite, validation, the journal append) runs in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from masker.admin.auth import AdminHandler
from masker.agents import Agent, AgentError, parse_agent
from masker.policy.catalog import ReloadOutcome, issue_json


def _issues(e: AgentError) -> list[dict[str, Any]]:
    return [issue_json(i) for i in e.issues]


class PolicyHandler(AdminHandler):
    """``GET /api/v1/admin/policy``: the running generation (policy, hashes, agents with their own policy)."""

    def get(self) -> None:
        state = self.backend.policy_state()
        if state is None:
            self.send_error_json(503, "engine_unavailable", "no engine is running")
            return
        self.send_json(200, state)


class PolicyReloadHandler(AdminHandler):
    """``POST /api/v1/admin/policy/reload``: 200 with the outcome, 422 with the issues when refused."""

    async def post(self) -> None:
        outcome: ReloadOutcome = await asyncio.to_thread(self.backend.reload_policy, "admin api")
        if outcome.ok:
            self.send_json(200, outcome.to_json())
        elif outcome.issues:
            self.send_json(422, {"error": {"code": "invalid_policy", "message": outcome.message}, **outcome.to_json()})
        else:
            self.send_json(503, {"error": {"code": "reload_failed", "message": outcome.message}, **outcome.to_json()})


class AgentsHandler(AdminHandler):
    """``GET /api/v1/agents`` (list) and ``POST /api/v1/agents`` (create)."""

    async def get(self) -> None:
        store = self.backend.agents()
        agents = await asyncio.to_thread(store.list)
        self.send_json(200, {"agents": [a.to_json() for a in agents]})

    async def post(self) -> None:
        doc = self.json_body()
        try:
            agent = parse_agent(doc, self.backend.key_env())
        except AgentError as e:
            self._refuse(e)
            return
        await self._write(agent, create=True)

    async def _write(self, agent: Agent, *, create: bool) -> None:
        try:
            stored, outcome = await asyncio.to_thread(self.backend.write_agent, agent, create)
        except AgentError as e:
            self._refuse(e)
            return
        except KeyError:
            self.send_error_json(404, "agent_not_found", f"no agent {agent.name}")
            return
        if not outcome.ok:
            self.send_json(422 if outcome.issues else 503, {
                "error": {"code": "invalid_policy" if outcome.issues else "reload_failed",
                          "message": "the change was not applied: " + outcome.message},
                **outcome.to_json(),
            })
            return
        self.send_json(201 if create else 200, {"agent": stored.to_json(), "reload": outcome.to_json()})

    def _refuse(self, e: AgentError) -> None:
        self.send_error_json(e.status, e.code, str(e), issues=_issues(e))


class AgentHandler(AgentsHandler):
    """``GET``, ``PUT`` (replace) and ``DELETE`` ``/api/v1/agents/{name}``."""

    async def get(self, name: str) -> None:  # type: ignore[override]
        agent = await asyncio.to_thread(self.backend.agents().get, name)
        if agent is None:
            self.send_error_json(404, "agent_not_found", "no such agent")
            return
        self.send_json(200, {"agent": agent.to_json()})

    async def put(self, name: str) -> None:
        doc = self.json_body()
        try:
            agent = parse_agent(doc, self.backend.key_env(), name=name)
        except AgentError as e:
            self._refuse(e)
            return
        await self._write(agent, create=False)

    async def delete(self, name: str) -> None:
        deleted, outcome = await asyncio.to_thread(self.backend.delete_agent, name)
        if not deleted:
            self.send_error_json(404, "agent_not_found", "no such agent")
            return
        self.send_json(200, {"deleted": name, "reload": outcome.to_json()})


def routes(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    args = {"backend": backend}
    return [
        (r"/api/v1/admin/policy", PolicyHandler, args),
        (r"/api/v1/admin/policy/reload", PolicyReloadHandler, args),
        (r"/api/v1/agents", AgentsHandler, args),
        (r"/api/v1/agents/([^/]+)", AgentHandler, args),
    ]
