"""Agents in PostgreSQL (table ``masker_agents``), shared by every replica.

Each change sends ``NOTIFY masker_agents`` in its own transaction
(``masker.db.notify``): the other replicas' listeners reload their
policies once it has committed.
"""

from __future__ import annotations

import psycopg

from masker.agents import FIELDS, Agent, AgentStore
from masker.db.notify import notify
from masker.db.pg import Database

_COLUMNS = ", ".join((*FIELDS, "updated_at"))


class PgAgentStore(AgentStore):
    def __init__(self, url: str) -> None:
        self.db = Database(url, max_size=2, name="masker-agents")
        self.where = self.db.where

    def list(self) -> list[Agent]:
        rows = self.db.run(lambda conn: conn.execute(
            f"SELECT {_COLUMNS} FROM masker_agents ORDER BY name").fetchall())
        return [Agent(*row) for row in rows]

    def get(self, name: str) -> Agent | None:
        row = self.db.run(lambda conn: conn.execute(
            f"SELECT {_COLUMNS} FROM masker_agents WHERE name = %s", (name,)).fetchone())
        return Agent(*row) if row else None

    def _change(self, query: str, params: tuple[object, ...]) -> bool:
        def work(conn: psycopg.Connection) -> bool:
            with conn.transaction():
                changed = conn.execute(query, params).rowcount > 0
                if changed:
                    notify(conn)
            return changed

        return self.db.run(work)

    def _insert(self, agent: Agent) -> bool:
        return self._change("INSERT INTO masker_agents VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                            (agent.name, agent.upstream, agent.policy_yaml, agent.kid, agent.updated_at))

    def _update(self, agent: Agent) -> bool:
        return self._change(
            "UPDATE masker_agents SET upstream = %s, policy_yaml = %s, kid = %s, updated_at = %s WHERE name = %s",
            (agent.upstream, agent.policy_yaml, agent.kid, agent.updated_at, agent.name))

    def delete(self, name: str) -> bool:
        return self._change("DELETE FROM masker_agents WHERE name = %s", (name,))

    def close(self) -> None:
        self.db.close()
