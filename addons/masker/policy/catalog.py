"""The policies one generation of the running engine masks by: the global
policy file and every agent's own policy.

A ``PolicyCatalog`` is read once (the file's text, the agents' rows) and is
picklable: the proxy process validates it, then hands the same catalog to
every worker process, which never re-reads the file. So all processes of
one generation mask by byte-identical policies, and a file edited while the
workers take the new generation cannot split them.

A reload builds the next generation beside the current one and swaps it in
one assignment: a request that already holds the current engine finishes on
it; the next request gets the new one. An invalid catalog is refused with its
issues and the current generation stays (``ReloadOutcome``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from masker.agents import Agent, AgentError, agent_policy
from masker.policy.load import ROOT, PolicyError, PolicyIssue, parse_policy
from masker.policy.model import Policy


@dataclass(frozen=True, slots=True)
class PolicyCatalog:
    generation: int
    source: str  # the policy file it was read from (for messages)
    policy_yaml: str
    agents: tuple[Agent, ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogPolicies:
    """The validated policies of a catalog: the global one, and each agent's
    effective policy where it differs (its own YAML or its own kid)."""

    default: Policy
    by_agent: dict[str, Policy]
    upstreams: dict[str, str]


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did (for the admin API, the log and the journal; no values)."""

    ok: bool
    generation: int
    old_hash: str | None = None
    new_hash: str | None = None
    agents: int = 0
    issues: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "generation": self.generation, "old_hash": self.old_hash,
            "new_hash": self.new_hash, "agents": self.agents, "issues": self.issues, "message": self.message,
        }


def read_catalog(path: Path, agents: list[Agent], generation: int) -> PolicyCatalog:
    """Read ``path`` once; raises ``PolicyError`` (``yaml_error``, "cannot read file") when it cannot."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            issue = PolicyIssue("file_not_found", ROOT, 1, f"policy file not found: {path}")
        else:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            issue = PolicyIssue("yaml_error", ROOT, 1, f"cannot read file: {reason}")
        raise PolicyError(str(path), [issue]) from None
    return PolicyCatalog(generation, str(path), text, tuple(agents))


def resolve(catalog: PolicyCatalog, env: Mapping[str, str] | None) -> CatalogPolicies:
    """Validate every policy of ``catalog``; raises ``PolicyError`` naming the first
    invalid source (the file, or ``agent <name>``) with its issues."""
    default, issues = parse_policy(catalog.policy_yaml, env)
    if default is None or issues:
        raise PolicyError(catalog.source, issues)
    by_agent: dict[str, Policy] = {}
    upstreams: dict[str, str] = {}
    for agent in catalog.agents:
        try:
            policy = agent_policy(agent, default, env)
        except AgentError as e:
            raise PolicyError(f"agent {agent.name}", e.issues or [PolicyIssue(e.code, ROOT, 1, str(e))]) from None
        if policy is not None and policy.hash != default.hash:
            by_agent[agent.name] = policy
        if agent.upstream:
            upstreams[agent.name] = agent.upstream
    return CatalogPolicies(default, by_agent, upstreams)


def issue_json(issue: PolicyIssue, source: str | None = None) -> dict[str, Any]:
    """One policy issue as the admin API and ``masker policy validate --json`` give it."""
    doc: dict[str, Any] = {"code": issue.code, "path": issue.path, "line": issue.line, "message": issue.message}
    return {"source": source, **doc} if source is not None else doc


def issues_json(error: PolicyError) -> list[dict[str, Any]]:
    return [issue_json(i, error.source) for i in error.issues]
