"""Which entity kinds each detector can report (for the coverage matrix).

The regex and spoken-form passes declare theirs as ``KINDS``; the NER pass
reports what its model's ``labels.json`` names (see ``masker.detect.ner``).
"""

from __future__ import annotations

import json
from pathlib import Path

from masker.detect import regex, spoken
from masker.kinds import ALL_KINDS


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
    """``{"regex": ..., "spoken": ..., "ner": ...}``; ner is empty without a model."""
    return {
        "regex": frozenset(regex.KINDS),
        "spoken": frozenset(spoken.KINDS),
        "ner": ner_model_kinds(ner_model_dir) if ner_model_dir is not None else frozenset(),
    }
