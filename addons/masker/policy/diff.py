"""What changed between two mask policies.

The comparison runs over the normalized policy documents (defaults filled in,
``gemma`` already read as ``ner``), so two files that differ only in layout,
comments or spelled-out defaults are the same policy, with the same hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from masker.policy.load import policy_document
from masker.policy.model import Policy

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference; ``path`` is dotted (``entities.MRN.patterns``)."""

    path: str
    change: str  # ADDED | REMOVED | CHANGED
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.change == ADDED:
            return f"+ {self.path}: {_show(self.new)}"
        if self.change == REMOVED:
            return f"- {self.path}: {_show(self.old)}"
        return f"~ {self.path}: {_show(self.old)} -> {_show(self.new)}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _walk(old: dict[str, Any], new: dict[str, Any], prefix: str, out: list[Change]) -> None:
    for key in sorted(old.keys() | new.keys()):
        path = f"{prefix}{key}"
        if key not in new:
            out.append(Change(path, REMOVED, old=old[key]))
        elif key not in old:
            out.append(Change(path, ADDED, new=new[key]))
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            _walk(old[key], new[key], f"{path}.", out)
        elif old[key] != new[key]:
            out.append(Change(path, CHANGED, old[key], new[key]))


def diff_policies(old: Policy, new: Policy) -> list[Change]:
    """Every difference from ``old`` to ``new``; empty when they are the same.

    Lists (``passes``, ``patterns``, ``context``, ``scan_roles``) compare as a
    whole: pass order matters, and a reordered list shows as changed.
    """
    out: list[Change] = []
    _walk(policy_document(old), policy_document(new), "", out)
    return out
