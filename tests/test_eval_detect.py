"""scripts/eval_detect.py on tiny synthetic fixtures in the three benchmark formats."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from masker.detect.ner import default_model_dir
from masker.detect.spans import Span

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "bench"

_spec = importlib.util.spec_from_file_location("eval_detect", ROOT / "scripts" / "eval_detect.py")
ev = importlib.util.module_from_spec(_spec)
sys.modules["eval_detect"] = ev
_spec.loader.exec_module(ev)


def _span(text: str, value: str, kind: str, cut: int | None = None) -> Span:
    start = text.index(value)
    end = start + (len(value) if cut is None else cut)
    return Span(start, end, kind, "ner", "ner", 0.9)


def test_loaders_read_the_three_formats() -> None:
    phys = ev.load_physionet(FIXTURES / "physionet")
    assert len(phys.docs) == 2
    assert [t for _, _, t in phys.docs[0].gold] == ["HCPName", "RelativeProxyName", "Phone"]
    doc = phys.docs[0]
    assert [doc.text[s:e] for s, e, _ in doc.gold][2] == "617-555-0199"

    asq = ev.load_asq(FIXTURES / "asq")
    assert len(asq.docs) == 2 and asq.docs[1].gold == []
    assert {t for _, _, t in asq.docs[0].gold} == {"NAME", "GEOGRAPHIC_LOCATION", "MEDICAL_RECORD_NUMBER"}
    assert asq.unlocated == {"NAME": 1}

    pres = ev.load_presidio(FIXTURES / "presidio")
    assert [len(d.gold) for d in pres.docs] == [2, 0]


def test_score_computes_known_recall_and_precision() -> None:
    data = ev.load_physionet(FIXTURES / "physionet")
    first, second = (d.text for d in data.docs)
    predictions = [
        # the HCP name found with the wrong kind, the phone only in part, the relative missed
        [_span(first, "HOLLOWAY", "LOCATION"), _span(first, "617-555-0199", "PHONE", cut=7)],
        [_span(second, "BP", "NAME")],  # a false positive
    ]
    report = ev.score(data, predictions)
    o = report["overall"]
    # gold letters/digits: 8 + 6 + 10 = 24; caught 8 + 6 = 14; typed only the 6 phone digits
    assert o["recall_any_char"] == round(14 / 24, 4)
    assert o["recall_any_span"] == round(1 / 3, 4)
    assert o["recall_typed_char"] == 0.25
    # detected letters/digits: 8 + 6 + 2 = 16, of which 14 in gold; 2 of 3 spans overlap gold
    assert o["precision_any_char"] == 0.875
    assert o["precision_any_span"] == round(2 / 3, 4)
    assert o["precision_typed_char"] == round(6 / 16, 4)
    assert report["by_gold_type"]["Phone"]["recall_any_span"] == 0.0
    assert report["by_gold_type"]["HCPName"]["recall_typed_span"] == 0.0
    # misses are shown by shape, never by value, unless asked
    assert report["top_misses"]["RelativeProxyName"] == [("XX", 1)]
    shown = ev.score(data, predictions, show_values=True)
    assert shown["top_misses"]["RelativeProxyName"] == [("MARGIT", 1)]


def test_titles_are_trimmed_and_excluded_types_are_neutral() -> None:
    text = "Dr. Quell saw him in 2019."
    data = ev.Dataset([ev.Doc(text, [(0, 9, "PERSON"), (21, 25, "DateYear")])])
    assert data.docs[0].gold[0][:2] == (4, 9)
    report = ev.score(data, [[_span(text, "Quell", "NAME"), _span(text, "2019", "DATE")]])
    assert report["overall"]["recall_any_span"] == 1.0
    assert report["overall"]["precision_any_char"] == 1.0  # the year is neither right nor wrong


@pytest.mark.skipif(default_model_dir() is None, reason="no shipped NER model")
def test_cli_runs_the_shipped_model_on_a_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert ev.main(["presidio", str(FIXTURES / "presidio"), "--passes", "ner", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["docs"] == 2 and report["passes"] == "ner"
    # the name and the street address are both fully masked by the model
    assert report["by_gold_type"]["PERSON"]["recall_any_span"] == 1.0
    assert report["by_gold_type"]["STREET_ADDRESS"]["recall_any_span"] == 1.0
    assert "Tobias" not in json.dumps(report)


def test_restyled_text_keeps_every_offset() -> None:
    text = "Jane Doe, (415) 555-0100. İstanbul!"
    assert ev.restyle(text, "as-written") == text
    assert ev.restyle(text, "lower") == "jane doe, (415) 555-0100. İstanbul!"
    asr = ev.restyle(text, "asr")
    assert asr == "jane doe   415  555-0100  İstanbul "
    assert len(asr) == len(text)


def test_cli_scores_the_asr_style(capsys: pytest.CaptureFixture[str]) -> None:
    assert ev.main(["presidio", str(FIXTURES / "presidio"), "--passes", "ner", "--style", "asr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "presidio (asr)"
    # the uncased model still masks the lower-cased name in full
    assert report["by_gold_type"]["PERSON"]["recall_any_span"] == 1.0


def test_each_document_is_scored_as_one_request_with_propagation() -> None:
    note = "MRN 4839201 seen. Recheck 4839201 labs."
    other = "Recheck 4839201 labs."  # another request: the value is not known there
    second = note.rindex("4839201")
    alone, propagated = (
        ev.build_detector({"regex"}, None, None, propagate=p)([note, other]) for p in (False, True)
    )
    assert not any(s.start <= second < s.end for s in alone[0])
    assert any(s.start <= second < s.end and s.kind == "MRN" for s in propagated[0])
    assert propagated[1] == alone[1] == []


def test_cli_says_whether_it_propagated(capsys: pytest.CaptureFixture[str]) -> None:
    for flags, expected in (([], True), (["--no-propagation"], False)):
        assert ev.main(["asq", str(FIXTURES / "asq"), "--passes", "regex", "--json", *flags]) == 0
        assert json.loads(capsys.readouterr().out)["propagation"] is expected


# -- per-category recall and the evaluation record (issue #21) -----------------------------------------------


def test_every_gold_type_has_a_category() -> None:
    from masker.kinds import SAFE_HARBOR_CATEGORIES

    assert set(ev.TYPE_KINDS) <= set(ev.GOLD_CATEGORY)  # excluded types (not PHI) need none
    assert set(ev.GOLD_CATEGORY.values()) <= {*SAFE_HARBOR_CATEGORIES, "PCI", ev.UNPOOLED}


def test_score_pools_gold_types_per_category() -> None:
    data = ev.load_physionet(FIXTURES / "physionet")
    first, second = (d.text for d in data.docs)
    predictions = [[_span(first, "HOLLOWAY", "LOCATION"), _span(first, "617-555-0199", "PHONE", cut=7)],
                   [_span(second, "BP", "NAME")]]
    by_cat = ev.score(data, predictions)["by_category"]
    # A pools HCPName (caught, wrong kind: still caught) and RelativeProxyName (missed); D is the cut phone
    assert by_cat["A"] == {"spans": 2, "gold_types": ["HCPName", "RelativeProxyName"],
                           "recall_any_char": round(8 / 14, 4), "recall_any_span": 0.5}
    assert by_cat["D"]["recall_any_span"] == 0.0 and by_cat["D"]["recall_any_char"] == 0.6


def _report(dataset: str, recall_a: float) -> dict:
    return {"dataset": dataset, "passes": "ner,regex", "propagation": True, "docs": 2, "seconds": 0.1,
            "overall": {"spans": 4}, "excluded_types": ["DateYear"],
            "by_category": {"A": {"spans": 4, "gold_types": ["NAME"], "recall_any_char": recall_a,
                                  "recall_any_span": recall_a}}}


def test_record_merges_sets_of_one_model_and_replaces_another(tmp_path: Path) -> None:
    from dataclasses import replace

    from masker.policy import recall
    from masker.policy.load import default_policy_path, load_policy

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"weights-1")
    (model / "tokenizer.json").write_text("{}")
    policy = load_policy(default_policy_path())
    path = model / recall.RECORD_FILE
    ev.write_record(path, _report("asq", 0.9), source="asq_phi", model_dir=model, policy=policy, today="2026-12-01")
    ev.write_record(path, _report("presidio", 0.8), source="presidio_research", model_dir=model, policy=policy,
                    today="2026-12-02")
    record = recall.load_record(model)
    assert record["model"]["id"] == recall.model_id(model) and record["policy"]["hash"] == policy.hash
    assert recall.category_recall(record, "A") == [
        {"set": "asq", "spans": 4, "recall": 0.9, "measured_at": "2026-12-01"},
        {"set": "presidio", "spans": 4, "recall": 0.8, "measured_at": "2026-12-02"},
    ]
    # another policy: the old sets were not measured with it and go
    other = replace(policy, hash="f" * 64)
    ev.write_record(path, _report("asq", 0.7), source="asq_phi", model_dir=model, policy=other, today="2026-12-03")
    assert list(recall.load_record(model)["sets"]) == ["asq"]
    # new weights: the record no longer applies to the model in use
    (model / "model.onnx").write_bytes(b"weights-2")
    reason = recall.applicability(recall.load_record(model), recall.model_id(model), other.hash)
    assert reason == "the evaluation record was measured with another NER model"


def test_coverage_shows_recall_only_for_the_model_and_policy_measured() -> None:
    from masker.policy.coverage import with_measured_recall

    record = {"schema": "masker-eval-record-v1", "model": {"id": "sha256:m"}, "policy": {"name": "p", "hash": "h"},
              "sets": {"asq": {"measured_at": "2026-12-03", "categories": {"A": {"spans": 10, "recall_any_span": 0.9}}}}}
    matrix = {"A": {"status": "full"}, "Q": {"status": "blocked"}}
    shown = with_measured_recall(matrix, record, "sha256:m", "h")
    assert shown["A"]["status"] == "full"
    assert shown["A"]["recall"]["measured"] == [{"set": "asq", "spans": 10, "recall": 0.9, "measured_at": "2026-12-03"}]
    assert shown["Q"]["recall"] == {"metric": "recall_any_span", "measured": [],
                                    "note": "not measured: no benchmark set has values of this category"}
    for args, why in (((record, "sha256:other", "h"), "another NER model"), ((record, "sha256:m", "h2"), "another policy (p)"),
                      ((None, "sha256:m", "h"), "no evaluation record")):
        entry = with_measured_recall(matrix, *args)["A"]["recall"]
        assert entry["measured"] == [] and why in entry["note"]


def test_record_refuses_partial_runs(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        ev.main(["asq", str(FIXTURES / "asq"), "--limit", "1", "--record", str(tmp_path / "eval.json")])
    with pytest.raises(SystemExit):
        ev.main(["asq", str(FIXTURES / "asq"), "--passes", "regex", "--record", str(tmp_path / "eval.json")])
    assert not (tmp_path / "eval.json").exists()


def test_the_shipped_record_matches_the_shipped_model_and_policy() -> None:
    from masker.policy import recall
    from masker.policy.load import default_policy_path, load_policy

    model = default_model_dir()
    if model is None:
        pytest.skip("no shipped NER model")
    record = recall.load_record(model)
    assert record is not None, "models/<model>/eval.json is missing: run scripts/eval_detect.py --record"
    assert recall.applicability(record, recall.model_id(model), load_policy(default_policy_path()).hash) is None
    assert set(record["sets"]) == {"asq", "physionet", "presidio"}
    assert record["passes"] == "ner,regex" and record["propagation"] is True
