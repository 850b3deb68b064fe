"""The masking engine: what the proxy (and the CLI) calls.

``mask_texts`` = detect (regex -> spoken -> ner, merged) + tokenize, with the
events journaled durably before it returns. ``rehydrate`` restores tokens
minted in the caller's scope and redacts every other token.

The proxy depends only on the ``Engine`` protocol below; the implementation
is ``masker.masking.MaskingEngine``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from masker.audit.events import Event
from masker.policy.model import Policy
from masker.scope import Scope


@dataclass(frozen=True, slots=True)
class TextField:
    """One string of a request body to be scanned.

    ``role`` is the chat role that produced it (``user``, ``assistant``,
    ``system``, ``tool``) or None; ``path`` a JSON-pointer-like location used
    in events (``messages/3/content``) and never contains values.
    ``context`` is read by the detector in front of ``text`` but never masked
    or returned: the words of a JSON number's key (``"patient phone: "``), so
    that ``{"phone": 4155550142}`` is judged as a phone number would be in text.
    """

    text: str
    role: str | None = None
    path: str = ""
    context: str = ""


@dataclass(frozen=True, slots=True)
class SpanNote:
    """One span found in a field, without its value: for the live view, metrics and mitmweb.

    ``field`` indexes the fields of the ``mask_texts`` call; ``replacement``
    is what was written (a token, ``[REDACTED:KIND]``, or the synthetic
    marker ``[SYNTHETIC:KIND]``), None when the policy passes the kind through.
    """

    field: int
    path: str
    kind: str
    pass_name: str
    detector: str
    confidence: float
    action: str
    replacement: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "field": self.field, "path": self.path, "kind": self.kind, "pass": self.pass_name,
            "detector": self.detector, "confidence": self.confidence, "action": self.action,
            "replacement": self.replacement,
        }


class MaskingError(Exception):
    """A request could not be masked; it must not be forwarded.

    ``code`` is stable and goes into the JSON error body the client sees.
    """

    def __init__(self, code: str, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def __reduce__(self) -> tuple[type, tuple[str, str, int]]:
        # Crosses process boundaries (masker.engine_pool) with its code and status.
        return (type(self), (self.code, str(self), self.status))


class Engine(Protocol):
    policy: Policy  # the global policy

    def policy_for(self, agent: str) -> Policy:
        """The policy requests of ``agent`` are masked by (its own, else the global one)."""

    def upstream_for(self, agent: str) -> str | None:
        """The only upstream base URL ``agent`` may reach, or None (any LLM host)."""

    def mask_texts(self, fields: Sequence[TextField], scope: Scope, notes: list[SpanNote] | None = None) -> list[str]:
        """Masked text for each field, in order (all fields of one request at once),
        under the policy of ``scope.agent``; with ``notes``, a ``SpanNote`` per span is appended there.

        Journals detection/redaction events durably before returning; raises
        ``AuditUnavailable`` or ``MaskingError`` when it cannot, in which case
        nothing may be forwarded. CPU-bound: call it off the event loop.
        """

    def rehydrate(
        self,
        text: str,
        scope: Scope,
        events: list[Event] | None = None,
        *,
        json_escape: bool = False,
    ) -> str:
        """Text with tokens of ``scope`` restored and any other token redacted.

        ``json_escape`` escapes restored values for the inside of a JSON string
        (tool-call argument fragments that are JSON text themselves).

        With ``events`` given, rehydration events are appended there for the
        caller to journal later (stream callbacks run on the event loop and
        must not wait for fsync); otherwise they are journaled before return.
        """

    def record(self, events: Sequence[Event]) -> None:
        """Journal events durably (request_blocked and the like)."""

