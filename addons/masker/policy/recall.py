"""Measured recall per Safe Harbor category: the record ``scripts/eval_detect.py --record`` writes.

The record lives next to the NER model (``<model dir>/eval.json``) and names
the model it measured by content (``model_id``: a hash of the model files, no
git), the policy it ran with, and for each benchmark set its size, date and
recall per category. A report shows a category's recall only when the record
was measured with the model and the policy the report describes; anything
else reads "not measured" with the reason.

Recall here is any-type *span* recall: the share of gold values every letter
and digit of which ended up inside some detected span (nothing of the value
left the building), the metric the benchmarks' README asks for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RECORD_FILE = "eval.json"
RECORD_SCHEMA = "masker-eval-record-v1"
METRIC = "recall_any_span"
# What identifies a model: its weights, its tokenizer and its label map.
MODEL_FILES = ("model.onnx", "tokenizer.json", "labels.json")


def model_id(model_dir: Path) -> str:
    """``sha256:<hex>`` over the model's files (name, size, bytes), independent of git and paths."""
    digest = hashlib.sha256()
    for name in MODEL_FILES:
        path = Path(model_dir) / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode("ascii"))
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def load_record(model_dir: Path | None) -> dict[str, Any] | None:
    """The record beside ``model_dir``, or None when there is none or it does not parse."""
    if model_dir is None:
        return None
    path = Path(model_dir) / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("schema") == RECORD_SCHEMA else None


def applicability(record: Mapping[str, Any] | None, model: str | None, policy_hash: str) -> str | None:
    """Why ``record`` does not apply to ``model`` (a ``model_id``) under ``policy_hash``; None when it does."""
    if record is None:
        return "no evaluation record beside the NER model"
    if model is None:
        return "no NER model in use"
    if record.get("model", {}).get("id") != model:
        return "the evaluation record was measured with another NER model"
    if record.get("policy", {}).get("hash") != policy_hash:
        name = record.get("policy", {}).get("name") or "?"
        return f"the evaluation record was measured with another policy ({name})"
    return None


def category_recall(record: Mapping[str, Any], letter: str) -> list[dict[str, Any]]:
    """One entry per benchmark set that has gold values of category ``letter``, by set name."""
    found = []
    for name, entry in sorted(record.get("sets", {}).items()):
        cat = entry.get("categories", {}).get(letter)
        if cat and cat.get("spans") and cat.get(METRIC) is not None:
            found.append({"set": name, "spans": int(cat["spans"]), "recall": cat[METRIC],
                          "measured_at": str(entry.get("measured_at", ""))})
    return found


def evaluation_summary(record: Mapping[str, Any] | None, model: str | None, policy_hash: str) -> dict[str, Any]:
    """What a report says about the record as a whole: which one, and whether it applies."""
    reason = applicability(record, model, policy_hash)
    summary: dict[str, Any] = {"applies": reason is None, "reason": reason or "", "model_id": model,
                               "metric": METRIC}
    if record is not None:
        summary.update({
            "record_model_id": record.get("model", {}).get("id"),
            "record_policy": dict(record.get("policy", {})),
            "passes": record.get("passes"),
            "sets": {name: {k: e.get(k) for k in ("source", "docs", "spans", "measured_at")}
                     for name, e in sorted(record.get("sets", {}).items())},
        })
    return summary
