"""Score Masker's detector on an annotated PHI benchmark.

    python scripts/eval_detect.py physionet ../shared/benchmarks/physionet_deid
    python scripts/eval_detect.py asq ../shared/benchmarks/asq_phi --passes regex
    python scripts/eval_detect.py presidio ../shared/benchmarks/presidio_research --json
    python scripts/eval_detect.py asq ../shared/benchmarks/asq_phi --latency
    python scripts/eval_detect.py asq ../shared/benchmarks/asq_phi --style asr
    python scripts/eval_detect.py conversational tests/fixtures/conversational/voice_transcripts.jsonl

Datasets are read from the given path and never copied. Formats:

* ``physionet``: ``id.text`` records ``START_OF_RECORD=pid||||note||||`` ... body
  ... ``||||END_OF_RECORD`` and ``id-phi.phrase`` lines ``pid note start end TYPE
  phrase`` (end-exclusive offsets into the record body).
* ``asq``: ``synthetic_clinical_queries.txt``, ``===QUERY===`` text then
  ``===PHI_TAGS===`` JSON lines ``{"identifier_type", "value"}``. There are no
  offsets: every verbatim occurrence of a value in its query is a gold span;
  values not found verbatim are counted as ``unlocated`` and left out.
* ``presidio``: ``synth_dataset_v2.json``, a list of ``{full_text, spans:
  [{entity_type, start_position, end_position}]}``.
* ``conversational``: one JSONL file of ``tests/fixtures/conversational/`` (or
  the folder: all its files), lines ``{"text", "spans": [{"start", "end",
  "type"}]}``; its types are scored as the harness's gold types of the same
  meaning (``CONVERSATIONAL_TYPES``: ``AGE`` there is an age over 89).

Metrics (all over letters and digits only, so punctuation and spaces at span
edges neither help nor hurt):

* **any-type** (did the value leave unmasked?): *character recall* = share of
  gold PHI characters inside any detected span; *span recall* = share of gold
  spans with every character inside detected spans (a partly masked value
  counts as a miss); *precision* = share of detected characters inside a gold
  span (character level) and share of detected spans overlapping one (span
  level).
* **typed**: the same, but a detected character only counts when its kind is
  one the gold type allows (``TYPE_KINDS``).

``--style`` rewrites every text the way a speech recogniser without casing
would hand it over, keeping every offset: ``lower`` lower-cases it, ``asr``
also turns sentence punctuation and brackets into spaces ("Jane Doe, (415)
555-0100." -> "jane doe   415  555-0100 "). Voice agents send such text.

Each document is scored as one request through the sidecar: a value detected
once is also masked wherever else it occurs in the document
(``masker.detect.propagation``). ``--no-propagation`` scores the detector
alone; ``--passes ner`` (the model's raw output) never propagates.

Gold types that are not PHI under HIPAA Safe Harbor are ``EXCLUDED``: they do
not count in recall, and detections on them are neither right nor wrong.
Misses are listed per gold type by shape (``Xxxx 99/99``); raw values are
printed only with ``--show-values``.

Each gold type belongs to one HIPAA Safe Harbor category (``GOLD_CATEGORY``,
"PCI" for card numbers); ``by_category`` pools the gold types of a category
(presidio's ``AGE``, any age, is in none: only ages over 89 are identifiers).
``--record models/<model>/eval.json`` adds this run's per-category recall to
the machine-readable record that reports show beside the coverage matrix
(``masker.policy.recall``): one entry per set (name, source folder, size,
date), under the model's content hash and the policy's hash. A record made
with another model, policy or passes is replaced, not merged. Record only
full runs of the sidecar's configuration (``regex,ner`` with propagation, as
written, no ``--limit``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "addons"))

from masker import __version__  # noqa: E402
from masker.detect.spans import Span  # noqa: E402
from masker.kinds import KIND_CATEGORY  # noqa: E402
from masker.policy import recall  # noqa: E402

# Gold type -> the Masker kinds that count as the right type.
_NAME = {"NAME"}
_PLACE = {"LOCATION", "ADDRESS", "ZIP", "ORGANIZATION"}
_DATE = {"DATE", "DOB"}
_PHONE = {"PHONE", "FAX"}
_IDS = {"MRN", "HEALTH_PLAN", "ACCOUNT", "LICENSE", "NPI", "SSN", "DEVICE", "VEHICLE", "VIN"}
TYPE_KINDS: dict[str, set[str]] = {
    # physionet
    "HCPName": _NAME, "PTName": _NAME, "RelativeProxyName": _NAME, "PTNameInitial": _NAME,
    "Date": _DATE, "DateYear": _DATE, "Location": _PLACE, "Phone": _PHONE, "Age": {"AGE"},
    "Other": set(KIND_CATEGORY),
    # asq
    "NAME": _NAME, "GEOGRAPHIC_LOCATION": _PLACE, "DATE": _DATE,
    "MEDICAL_RECORD_NUMBER": {"MRN"}, "HEALTH_PLAN_BENEFICIARY_NUMBER": {"HEALTH_PLAN", "ACCOUNT", "MRN"},
    "PHONE_NUMBER": _PHONE, "FAX_NUMBER": _PHONE, "SOCIAL_SECURITY_NUMBER": {"SSN"},
    "EMAIL_ADDRESS": {"EMAIL"}, "ACCOUNT_NUMBER": {"ACCOUNT"}, "CERTIFICATE_LICENSE_NUMBER": {"LICENSE"},
    "UNIQUE_IDENTIFIER": _IDS, "IP_ADDRESS": {"IP_ADDRESS"},
    # presidio
    "PERSON": _NAME, "STREET_ADDRESS": {"ADDRESS", "ZIP"}, "GPE": _PLACE, "ORGANIZATION": {"ORGANIZATION"},
    "CREDIT_CARD": {"CREDIT_CARD"}, "DATE_TIME": _DATE, "ZIP_CODE": {"ZIP", "ADDRESS"},
    "DOMAIN_NAME": {"URL", "EMAIL"}, "IBAN_CODE": {"ACCOUNT"}, "US_SSN": {"SSN"},
    "US_DRIVER_LICENSE": {"LICENSE"}, "AGE": {"AGE"},
}
UNPOOLED = "unpooled"  # scored per gold type, but in no category
# Gold type -> the Safe Harbor category (45 CFR 164.514(b)(2)(i) A-R, or PCI) its values belong to.
GOLD_CATEGORY: dict[str, str] = {
    # physionet
    "HCPName": "A", "PTName": "A", "RelativeProxyName": "A", "PTNameInitial": "A",
    "Date": "C", "DateYear": "C", "Location": "B", "Phone": "D", "Age": "C", "Other": "R",
    # asq
    "NAME": "A", "GEOGRAPHIC_LOCATION": "B", "DATE": "C", "MEDICAL_RECORD_NUMBER": "H",
    "HEALTH_PLAN_BENEFICIARY_NUMBER": "I", "PHONE_NUMBER": "D", "FAX_NUMBER": "E",
    "SOCIAL_SECURITY_NUMBER": "G", "EMAIL_ADDRESS": "F", "ACCOUNT_NUMBER": "J",
    "CERTIFICATE_LICENSE_NUMBER": "K", "UNIQUE_IDENTIFIER": "R", "IP_ADDRESS": "O",
    # presidio (ORGANIZATION is R, as the ORGANIZATION kind is: employers are identifiers of the person)
    "PERSON": "A", "STREET_ADDRESS": "B", "GPE": "B", "ORGANIZATION": "R", "CREDIT_CARD": "PCI",
    "DATE_TIME": "C", "ZIP_CODE": "B", "DOMAIN_NAME": "N", "IBAN_CODE": "J", "US_SSN": "G",
    "US_DRIVER_LICENSE": "K",
    # presidio's AGE is any age, but only ages over 89 are a Safe Harbor identifier (C): not pooled
    # (PhysioNet's Age annotates only those over 89).
    "AGE": UNPOOLED,
}
# Not PHI under Safe Harbor: a year alone, a courtesy title, nationality/religion/politics.
EXCLUDED = {"DateYear", "TITLE", "NRP"}
# A courtesy title that opens a gold name ("Dr. Lee") is not PHI: it is trimmed.
_TITLE = re.compile(r"(?i)(?:dr|mr|mrs|ms|miss|prof|nurse|doctor)\.?\s+")


@dataclass
class Doc:
    text: str
    gold: list[tuple[int, int, str]]


@dataclass
class Dataset:
    docs: list[Doc]
    unlocated: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for doc in self.docs:
            doc.gold = [_trim_title(doc.text, span) for span in doc.gold]


def _trim_title(text: str, span: tuple[int, int, str]) -> tuple[int, int, str]:
    start, end, gtype = span
    if TYPE_KINDS.get(gtype) is _NAME:
        match = _TITLE.match(text, start, end)
        if match and match.end() < end:
            return match.end(), end, gtype
    return span


def load_physionet(path: Path) -> Dataset:
    text = (path / "id.text").read_text(encoding="utf-8", errors="replace")
    bodies: dict[tuple[str, str], str] = {}
    for match in re.finditer(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n?(.*?)\|\|\|\|END_OF_RECORD", text, re.S):
        bodies[(match.group(1), match.group(2))] = match.group(3)
    gold: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    for line in (path / "id-phi.phrase").read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(" ", 5)
        if len(parts) >= 5:
            gold[(parts[0], parts[1])].append((int(parts[2]), int(parts[3]), parts[4]))
    return Dataset([Doc(body, sorted(gold.get(key, []))) for key, body in bodies.items()])


def load_asq(path: Path) -> Dataset:
    source = path / "synthetic_clinical_queries.txt" if path.is_dir() else path
    raw = source.read_text(encoding="utf-8")
    docs: list[Doc] = []
    unlocated: Counter = Counter()
    for block in raw.split("===QUERY===")[1:]:
        query, _, tags = block.partition("===PHI_TAGS===")
        query = query.strip("\n")
        gold: list[tuple[int, int, str]] = []
        for line in tags.strip().splitlines():
            if not line.strip():
                continue
            tag = json.loads(line)
            value, kind = tag["value"], tag["identifier_type"]
            starts = [m.start() for m in re.finditer(re.escape(value), query)] if value else []
            if not starts:
                unlocated[kind] += 1
            gold.extend((s, s + len(value), kind) for s in starts)
        docs.append(Doc(query, sorted(set(gold))))
    return Dataset(docs, unlocated)


def load_presidio(path: Path) -> Dataset:
    source = path / "synth_dataset_v2.json" if path.is_dir() else path
    rows = json.loads(source.read_text(encoding="utf-8"))
    return Dataset([
        Doc(r["full_text"], sorted((s["start_position"], s["end_position"], s["entity_type"]) for s in r["spans"]))
        for r in rows
    ])


# Hand-written conversational sets (tests/fixtures/conversational) -> the gold type of the same
# meaning above, so that TYPE_KINDS and GOLD_CATEGORY apply. AGE there is only an age over 89,
# as PhysioNet's "Age" (presidio's "AGE" is any age). ACCOUNT (member, policy, account or claim
# number) is scored as a health-plan number, whose kinds take both the regex pass's HEALTH_PLAN and
# the model's ACCOUNT.
CONVERSATIONAL_TYPES: dict[str, str] = {
    "NAME": "NAME", "LOCATION": "GEOGRAPHIC_LOCATION", "ADDRESS": "STREET_ADDRESS",
    "ORGANIZATION": "ORGANIZATION", "DATE": "DATE", "AGE": "Age", "PHONE": "PHONE_NUMBER",
    "EMAIL": "EMAIL_ADDRESS", "SSN": "SOCIAL_SECURITY_NUMBER", "MRN": "MEDICAL_RECORD_NUMBER",
    "ACCOUNT": "HEALTH_PLAN_BENEFICIARY_NUMBER", "URL": "DOMAIN_NAME",
}


def load_conversational(path: Path) -> Dataset:
    """One conversational JSONL file, or every ``*.jsonl`` of a folder (in name order)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    docs: list[Doc] = []
    for source in files:
        for line in source.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            gold = [(s["start"], s["end"], CONVERSATIONAL_TYPES[s["type"]]) for s in row["spans"]]
            docs.append(Doc(row["text"], sorted(gold)))
    return Dataset(docs)


LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "physionet": load_physionet, "asq": load_asq, "presidio": load_presidio,
    "conversational": load_conversational,
}


def shape(value: str) -> str:
    """A value's shape (letters -> X/x, digits -> 9), safe to print."""
    out = re.sub(r"[A-Z]", "X", value)
    out = re.sub(r"[a-z]", "x", out)
    out = re.sub(r"\d", "9", out)
    return re.sub(r"(x)\1{2,}", "xx", re.sub(r"(X)\1{2,}", "XX", out))


def score(dataset: Dataset, predictions: Sequence[Sequence[Span]], *, show_values: bool = False) -> dict:
    """Any-type and typed recall/precision; see the module docstring."""
    per_type: dict[str, Counter] = defaultdict(Counter)
    per_kind: dict[str, Counter] = defaultdict(Counter)
    misses: dict[str, Counter] = defaultdict(Counter)
    for doc, spans in zip(dataset.docs, predictions):
        text = doc.text
        detected_kinds: list[set[str]] = [set() for _ in text]
        for span in spans:
            for i in range(span.start, min(span.end, len(text))):
                detected_kinds[i].add(span.kind)
        gold_kinds: list[set[str] | None] = [None] * len(text)  # None: not PHI
        neutral = [False] * len(text)
        for start, end, gtype in doc.gold:
            for i in range(start, min(end, len(text))):
                if gtype in EXCLUDED:
                    neutral[i] = True
                else:
                    allowed = TYPE_KINDS.get(gtype, set())
                    gold_kinds[i] = (gold_kinds[i] or set()) | allowed
        for start, end, gtype in doc.gold:
            if gtype in EXCLUDED:
                continue
            allowed = TYPE_KINDS.get(gtype, set())
            chars = [i for i in range(start, min(end, len(text))) if text[i].isalnum()]
            if not chars:
                continue
            hit = sum(1 for i in chars if detected_kinds[i])
            typed = sum(1 for i in chars if detected_kinds[i] & allowed)
            c = per_type[gtype]
            c["spans"] += 1
            c["chars"] += len(chars)
            c["chars_hit"] += hit
            c["chars_typed"] += typed
            c["spans_hit"] += hit == len(chars)
            c["spans_typed"] += typed == len(chars)
            if hit < len(chars):
                misses[gtype][text[start:end] if show_values else shape(text[start:end])] += 1
        for span in spans:
            chars = [i for i in range(span.start, min(span.end, len(text)))
                     if text[i].isalnum() and not neutral[i]]
            if not chars:
                continue
            c = per_kind[span.kind]
            c["spans"] += 1
            c["chars"] += len(chars)
            c["chars_right"] += sum(1 for i in chars if gold_kinds[i] is not None)
            c["chars_typed"] += sum(1 for i in chars if gold_kinds[i] and span.kind in gold_kinds[i])
            c["spans_right"] += any(gold_kinds[i] is not None for i in chars)

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    total_t = sum(per_type.values(), Counter())
    total_k = sum(per_kind.values(), Counter())
    per_category: dict[str, Counter] = defaultdict(Counter)
    category_types: dict[str, list[str]] = defaultdict(list)
    for t, c in sorted(per_type.items()):
        letter = GOLD_CATEGORY.get(t, UNPOOLED)
        per_category[letter] += c
        category_types[letter].append(t)
    return {
        "docs": len(dataset.docs),
        "unlocated": dict(dataset.unlocated),
        "excluded_types": sorted(EXCLUDED),
        "overall": {
            "spans": total_t["spans"],
            "recall_any_char": ratio(total_t["chars_hit"], total_t["chars"]),
            "recall_any_span": ratio(total_t["spans_hit"], total_t["spans"]),
            "recall_typed_char": ratio(total_t["chars_typed"], total_t["chars"]),
            "recall_typed_span": ratio(total_t["spans_typed"], total_t["spans"]),
            "precision_any_char": ratio(total_k["chars_right"], total_k["chars"]),
            "precision_any_span": ratio(total_k["spans_right"], total_k["spans"]),
            "precision_typed_char": ratio(total_k["chars_typed"], total_k["chars"]),
        },
        "by_gold_type": {
            t: {"spans": c["spans"], "recall_any_char": ratio(c["chars_hit"], c["chars"]),
                "recall_any_span": ratio(c["spans_hit"], c["spans"]),
                "recall_typed_char": ratio(c["chars_typed"], c["chars"]),
                "recall_typed_span": ratio(c["spans_typed"], c["spans"])}
            for t, c in sorted(per_type.items())
        },
        "by_category": {
            letter: {"spans": c["spans"], "gold_types": category_types[letter],
                     "recall_any_char": ratio(c["chars_hit"], c["chars"]),
                     "recall_any_span": ratio(c["spans_hit"], c["spans"])}
            for letter, c in sorted(per_category.items())
        },
        "by_detected_kind": {
            k: {"spans": c["spans"], "precision_any_char": ratio(c["chars_right"], c["chars"]),
                "precision_any_span": ratio(c["spans_right"], c["spans"]),
                "precision_typed_char": ratio(c["chars_typed"], c["chars"])}
            for k, c in sorted(per_kind.items())
        },
        "top_misses": {t: m.most_common(8) for t, m in sorted(misses.items())},
    }


def build_detector(
    passes: set[str],
    policy_path: Path | None,
    model_dir: Path | None,
    *,
    cache: bool = False,
    propagate: bool = False,
):
    """A ``detect_batch`` callable for the requested passes.

    ``ner`` alone runs the model without the policy (the model's raw output);
    anything with ``regex`` runs the project's Detector with the shipped policy.
    With ``cache`` results go through a fresh ``DetectionCache``; with
    ``propagate`` each text is treated as one request, whose detected values
    are masked wherever else they occur in it, as the sidecar does.
    """
    from masker.detect.cache import DetectionCache
    from masker.detect.ner import NerPass, default_model_dir

    ner = None
    if "ner" in passes:
        model = model_dir or default_model_dir()
        if model is None:
            raise SystemExit("no NER model found (set --model or MASKER_NER_MODEL)")
        ner = NerPass(model)
    if passes == {"ner"}:
        return _with_cache(ner.detect_batch, DetectionCache()) if cache else ner.detect_batch
    from masker.detect.pipeline import Detector

    policy = load_eval_policy(policy_path)
    detector = Detector(policy, ner=ner, cache=DetectionCache() if cache else None)
    return _with_propagation(detector.detect_batch, policy) if propagate else detector.detect_batch


def load_eval_policy(policy_path: Path | None):
    """The policy detection runs with (default: the shipped one); no real key is needed to detect."""
    from masker.policy.load import default_policy_path, load_policy

    env = dict(os.environ)
    env.setdefault("MASKER_KEY_K_HEALTHCARE", "A" * 43 + "=")
    return load_policy(policy_path or default_policy_path(), env)


def write_record(path: Path, report: dict, *, source: str, model_dir: Path, policy, today: str) -> dict:
    """Merge this run's per-category recall into the record at ``path`` (see ``masker.policy.recall``).

    The set's entry is replaced; the other sets are kept only when they were
    measured with the same model, policy, passes and propagation.
    """
    header = {
        "schema": recall.RECORD_SCHEMA,
        "model": {"name": Path(model_dir).name, "id": recall.model_id(model_dir)},
        "policy": {"name": policy.name, "hash": policy.hash},
        "passes": report["passes"],
        "propagation": report["propagation"],
        "metric": recall.METRIC,
    }
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    same = isinstance(old, dict) and all(old.get(k) == v for k, v in header.items())
    sets = dict(old.get("sets", {})) if same else {}
    sets[report["dataset"]] = {
        "source": source,
        "docs": report["docs"],
        "spans": report["overall"]["spans"],
        "measured_at": today,
        "masker_version": __version__,
        "seconds": report["seconds"],
        "excluded_types": report["excluded_types"],
        "categories": report["by_category"],
    }
    record = {**header, "sets": dict(sorted(sets.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return record


def _with_propagation(detect_batch, policy):
    """``detect_batch`` plus the sidecar's propagation, each text being one request."""
    from masker.detect.propagation import occurrences, propagated_values

    def propagating(texts: Sequence[str]) -> list[list[Span]]:
        results = []
        for text, spans in zip(texts, detect_batch(texts)):
            again = occurrences(text, propagated_values(text, spans, policy), [(s.start, s.end) for s in spans])
            results.append(sorted([*spans, *again], key=lambda s: s.start))
        return results

    return propagating


def _with_cache(detect_batch, cache):
    """The model alone behind a cache (the Detector does this itself)."""

    def cached(texts: Sequence[str]) -> list[list[Span]]:
        results = [cache.get("ner-only", t) for t in texts]
        todo = [i for i, r in enumerate(results) if r is None]
        for i, spans in zip(todo, detect_batch([texts[i] for i in todo])):
            cache.put("ner-only", texts[i], spans)
            results[i] = spans
        return results

    return cached


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5) * 1000, 2), "p99_ms": round(pick(0.99) * 1000, 2), "n": len(ordered)}


def measure_latency(dataset: Dataset, passes: set[str], policy_path: Path | None, model_dir: Path | None) -> dict:
    """Per-text latency at 32/128/512 tokens, and per request of a 10-turn chat.

    Texts are cut from the dataset at exact token counts (model tokenizer,
    special tokens included). The chat resends its whole history each turn
    (turn i sends texts 1..i), once without and once with the cache.
    """
    from tokenizers import Tokenizer

    from masker.detect.ner import default_model_dir

    detect = build_detector(passes, policy_path, model_dir)
    tokenizer = Tokenizer.from_file(str((model_dir or default_model_dir()) / "tokenizer.json"))
    tokenizer.no_truncation()
    corpus = "\n".join(d.text for d in dataset.docs)
    offsets = tokenizer.encode(corpus, add_special_tokens=False).offsets
    result: dict = {}
    for size in (32, 128, 512):
        n = size - 2
        texts = [corpus[offsets[i][0] : offsets[i + n - 1][1]]
                 for i in range(0, max(1, len(offsets) - n), max(1, (len(offsets) - n) // 40))][:40]
        detect(texts[:3])  # warm-up
        samples = []
        for text in texts:
            started = time.perf_counter()
            detect([text])
            samples.append(time.perf_counter() - started)
        result[f"{size}_tokens"] = _percentiles(samples)
    turns = [d.text for d in dataset.docs[:10]]
    for label, use_cache in (("chat10_no_cache", False), ("chat10_cache", True)):
        chat = build_detector(passes, policy_path, model_dir, cache=use_cache)
        samples = []
        for i in range(1, len(turns) + 1):
            started = time.perf_counter()
            chat(turns[:i])
            samples.append(time.perf_counter() - started)
        result[label] = {**_percentiles(samples), "total_ms": round(sum(samples) * 1000, 2)}
    return result


STYLES = ("as-written", "lower", "asr")
_ASR_PUNCTUATION = str.maketrans({c: " " for c in ".,;:!?()[]{}\"“”"})


def restyle(text: str, style: str) -> str:
    """``text`` in ``style`` (see the module doc), character for character."""
    if style == "as-written":
        return text
    # one character in, one out: offsets of gold spans stay valid ("İ".lower() is two)
    text = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return text.translate(_ASR_PUNCTUATION) if style == "asr" else text


def run(dataset: Dataset, detect_batch, batch_size: int = 16) -> tuple[list[list[Span]], float]:
    """Predictions for every doc, and seconds spent."""
    started = time.perf_counter()
    predictions: list[list[Span]] = []
    for i in range(0, len(dataset.docs), batch_size):
        predictions.extend(detect_batch([d.text for d in dataset.docs[i : i + batch_size]]))
    return predictions, time.perf_counter() - started


def render(report: dict) -> str:
    def pct(v: float | None) -> str:
        return "   -  " if v is None else f"{v * 100:6.2f}"

    o = report["overall"]
    lines = [
        f"{report['dataset']} ({report['docs']} docs, passes={report['passes']}"
        f"{', propagation' if report.get('propagation') else ''}, {report['seconds']:.1f}s)",
        f"excluded (not PHI): {', '.join(report['excluded_types'])}"
        + (f"; unlocated values: {report['unlocated']}" if report["unlocated"] else ""),
        "",
        f"OVERALL  spans={o['spans']}  recall any: char {pct(o['recall_any_char'])} span {pct(o['recall_any_span'])}"
        f" | typed: char {pct(o['recall_typed_char'])} span {pct(o['recall_typed_span'])}",
        f"         precision any: char {pct(o['precision_any_char'])} span {pct(o['precision_any_span'])}"
        f" | typed: char {pct(o['precision_typed_char'])}",
        "",
        f"{'gold type':26} {'spans':>6} {'any-chr':>7} {'any-spn':>7} {'typ-chr':>7} {'typ-spn':>7}",
    ]
    for t, r in report["by_gold_type"].items():
        lines.append(f"{t:26} {r['spans']:6d} {pct(r['recall_any_char'])}  {pct(r['recall_any_span'])}"
                     f"  {pct(r['recall_typed_char'])}  {pct(r['recall_typed_span'])}")
    lines += ["", f"{'Safe Harbor category':26} {'spans':>6} {'any-chr':>7} {'any-spn':>7}  gold types"]
    for letter, r in report["by_category"].items():
        lines.append(f"{letter:26} {r['spans']:6d} {pct(r['recall_any_char'])}  {pct(r['recall_any_span'])}"
                     f"  {', '.join(r['gold_types'])}")
    lines += ["", f"{'detected kind':26} {'spans':>6} {'prec-any-chr':>12} {'prec-any-spn':>12} {'prec-typ-chr':>12}"]
    for k, r in report["by_detected_kind"].items():
        lines.append(f"{k:26} {r['spans']:6d} {pct(r['precision_any_char']):>12} {pct(r['precision_any_span']):>12}"
                     f" {pct(r['precision_typed_char']):>12}")
    lines += ["", "most frequent misses (by shape unless --show-values):"]
    for t, items in report["top_misses"].items():
        lines.append(f"  {t}: " + "; ".join(f"{v!r} x{n}" for v, n in items))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(LOADERS))
    parser.add_argument("path", type=Path)
    parser.add_argument("--passes", default="regex,ner", help="regex, ner or regex,ner")
    parser.add_argument("--policy", type=Path, help="policy YAML (default: the shipped one)")
    parser.add_argument("--model", type=Path, help="NER model folder (default: the shipped one)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--style", choices=STYLES, default="as-written",
                        help="score on the texts lower-cased (lower) or also without punctuation (asr)")
    parser.add_argument("--no-propagation", action="store_true",
                        help="score the detector alone, without the sidecar's request-wide propagation")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-values", action="store_true", help="print missed values (PHI!)")
    parser.add_argument("--latency", action="store_true",
                        help="measure latency on texts cut from the dataset instead of scoring")
    parser.add_argument("--record", type=Path, metavar="FILE",
                        help="add this run's per-category recall to FILE (e.g. models/masker-pii-ner/eval.json); "
                             "only for full regex,ner runs with propagation")
    args = parser.parse_args(argv)

    passes = {p.strip() for p in args.passes.split(",") if p.strip()}
    if not passes or passes - {"regex", "ner"}:
        parser.error("--passes takes regex, ner or regex,ner")
    if args.record and (passes != {"regex", "ner"} or args.no_propagation or args.limit is not None
                        or args.latency):
        parser.error("--record measures what the sidecar does: --passes regex,ner with propagation, "
                     "no --limit, no --latency")
    dataset = LOADERS[args.kind](args.path)
    if args.limit is not None:
        dataset.docs = dataset.docs[: args.limit]
    for doc in dataset.docs:
        doc.text = restyle(doc.text, args.style)
    if args.latency:
        print(json.dumps(measure_latency(dataset, passes, args.policy, args.model), indent=1))
        return 0
    propagate = passes != {"ner"} and not args.no_propagation
    detect = build_detector(passes, args.policy, args.model, propagate=propagate)
    predictions, seconds = run(dataset, detect)
    report = score(dataset, predictions, show_values=args.show_values)
    name = args.kind if args.style == "as-written" else f"{args.kind} ({args.style})"
    report.update({"dataset": name, "passes": ",".join(sorted(passes)), "propagation": propagate,
                   "seconds": round(seconds, 2)})
    print(json.dumps(report, indent=1) if args.json else render(report))
    if args.record:
        from masker.detect.ner import default_model_dir

        source = (args.path if args.path.is_dir() else args.path.parent).resolve().name
        write_record(args.record, report, source=source, model_dir=args.model or default_model_dir(),
                     policy=load_eval_policy(args.policy), today=time.strftime("%Y-%m-%d", time.gmtime()))
        print(f"recorded {name} in {args.record}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
