"""The one event type that flows from detection, tokenization and rehydration
into the journal. Reports and verifiers read only the journal.

An event must never carry a PHI value: offsets, kinds, tokens and
placeholders only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Event kinds (journal adds "checkpoint", "journal_repaired", ... of its own).
DETECTION = "detection"
REDACTION_APPLIED = "redaction_applied"
REHYDRATION = "rehydration"
REHYDRATION_FAILED = "rehydration_failed"
REQUEST_BLOCKED = "request_blocked"
REQUEST_FORWARDED = "request_forwarded"
RESIDUAL_SCAN = "residual_scan"  # detail: clean (bool), findings (int)
SCAN_SKIPPED = "scan_skipped"  # a field not scanned (role-aware scanning)
POLICY_LOADED = "policy_loaded"
KEY_ROTATED = "key_rotated"
VAULT_DROPPED = "vault_dropped"
# The journal's own integrity events (each carries an Ed25519 signature in ``detail``).
JOURNAL_OPENED = "journal_opened"  # genesis: pins the signing key and the log origin
SIGNING_KEY_ROTATED = "signing_key_rotated"  # the pin moves to a new key (signed by both)
JOURNAL_TRUNCATED = "journal_truncated"  # an operator accepted a loss; a new epoch starts


def utc_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


@dataclass(slots=True)
class Event:
    kind: str
    agent: str = ""
    session: str = ""
    detector: str | None = None
    entity_kind: str | None = None
    span: tuple[int, int] | None = None
    token: str | None = None  # the token or placeholder written, never the value
    policy: str | None = None  # policy name
    policy_hash: str | None = None
    reason: str | None = None
    # Small, PHI-free facts: field path, pass, confidence, action, host, role...
    detail: dict[str, Any] = field(default_factory=dict)
    ts: str = field(default_factory=utc_now)

    def to_json(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies recursively and was a
        # visible share of every request's journal append.
        return {
            "kind": self.kind,
            "agent": self.agent,
            "session": self.session,
            "detector": self.detector,
            "entity_kind": self.entity_kind,
            "span": list(self.span) if self.span is not None else None,
            "token": self.token,
            "policy": self.policy,
            "policy_hash": self.policy_hash,
            "reason": self.reason,
            "detail": dict(self.detail),
            "ts": self.ts,
        }


class AuditUnavailable(Exception):
    """The journal cannot make events durable: requests must be refused."""


class EventSink(Protocol):
    def append(self, events: Sequence[Event]) -> None:
        """Make ``events`` durable before returning; raise AuditUnavailable otherwise."""


class MemorySink:
    """Keeps events in a list: for tests and for the CLI when no journal is wanted."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def append(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
