"""Agents: a name the proxy knows a caller by, optionally with its own policy,
upstream and key id. Stored in the vault database, so every process that
opens the data dir (the workers, the CLI) sees the same agents.

* ``policy_yaml``: the agent's mask policy (validated exactly like a policy
  file, same issue codes); without it the agent is masked by the global
  policy.
* ``kid``: the key id its tokens are minted under, replacing the policy's
  ``kid`` (``MASKER_KEY_<kid>`` must be set, as for any policy).
* ``upstream``: the only base URL its requests may reach
  (``https://host[:port]``; the host must be one of the LLM hosts Masker
  intercepts). In reverse mode the agent's requests go there; in regular
  mode a request for that agent to another host is refused.

Nothing in an agent is PHI: names pass the id rule (``masker.ids``).
A change is seen by a running sidecar at its next policy reload; the admin
API reloads after every change it makes. In PostgreSQL every change also
notifies the other replicas, which reload (``masker.agents_pg``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from masker.db.migrations import migrate_sqlite
from masker.ids import id_problem
from masker.policy.load import PolicyIssue, parse_policy, policy_hash
from masker.policy.model import Policy
from masker.tokens.scheme import KID_RE

FIELDS = ("name", "upstream", "policy_yaml", "kid")
MAX_POLICY_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    upstream: str | None = None
    policy_yaml: str | None = None
    kid: str | None = None
    updated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AgentError(ValueError):
    """An agent document was refused; ``code`` is the client-facing code, ``issues`` the
    policy issues (``policy_yaml`` is checked like ``masker policy validate``)."""

    def __init__(self, code: str, message: str, issues: list[PolicyIssue] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.issues = issues or []
        self.status = status


def parse_agent(doc: object, env: Mapping[str, str] | None, *, name: str | None = None) -> Agent:
    """An ``Agent`` from a JSON document (``name`` from the URL when given); raises ``AgentError``.

    ``env`` is where the keys are looked up (None: key presence is not checked).
    """
    if not isinstance(doc, dict):
        raise AgentError("invalid_agent", "an agent is a JSON object")
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        raise AgentError("unknown_field", f"unknown agent field(s): {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    if name is not None and doc.get("name", name) != name:
        raise AgentError("name_mismatch", "the body's name differs from the agent in the URL")
    values: dict[str, str | None] = {}
    for field in FIELDS:
        value = name if field == "name" and name is not None else doc.get(field)
        if value is not None and not isinstance(value, str):
            raise AgentError("invalid_agent", f"{field} must be a string")
        values[field] = value or None
    agent = Agent(**values)  # type: ignore[arg-type]
    check_agent(agent, env)
    return agent


def check_agent(agent: Agent, env: Mapping[str, str] | None) -> Policy | None:
    """Raise ``AgentError`` unless ``agent`` is valid; return its own policy (None: the global one)."""
    if not agent.name:
        raise AgentError("invalid_agent", "name is required")
    problem = id_problem(agent.name)
    if problem is not None:
        raise AgentError("invalid_agent_id", f"agent name {problem}")
    if agent.upstream is not None:
        upstream_problem = check_upstream(agent.upstream)
        if upstream_problem:
            raise AgentError("invalid_upstream", upstream_problem)
    return agent_policy(agent, None, env)


def check_upstream(url: str) -> str | None:
    """Why ``url`` is not an upstream base URL (``https://host[:port]``), else None.

    Whether the host is one Masker intercepts is checked by the proxy, which
    knows its LLM hosts.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "upstream must be an absolute URL: https://host[:port]"
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        return "upstream is a base URL only (scheme, host, port): no credentials, path, query or fragment"
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return "upstream must use https (plain http only to a loopback address)"
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        return "upstream has an invalid port"
    return None


def agent_policy(agent: Agent, global_policy: Policy | None, env: Mapping[str, str] | None) -> Policy | None:
    """The policy ``agent`` is masked by: its own YAML, else ``global_policy``, with its
    ``kid`` in place of the policy's. Raises ``AgentError`` (policy issues) when invalid."""
    if agent.kid is not None and (not re.fullmatch(KID_RE, agent.kid) or agent.kid.endswith("_OLD")):
        raise AgentError("invalid_agent", "kid must be 1-32 of A-Z a-z 0-9 _ and not end in _OLD")
    if agent.kid is not None and env is not None and not env.get(f"MASKER_KEY_{agent.kid}"):
        issue = PolicyIssue("unknown_kid", "kid", 1, f"MASKER_KEY_{agent.kid} is not set")
        raise AgentError("invalid_policy", f"kid of agent {agent.name} has no key", [issue])
    policy = global_policy
    if agent.policy_yaml is not None:
        if len(agent.policy_yaml.encode()) > MAX_POLICY_BYTES:
            raise AgentError("policy_too_large", f"policy_yaml is larger than {MAX_POLICY_BYTES} bytes")
        policy, issues = parse_policy(agent.policy_yaml, env)
        if policy is None or issues:
            raise AgentError("invalid_policy", f"policy_yaml of agent {agent.name} is invalid", issues)
    if agent.kid is None or policy is None:
        return policy
    policy = replace(policy, kid=agent.kid)
    return replace(policy, hash=policy_hash(policy))


class AgentExists(AgentError):
    def __init__(self, name: str) -> None:
        super().__init__("agent_exists", f"agent {name} exists already (use PUT to change it)", status=409)


class AgentStore(ABC):
    """Where agents are kept: the vault database (``SqliteAgentStore``, or
    ``masker.agents_pg.PgAgentStore``, shared by replicas). Thread-safe."""

    where: str  # the file or the database (no credentials), for messages

    @abstractmethod
    def list(self) -> list[Agent]: ...

    @abstractmethod
    def get(self, name: str) -> Agent | None: ...

    def create(self, agent: Agent) -> Agent:
        """Store a new agent; raises ``AgentExists`` when the name is taken."""
        stored = replace(agent, updated_at=_now())
        if not self._insert(stored):
            raise AgentExists(agent.name)
        return stored

    def update(self, agent: Agent) -> Agent:
        """Replace an existing agent; raises ``KeyError`` when there is none."""
        stored = replace(agent, updated_at=_now())
        if not self._update(stored):
            raise KeyError(agent.name)
        return stored

    @abstractmethod
    def delete(self, name: str) -> bool: ...

    @abstractmethod
    def _insert(self, agent: Agent) -> bool:
        """Insert ``agent`` unless its name exists (False then)."""

    @abstractmethod
    def _update(self, agent: Agent) -> bool:
        """Replace the stored agent of that name (False: none)."""

    @abstractmethod
    def close(self) -> None: ...


_COLUMNS = ", ".join((*FIELDS, "updated_at"))


class SqliteAgentStore(AgentStore):
    """The ``masker_agents`` table of the SQLite vault file (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        os.chmod(path, 0o600)  # the vault's file
        self._conn.execute("PRAGMA journal_mode=WAL")
        migrate_sqlite(self._conn)

    def list(self) -> list[Agent]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM masker_agents ORDER BY name").fetchall()
        return [Agent(*row) for row in rows]

    def get(self, name: str) -> Agent | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM masker_agents WHERE name = ?", (name,)).fetchone()
        return Agent(*row) if row else None

    def _insert(self, agent: Agent) -> bool:
        with self._lock:
            return self._conn.execute("INSERT INTO masker_agents VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                                      _row(agent)).rowcount > 0

    def _update(self, agent: Agent) -> bool:
        with self._lock:
            return self._conn.execute(
                "UPDATE masker_agents SET upstream = ?, policy_yaml = ?, kid = ?, updated_at = ? WHERE name = ?",
                (agent.upstream, agent.policy_yaml, agent.kid, agent.updated_at, agent.name),
            ).rowcount > 0

    def delete(self, name: str) -> bool:
        with self._lock:
            return self._conn.execute("DELETE FROM masker_agents WHERE name = ?", (name,)).rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _row(agent: Agent) -> tuple[str, str | None, str | None, str | None, str]:
    return (agent.name, agent.upstream, agent.policy_yaml, agent.kid, agent.updated_at)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
