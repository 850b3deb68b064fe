"""Restore tokens in text coming back from the LLM; redact every token we cannot.

Every ``scheme.TOKEN_RE`` match is either restored or replaced by
``[REDACTED:KIND]`` (fail closed: a token is never passed through as is).

* ``MSKV1`` restores only from the vault row of the caller's scope; unknown,
  foreign-scope, dropped, undecryptable and unknown-kid tokens are redacted.
* ``MSK1`` is stateless by design: any MSK1 token that authenticates under
  the kid's key restores, whatever scope minted it.
* With a policy given, only tokens of the policy's kid are restored (a token
  of another tenant's kid is redacted with reason ``foreign_kid``).

Each token yields one ``rehydration`` or ``rehydration_failed`` event
(token and kind, never the value).
"""

from __future__ import annotations

import json
from typing import Any

import regex

from masker.audit.events import REHYDRATION, REHYDRATION_FAILED, Event
from masker.policy.model import Policy
from masker.scope import Scope
from masker.tokens import aead
from masker.tokens.apply import placeholder
from masker.tokens.keys import Keyring, MissingKey
from masker.tokens.scheme import AEAD_SCHEME, TOKEN_RE, format_token
from masker.tokens.vault import UNDECRYPTABLE, UNKNOWN_KID, Lookup, TokenVault

NO_VAULT = "no_vault"
FOREIGN_KID = "foreign_kid"


class Rehydrator:
    def __init__(self, keyring: Keyring, vault: TokenVault | None, policy: Policy | None = None) -> None:
        self.keyring = keyring
        self.vault = vault
        self.policy = policy

    def _open_aead(self, kind: str, kid: str, body: str) -> tuple[Lookup, int]:
        """Open an MSK1 body; returns the lookup and how many body chars it used.

        The grammar's body is greedy, so letters glued to the end of a token
        ("...BODYS", or "...BODY2MSK" before a next token) join the match. On
        failure, shorter prefixes are tried, longest first. A body that no key
        opens is redacted whole.
        """
        for end in range(len(body), aead.MIN_BODY_LEN - 1, -1):
            try:
                return Lookup(aead.open_body(self.keyring, kind, kid, body[:end])), end
            except aead.Undecryptable:
                continue
        return Lookup(None, UNDECRYPTABLE), len(body)

    def _resolve(self, m: regex.Match, scope: Scope) -> tuple[Lookup, int]:
        """The lookup for one match and where in the text the token ends."""
        scheme, kind, kid, body = m["scheme"], m["kind"], m["kid"], m["body"]
        if self.policy is not None and kid != self.policy.kid:
            return Lookup(None, FOREIGN_KID), m.end()
        if not self.keyring.knows(kid):
            return Lookup(None, UNKNOWN_KID), m.end()
        if scheme == AEAD_SCHEME:
            found, used = self._open_aead(kind, kid, body)
            return found, m.start("body") + used
        if self.vault is None:
            return Lookup(None, NO_VAULT), m.end()
        try:
            return self.vault.lookup(scope, m.group()), m.end()
        except MissingKey:
            return Lookup(None, UNKNOWN_KID), m.end()

    def is_genuine(self, m: regex.Match, scope: Scope) -> bool:
        """Whether a ``TOKEN_RE`` match is a whole token that rehydrates in ``scope``."""
        found, end = self._resolve(m, scope)
        return found.value is not None and end == m.end()

    def rehydrate(
        self, text: str, scope: Scope, *, json_escape: bool = False
    ) -> tuple[str, list[Event]]:
        out: list[str] = []
        events: list[Event] = []
        common: dict[str, Any] = dict(
            agent=scope.agent, session=scope.session,
            policy=self.policy.name if self.policy else None,
            policy_hash=self.policy.hash if self.policy else None,
        )
        pos = 0
        while (m := TOKEN_RE.search(text, pos)) is not None:
            found, end = self._resolve(m, scope)
            kind = m["kind"]
            token = format_token(m["scheme"], kind, m["kid"], text[m.start("body") : end])
            out.append(text[pos : m.start()])
            if found.value is not None:
                value = json.dumps(found.value)[1:-1] if json_escape else found.value
                out.append(value)
                events.append(Event(kind=REHYDRATION, entity_kind=kind, token=token,
                                    span=(m.start(), end), detail={"scheme": m["scheme"]}, **common))
            else:
                out.append(placeholder(kind))
                events.append(Event(kind=REHYDRATION_FAILED, entity_kind=kind, token=token,
                                    span=(m.start(), end), reason=found.reason,
                                    detail={"scheme": m["scheme"]}, **common))
            pos = end  # what a shorter MSK1 body left over is scanned again
        out.append(text[pos:])
        return "".join(out), events
