"""What the admin listener needs from the running sidecar, as one small interface.

The admin handlers know nothing of mitmproxy: ``masker.proxy.admin_listener``
implements this protocol over the engine holder, the live view buffer and
the metrics registry.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from masker.admin.journal_view import JournalView
from masker.admin.live import LiveBuffer
from masker.agents import Agent, AgentStore
from masker.policy.catalog import ReloadOutcome


class AdminBackend(Protocol):
    admin_token: str  # MASKER_ADMIN_TOKEN: the bearer credential
    cookie_value: str  # random per process: what the page's signed session cookie holds

    def data_dir(self) -> Path:
        """The data directory (journal, checkpoints, reports)."""

    def reload_policy(self, reason: str) -> ReloadOutcome:
        """Reload the policy file and the agents' policies atomically (see ``EngineHolder.reload``)."""

    def policy_state(self) -> dict[str, Any] | None:
        """The running generation: global policy name and hash, each agent's own policy hash (None: no engine)."""

    def agents(self) -> AgentStore:
        """The agent store of the running engine (raises ``LookupError`` while there is none)."""

    def key_env(self) -> Mapping[str, str]:
        """Where agent kids are looked up (``MASKER_KEY_<kid>``, dev keys included)."""

    def write_agent(self, agent: Agent, create: bool) -> tuple[Agent, ReloadOutcome]:
        """Store ``agent`` and reload; undone when the reload is refused. Raises ``AgentError``
        (``agent_exists``) or ``KeyError`` (no such agent to update)."""

    def delete_agent(self, name: str) -> tuple[bool, ReloadOutcome]:
        """Delete and reload (undone when the reload is refused); False when there was no such agent."""

    def verify(self) -> dict[str, Any]:
        """Verify the journal: ``{ok, event_count, message}``."""

    def engine(self) -> Any:
        """The current engine (``masker.engine.Engine``) or None: rehydration for the live view."""

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus exposition and its content type."""

    def live(self) -> LiveBuffer:
        """The live view's buffer of recent turns (public side only)."""

    def journal(self) -> JournalView:
        """Sessions and events read from the verified journal (raises ``LookupError`` while there is no runtime)."""

    def session_report(self, session: str) -> dict[str, Any]:
        """Build the signed report of ``session`` (JSON + PDF under ``<data dir>/reports``): ``{report,
        signature, public_key_pem, files}``. Raises ``LookupError`` (no runtime) or ``ReportError``. Blocking."""


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)
