"""Replace detected spans per policy: tokenize, redact or pass through.

One call handles one text of a request; the vault rows it mints are written
in one transaction before the masked text is returned, so a token never
leaves the proxy before its value is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from masker.audit.events import DETECTION, REDACTION_APPLIED, Event
from masker.detect.spans import Span
from masker.policy.model import Policy
from masker.scope import DEFAULT_TOKEN_SCOPE, Scope
from masker.tokens import aead
from masker.tokens.keys import Keyring
from masker.tokens.synthetic import Synthesizer
from masker.tokens.vault import Row, TokenVault, mint

TOKENIZE, REDACT, PASSTHROUGH = "tokenize", "redact", "passthrough"


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def synthetic_marker(kind: str) -> str:
    """What events record for a synthetic surrogate (the surrogate itself stays out
    of the journal: with one known date it would reveal the session's date shift)."""
    return f"[SYNTHETIC:{kind}]"


class TokenApplier:
    def __init__(self, policy: Policy, keyring: Keyring, vault: TokenVault | None) -> None:
        self.policy = policy
        self.keyring = keyring
        self.vault = vault
        if policy.tokenization == "vault-deterministic" and vault is None:
            raise ValueError("vault-deterministic tokenization needs a vault")
        self._synth = (
            Synthesizer(keyring, policy.kid, self._token_scope)
            if policy.tokenization == "synthetic" else None
        )

    @property
    def _token_scope(self) -> str:
        """How much of the scope MSKV1 tokens and surrogates are bound to
        (MSK1 ignores it: not scope-bound by design)."""
        return self.policy.token_scope or DEFAULT_TOKEN_SCOPE

    def action(self, kind: str) -> str:
        """The policy's action for ``kind``; a kind without a rule is tokenized (fail closed)."""
        rule = self.policy.rule(kind)
        return rule.action if rule is not None else TOKENIZE

    def _token(self, kind: str, value: str, scope: Scope, rows: list[Row]) -> tuple[str, str]:
        """(replacement text, what the event records)."""
        kid = self.policy.kid
        method = self.policy.tokenization
        if method == "vault-deterministic":
            token = mint(self.keyring, kind, kid, value, scope, self._token_scope)
            rows.append((token, kind, kid, value))
            return token, token
        if method == "reversible-aead":
            token = aead.seal(self.keyring, kind, kid, value)
            return token, token
        if method == "synthetic":
            assert self._synth is not None
            return self._synth.surrogate(scope, kind, value), synthetic_marker(kind)
        raise ValueError(f"unknown tokenization {method!r}")

    def apply(self, text: str, spans: Sequence[Span], scope: Scope) -> tuple[str, list[Event]]:
        """Masked ``text`` and its events; ``spans`` sorted, non-overlapping, non-empty.

        Raises ``ValueError`` for bad spans, ``MissingKey``, ``ValueTooLong`` (MSK1) or
        a vault error: the caller must then not forward anything.
        """
        out: list[str] = []
        events: list[Event] = []
        rows: list[Row] = []
        pos = 0
        common = dict(
            agent=scope.agent, session=scope.session,
            policy=self.policy.name, policy_hash=self.policy.hash,
        )
        for span in spans:
            if not (pos <= span.start < span.end <= len(text)):
                raise ValueError(f"span {span.start}-{span.end} overlaps, is empty or out of range")
            action = self.action(span.kind)
            value = text[span.start : span.end]
            out.append(text[pos : span.start])
            found: dict[str, object] = {"pass": span.pass_name, "confidence": round(span.confidence, 4),
                                        "action": action}
            if span.why is not None:
                found["why"] = span.why.to_json()  # recognizer, cue and validator ids: no value
            events.append(Event(
                kind=DETECTION, detector=span.detector, entity_kind=span.kind,
                span=(span.start, span.end), detail=found, **common,
            ))
            if action == PASSTHROUGH:
                out.append(value)
            else:
                if action == REDACT:
                    replacement = recorded = placeholder(span.kind)
                else:
                    replacement, recorded = self._token(span.kind, value, scope, rows)
                out_start = sum(map(len, out))
                out.append(replacement)
                # where the replacement sits in the masked text (offsets only)
                detail = {"action": action, "out": [out_start, out_start + len(replacement)]}
                if action == TOKENIZE:
                    detail["tokenization"] = self.policy.tokenization
                events.append(Event(
                    kind=REDACTION_APPLIED, detector=span.detector, entity_kind=span.kind,
                    span=(span.start, span.end), token=recorded, detail=detail, **common,
                ))
            pos = span.end
        out.append(text[pos:])
        if rows:
            assert self.vault is not None
            self.vault.put_many(scope, rows)
        return "".join(out), events
