"""Who a request belongs to: tokens are minted and rehydrated per scope."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_AGENT = "default"
DEFAULT_SESSION = "default"


@dataclass(frozen=True, slots=True)
class Scope:
    """(agent, session): a vault token only rehydrates inside the scope that minted it."""

    agent: str = DEFAULT_AGENT
    session: str = DEFAULT_SESSION
