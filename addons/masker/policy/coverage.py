"""HIPAA Safe Harbor (A-R) and PCI coverage of a policy with given detectors.

Computed, never hand-written: a kind counts as covered when the policy
enables it, does not pass it through, and some pass the policy runs (and
allows for that kind) has a detector that reports it. What the detectors
report comes from ``masker.detect.registry.detector_kinds``.

The status says which identifier kinds are looked for, not how well they are
found: ``with_measured_recall`` puts beside it the recall the shipped
evaluation measured per category (``masker.policy.recall``), or says "not
measured" and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from masker.kinds import KIND_CATEGORY, SAFE_HARBOR_CATEGORIES
from masker.policy import recall
from masker.policy.model import Policy

FULL = "full"
PARTIAL = "partial"
NONE = "none"
BLOCKED = "blocked"

PCI = "PCI"
PCI_NAME = "Payment card numbers (PCI DSS)"

# Policy pass -> the detectors it runs. The regex pass includes spoken forms.
PASS_DETECTORS: dict[str, tuple[str, ...]] = {"regex": ("regex", "spoken"), "ner": ("ner",)}


def _gap_reason(policy: Policy, kind: str, detector_kinds: Mapping[str, frozenset[str]]) -> str | None:
    """Why ``kind`` is not covered, or None when it is."""
    rule = policy.rule(kind)
    if rule is None:
        return "not listed in the policy"
    if not rule.enabled:
        return "disabled (enabled: false)"
    if rule.action == "passthrough":
        return "action is passthrough: detected but sent unmasked"
    why = []
    for pass_name, detectors in PASS_DETECTORS.items():
        if pass_name not in policy.passes:
            why.append(f"{pass_name} pass not in passes")
        elif not getattr(rule, pass_name):
            why.append(f"{pass_name}: false for this kind")
        elif any(kind in detector_kinds.get(d, frozenset()) for d in detectors):
            return None
        else:
            why.append(f"no {'/'.join(detectors)} detector reports it")
    return "not detected: " + "; ".join(why)


def _media_entry(policy: Policy, letter: str) -> dict[str, Any]:
    blocked = policy.media == "block"
    note = (
        "non-text request parts (images, audio) are refused (media: block)"
        if blocked
        else "non-text request parts (images, audio) are forwarded unscanned (media: allow)"
    )
    return {
        "category": SAFE_HARBOR_CATEGORIES[letter],
        "status": BLOCKED if blocked else NONE,
        "kinds": [],
        "covered": [],
        "gaps": [],
        "note": note,
    }


def coverage_matrix(policy: Policy, detector_kinds: Mapping[str, frozenset[str]]) -> dict[str, dict]:
    """Coverage per Safe Harbor letter "A".."R" and "PCI".

    Each entry: ``category``, ``status`` (full | partial | none, or blocked for
    P/Q under ``media: block``), ``kinds``, ``covered``, ``gaps`` (``kind``,
    ``reason``) and ``note`` (text caveats, possibly empty). When ``diarize``
    limits scanning to some chat roles, no text category is better than
    partial: text in the other roles is not scanned.
    """
    kinds_by_letter: dict[str, list[str]] = {}
    for kind, letter in KIND_CATEGORY.items():
        kinds_by_letter.setdefault(letter, []).append(kind)
    role_limited = policy.diarize and bool(policy.scan_roles)
    role_note = f"only chat roles {', '.join(policy.scan_roles)} are scanned" if role_limited else ""

    matrix: dict[str, dict] = {}
    for letter in (*SAFE_HARBOR_CATEGORIES, PCI):
        kinds = sorted(kinds_by_letter.get(letter, []))
        if not kinds:  # P (biometric), Q (photos): no text form
            matrix[letter] = _media_entry(policy, letter)
            continue
        covered, gaps = [], []
        for kind in kinds:
            reason = _gap_reason(policy, kind, detector_kinds)
            if reason is None:
                covered.append(kind)
            else:
                gaps.append({"kind": kind, "reason": reason})
        status = FULL if not gaps else PARTIAL if covered else NONE
        if status == FULL and role_limited:
            status = PARTIAL
        notes = [role_note] if role_limited else []
        if letter == "R":
            notes.append("open-ended category: only the kinds listed are looked for")
        matrix[letter] = {
            "category": PCI_NAME if letter == PCI else SAFE_HARBOR_CATEGORIES[letter],
            "status": status,
            "kinds": kinds,
            "covered": covered,
            "gaps": gaps,
            "note": "; ".join(notes),
        }
    return matrix


def with_measured_recall(
    matrix: Mapping[str, Mapping[str, Any]], record: Mapping[str, Any] | None, model: str | None, policy_hash: str
) -> dict[str, dict]:
    """``matrix`` with a ``recall`` entry per category: ``measured`` (per benchmark set:
    ``set``, ``spans``, ``recall``, ``measured_at``) and ``note`` ("not measured: ..."
    when there is no number for it).

    ``record`` is the evaluation record beside the NER model, ``model`` the
    ``recall.model_id`` of the model in use, ``policy_hash`` the policy the
    matrix was computed for; a record of another model or policy applies to
    no category.
    """
    reason = recall.applicability(record, model, policy_hash)
    out: dict[str, dict] = {}
    for letter, entry in matrix.items():
        measured = recall.category_recall(record, letter) if record is not None and reason is None else []
        if measured:
            note = ""
        elif reason is not None:
            note = f"not measured: {reason}"
        else:
            note = "not measured: no benchmark set has values of this category"
        out[letter] = {**entry, "recall": {"metric": recall.METRIC, "measured": measured, "note": note}}
    return out
