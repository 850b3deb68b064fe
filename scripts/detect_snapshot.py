"""Snapshot of every span the detector gives on the benchmark sets, to prove a refactor changes nothing.

    python scripts/detect_snapshot.py --out /tmp/before.jsonl          # before the change
    python scripts/detect_snapshot.py --compare /tmp/before.jsonl      # after: exit 1 on any difference

Each line is one document of one set in one style (``as-written``, ``lower``,
``asr``; see ``eval_detect.restyle``): the set, the style, the document's
index and its spans exactly as ``Span.to_json`` writes them (offsets, kind,
pass, detector, confidence), from the shipped policy's Detector with the
regex and NER passes (propagation is derived from these spans). A span
carries no value, so the file holds no benchmark text. A difference is
reported by set, style and document index, never by value.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_detect import LOADERS, STYLES, build_detector, restyle, run  # noqa: E402

DEFAULT_BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
SETS = {
    "asq": "asq_phi",
    "physionet": "physionet_deid",
    "presidio": "presidio_research/synth_dataset_v2.json",
}


def snapshot_lines(benchmarks: Path, styles: tuple[str, ...], limit: int | None) -> list[str]:
    detect = build_detector({"regex", "ner"}, None, None)
    lines: list[str] = []
    for name, rel in SETS.items():
        dataset = LOADERS[name](benchmarks / rel)
        docs = dataset.docs[:limit] if limit is not None else dataset.docs
        originals = [d.text for d in docs]
        for style in styles:
            for doc, text in zip(docs, originals):
                doc.text = restyle(text, style)
            dataset.docs = docs
            started = time.perf_counter()
            predictions, _ = run(dataset, detect)
            print(f"{name} {style}: {len(docs)} docs in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            for i, spans in enumerate(predictions):
                lines.append(json.dumps({"set": name, "style": style, "doc": i,
                                         "spans": [s.to_json() for s in spans]}, sort_keys=True))
    return lines


def compare(before: list[str], after: list[str]) -> list[str]:
    """Human-readable differences (no values: set, style, doc index, span fields)."""
    old = {(r["set"], r["style"], r["doc"]): r["spans"] for r in map(json.loads, before)}
    new = {(r["set"], r["style"], r["doc"]): r["spans"] for r in map(json.loads, after)}
    problems = [f"missing document {k}" for k in sorted(old.keys() - new.keys())]
    problems += [f"extra document {k}" for k in sorted(new.keys() - old.keys())]
    for key in sorted(old.keys() & new.keys()):
        if old[key] != new[key]:
            gone = [s for s in old[key] if s not in new[key]]
            added = [s for s in new[key] if s not in old[key]]
            problems.append(f"{key}: lost {gone} gained {added}" if gone or added else f"{key}: order changed")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    ap.add_argument("--styles", default=",".join(STYLES), help=f"comma-separated, of {', '.join(STYLES)}")
    ap.add_argument("--limit", type=int, help="first N documents of each set")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the snapshot here")
    group.add_argument("--compare", type=Path, help="compare with this snapshot; exit 1 on any difference")
    args = ap.parse_args(argv)
    styles = tuple(s for s in args.styles.split(",") if s)
    if set(styles) - set(STYLES):
        ap.error(f"--styles takes {', '.join(STYLES)}")
    lines = snapshot_lines(args.benchmarks, styles, args.limit)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines)} documents, sha256 {digest}")
        return 0
    problems = compare(args.compare.read_text(encoding="utf-8").splitlines(), lines)
    for line in problems[:50]:
        print(line)
    if problems:
        print(f"{len(problems)} documents differ", file=sys.stderr)
        return 1
    print(f"identical: {len(lines)} documents, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
