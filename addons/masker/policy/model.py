"""In-memory form of a mask policy (``configs/mask_policy.yaml``).

Loading and validation live in ``masker.policy.load``; this module is only the
shape every other part of Masker reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOKENIZATIONS = ("vault-deterministic", "reversible-aead", "synthetic")
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
class AuditSettings:
    log_events: bool = True
    log_payloads: bool = False  # opt-in; payloads are then stored encrypted
    retention_days: int = 2555


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: int
    description: str
    kid: str
    epsilon: float
    tokenization: str  # one of TOKENIZATIONS
    passes: tuple[str, ...]  # canonical names, in order
    entities: dict[str, EntityRule]
    audit: AuditSettings = field(default_factory=AuditSettings)
    # Role-aware scanning (only meaningful with the "diarize" pass): chat roles
    # whose text is scanned. Empty means every role.
    scan_roles: tuple[str, ...] = ()
    # Non-text request parts (images, audio): "block" (default) or "allow".
    media: str = "block"
    # sha256 hex of the canonical policy document; goes into every event.
    hash: str = ""

    def rule(self, kind: str) -> EntityRule | None:
        return self.entities.get(kind)

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
