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
