"""What a recognizer is: the unit of detection the registry lists and the policy switches.

A recognizer finds one family of values (e-mail addresses, US phone numbers,
spoken dates...) in a text and reports each candidate through an ``Emit``
callback with the evidence it used: the cue list that fired and the
validator (checksum) that passed. The pass running it turns that into a
``Span`` whose ``why`` is an ``Explanation``; the pipeline filters by policy
(kind, recognizer switch, threshold, allow/deny lists) and merges.

Recognizers hold no per-request state. Everything a policy changes about one
(its tenant cue words, tenant patterns) is given to it when it is built, so
building the registry from a policy is the only place policy and detection
meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a span was reported, without its value: safe to log and journal.

    ``recognizer`` is the registry id (the policy's ``recognizers:`` key),
    ``cue`` the id of the cue list that fired before or after the value
    (``"SSN"``, ``"id:MRN"``, ``"tenant:MRN"``), ``validator`` the check the
    value passed (``"luhn"``, ``"ssn_area"``). Both are names from Masker's
    own tables, never text from the request.
    """

    recognizer: str
    cue: str | None = None
    validator: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"recognizer": self.recognizer}
        if self.cue is not None:
            out["cue"] = self.cue
        if self.validator is not None:
            out["validator"] = self.validator
        return out


class Emit(Protocol):
    """Report one candidate: ``text[start:end]`` is ``kind``, found by pattern ``detector``."""

    def __call__(
        self,
        start: int,
        end: int,
        kind: str,
        detector: str,
        confidence: float,
        *,
        cue: str | None = None,
        validator: str | None = None,
    ) -> None: ...


class Recognizer(Protocol):
    """One family of values, found by pattern, cue and validator.

    ``id`` is unique across the registry and stable (policies name it);
    ``kinds`` are the entity kinds it can report; ``detectors`` the values it
    writes into ``Span.detector`` (one per pattern, e.g. ``phone_nanp``);
    ``description`` one line for ``masker detect --recognizers``.
    """

    id: str
    pass_name: str
    kinds: frozenset[str]
    detectors: frozenset[str]
    description: str

