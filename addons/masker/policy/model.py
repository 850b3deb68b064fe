"""In-memory form of a mask policy (``configs/mask_policy.yaml``).

Loading and validation live in ``masker.policy.load``; this module is only the
shape every other part of Masker reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from masker.scope import DEFAULT_TOKEN_SCOPE, TOKEN_SCOPES  # noqa: F401 - TOKEN_SCOPES re-exported

TOKENIZATIONS = ("vault-deterministic", "reversible-aead", "synthetic")
# Tokenizations whose output is bound to the scope (``token_scope`` applies);
# MSK1 (reversible-aead) is the same in every scope by design.
SCOPED_TOKENIZATIONS = ("vault-deterministic", "synthetic")
ACTIONS = ("tokenize", "redact", "passthrough")
# Canonical pass names after aliasing ("gemma" -> "ner").
PASSES = ("regex", "ner", "diarize")
PASS_ALIASES = {"gemma": "ner"}


@dataclass(frozen=True, slots=True)
class EntityRule:
    """What the policy says about one entity kind."""

    kind: str
    enabled: bool = True
    regex: bool = True  # may the regex (and spoken-form) pass report this kind
    ner: bool = True  # may the NER pass report this kind
    confidence_threshold: float = 0.6
    action: str = "tokenize"  # one of ACTIONS
    patterns: tuple[str, ...] = ()  # per-tenant regexes (MRN-like kinds)
    context: tuple[str, ...] = ()  # extra cue words that raise confidence


@dataclass(frozen=True, slots=True)
class RecognizerRule:
    """The policy's switch for one recognizer (``masker detect --recognizers`` lists the ids).

    ``confidence_threshold``, when set, replaces the kind's threshold for the
    spans this recognizer reports.
    """

    id: str
    enabled: bool = True
    confidence_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class ValueList:
    """Tenant values matched as a whole: exact values (case-insensitive, inner
    whitespace any run) or regexes that must match the whole value."""

    values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DenyRule:
    """Values that are always ``kind`` wherever they occur (a deny-list entry)."""

    kind: str
    values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """Every event is always journaled (fail closed) and no payload is ever
    stored, so retention is the only audit setting."""

    retention_days: int = 2555


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: int
    description: str
    kid: str
    tokenization: str  # one of TOKENIZATIONS
    passes: tuple[str, ...]  # canonical names, in order
    entities: dict[str, EntityRule]
    audit: AuditSettings = field(default_factory=AuditSettings)
    # Role-aware scanning (only meaningful with the "diarize" pass): chat roles
    # whose text is scanned. Empty means every role.
    scan_roles: tuple[str, ...] = ()
    # Non-text request parts (images, audio): "block" (default) or "allow".
    media: str = "block"
    # What MSKV1 tokens and synthetic surrogates are bound to: "session"
    # (default: same token within a session only) or "agent" (same token across
    # an agent's sessions). None for reversible-aead (MSK1 is not scope-bound).
    token_scope: str | None = DEFAULT_TOKEN_SCOPE
    # Per-recognizer switches and thresholds, by recognizer id.
    recognizers: dict[str, RecognizerRule] = field(default_factory=dict)
    # Values never masked (a clinic's own name, a public hotline).
    allow: ValueList = field(default_factory=ValueList)
    # Values always masked, with the kind they are masked as.
    deny: tuple[DenyRule, ...] = ()
    # sha256 hex of the canonical policy document; goes into every event.
    hash: str = ""

    def rule(self, kind: str) -> EntityRule | None:
        return self.entities.get(kind)

    def recognizer_enabled(self, recognizer_id: str) -> bool:
        rule = self.recognizers.get(recognizer_id)
        return rule is None or rule.enabled

    def masks(self, kind: str) -> bool:
        """Whether a detected ``kind`` is replaced (tokenized or redacted), not passed through."""
        rule = self.rule(kind)
        return rule is not None and rule.action != "passthrough"

    @property
    def diarize(self) -> bool:
        return "diarize" in self.passes

    def scans_role(self, role: str | None) -> bool:
        """Whether text spoken in ``role`` is scanned under this policy."""
        if not self.diarize or not self.scan_roles or role is None:
            return True
        return role in self.scan_roles
