"""Every recognizer Masker has, by id: what policies switch and ``masker detect --recognizers`` lists.

The written-form recognizers (``masker.detect.recognizers``), the
spoken-form ones (``masker.detect.spoken``) and the NER pass
(``masker.detect.ner``) each declare theirs as ``RECOGNIZERS``; the
tenant-list recognizers of the pipeline (``masker.detect.tenant_lists``)
are listed here too. The NER pass reports the kinds its model's
``labels.json`` names.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from masker.detect.recognizer import Recognizer
from masker.kinds import ALL_KINDS


@dataclass(frozen=True, slots=True)
class RecognizerInfo:
    """One registry entry, for listing and validation (no behaviour)."""

    id: str
    pass_name: str
    kinds: frozenset[str]
    detectors: frozenset[str]
    description: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "pass": self.pass_name, "kinds": sorted(self.kinds),
                "detectors": sorted(self.detectors), "description": self.description}


@functools.cache
def recognizers() -> tuple[RecognizerInfo, ...]:
    """All recognizers, in the order the passes run them."""
    from masker.detect import ner, recognizers, spoken, tenant_lists

    # Passes declare recognizer classes (regex, NER, tenant) or instances (spoken); both carry the attributes.
    found: list[Recognizer | type[Recognizer]] = [
        *recognizers.RECOGNIZERS, *spoken.RECOGNIZERS, *ner.RECOGNIZERS, *tenant_lists.RECOGNIZERS,
    ]
    infos = tuple(RecognizerInfo(r.id, r.pass_name, frozenset(r.kinds), frozenset(r.detectors), r.description)
                  for r in found)
    ids = [r.id for r in infos]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RuntimeError(f"recognizer ids declared twice: {', '.join(duplicates)}")
    return infos


def recognizer_ids() -> frozenset[str]:
    return frozenset(r.id for r in recognizers())


def ner_model_kinds(model_dir: Path) -> frozenset[str]:
    """Kinds a NER model can emit, from ``<model_dir>/labels.json``.

    ``{"labels": ["O", "B-NAME", "I-NAME", ...]}`` with an optional
    ``"kinds": {entity: KIND}`` map, as ``masker.detect.ner`` reads it; without
    the map, entity names that are Masker kinds count as themselves. Raises
    ``OSError``/``ValueError`` when the file is missing or malformed.
    """
    data = json.loads((model_dir / "labels.json").read_text(encoding="utf-8"))
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError("labels.json: expected {\"labels\": [...strings]}")
    entities = {label.partition("-")[2] for label in labels if label != "O"}
    mapping = data.get("kinds")
    if mapping is None:
        return frozenset(entities & ALL_KINDS)
    if not isinstance(mapping, dict):
        raise ValueError("labels.json: \"kinds\" must map entity names to kinds")
    return frozenset(mapping[e] for e in entities if e in mapping) & ALL_KINDS


def detector_kinds(ner_model_dir: Path | None = None) -> dict[str, frozenset[str]]:
    """``{"regex": ..., "spoken": ..., "ner": ...}`` (for the coverage matrix); ner is empty without a model.

    The tenant lists report the kinds a policy names, so they are not counted
    for a pass.
    """
    by_pass: dict[str, set[str]] = {"regex": set(), "spoken": set()}
    for r in recognizers():
        if r.pass_name in by_pass and r.id not in _TENANT_IDS:
            by_pass[r.pass_name] |= r.kinds
    return {
        "regex": frozenset(by_pass["regex"]),
        "spoken": frozenset(by_pass["spoken"]),
        "ner": ner_model_kinds(ner_model_dir) if ner_model_dir is not None else frozenset(),
    }


# Recognizers whose kinds are whatever the policy's tenant lists say.
_TENANT_IDS = frozenset({"tenant_pattern", "deny_list"})
