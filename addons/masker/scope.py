"""Who a request belongs to: tokens are minted and rehydrated per scope.

Two things depend on the scope:

* **Rehydration** is always per (agent, session): a vault row is written
  under the scope of the request that minted it and only that scope reads
  it back, whatever the policy.
* **Linkability** (which calls get the same token for the same value) is the
  policy's ``token_scope``: the scope ``binding`` goes into every MSKV1 HMAC
  and every synthetic seed, so

  - ``session`` (default): one value gets one token within a session, and
    unrelated tokens in other sessions and other agents;
  - ``agent``: one token per value across all sessions of one agent (the
    provider can link those sessions), still different per agent.

  MSK1 (``reversible-aead``) tokens are not scope-bound by design and are
  the same in every scope; ``token_scope`` does not apply to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_AGENT = "default"
DEFAULT_SESSION = "default"

SESSION = "session"
AGENT = "agent"
TOKEN_SCOPES = (SESSION, AGENT)
DEFAULT_TOKEN_SCOPE = SESSION


@dataclass(frozen=True, slots=True)
class Scope:
    """(agent, session): a vault token only rehydrates inside the scope that minted it."""

    agent: str = DEFAULT_AGENT
    session: str = DEFAULT_SESSION

    def binding(self, token_scope: str = DEFAULT_TOKEN_SCOPE) -> str:
        """What derived tokens are bound to under ``token_scope``.

        Canonical JSON, so distinct scopes always give distinct bindings (no
        separator inside an id can make two scopes collide), and it never holds a
        raw control character (JSON escapes them), so callers may join it with
        ``0x1f``.
        """
        if token_scope == SESSION:
            parts = [SESSION, self.agent, self.session]
        elif token_scope == AGENT:
            parts = [AGENT, self.agent]
        else:
            raise ValueError(f"unknown token_scope {token_scope!r}; expected one of {TOKEN_SCOPES}")
        return json.dumps(parts, separators=(",", ":"))
