"""NerPass with the shipped model: exact offsets, windowing, batching."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnxruntime
import pytest

from masker.detect.ner import MODEL_ENV, NerPass, default_model_dir, plausible_email
from masker.detect.ner.filters import (
    _clinical_numbers,
    _clock_range,
    _no_date_words,
    _with_initial,
    _with_surname,
    screen,
    without_fillers,
)
from masker.detect.ner.model import RawSpan
from masker.detect.vocab.shorthand import is_shorthand
from masker.kinds import ALL_KINDS

MODEL = default_model_dir()
pytestmark = pytest.mark.skipif(MODEL is None, reason="no shipped NER model")


@pytest.fixture(scope="module")
def ner() -> NerPass:
    return NerPass(MODEL)


def _found(text: str, spans) -> set[tuple[str, str]]:
    return {(s.kind, text[s.start : s.end]) for s in spans}


def test_session_and_kinds(ner: NerPass) -> None:
    assert ner.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert {"NAME", "LOCATION", "ORGANIZATION", "DATE"} <= ner.kinds <= ALL_KINDS


def test_name_city_org_with_exact_offsets(ner: NerPass) -> None:
    text = "Yesterday Harriet Okonkwo drove from Milwaukee to see Dr. Patel at Lakeshore Medical Center."
    spans = ner.detect_batch([text])[0]
    found = _found(text, spans)
    assert ("NAME", "Harriet Okonkwo") in found
    assert ("LOCATION", "Milwaukee") in found
    assert ("ORGANIZATION", "Lakeshore Medical Center") in found
    name = next(s for s in spans if text[s.start : s.end] == "Harriet Okonkwo")
    assert (name.start, name.end) == (10, 25)
    assert name.pass_name == "ner" and name.detector == "ner"
    assert 0.5 < name.confidence <= 1.0


def test_a_name_whose_kind_the_model_is_unsure_of_is_still_a_confident_identifier(ner: NerPass) -> None:
    # "neighbour" (British spelling) makes the model split the name between
    # ADDRESS, ORGANIZATION and NAME; its top label alone has about 0.5.
    # (Round 7 splits it into two spans of different kinds: the value must
    # still be covered, every character, by confident spans.)
    text = "My neighbour Margaret Oyelaran drove me to the clinic."
    start = text.index("Margaret Oyelaran")
    end = start + len("Margaret Oyelaran")
    spans = [s for s in ner.detect_batch([text])[0] if s.start < end and s.end > start]
    covered = {i for s in spans for i in range(s.start, s.end)}
    assert spans and all(s.confidence > 0.9 for s in spans)
    assert all(i in covered for i in range(start, end) if text[i] != " ")


def test_plain_words_get_a_low_identifier_confidence(ner: NerPass) -> None:
    text = "The patient tolerated the procedure well and was discharged home in stable condition."
    assert all(s.confidence < 0.6 for s in ner.detect_batch([text])[0])


def test_offsets_exact_on_accented_and_hyphenated_names(ner: NerPass) -> None:
    text = "Please call Zoë Núñez-Müller back about her refill."
    found = _found(text, ner.detect_batch([text])[0])
    assert ("NAME", "Zoë Núñez-Müller") in found


def test_name_beyond_first_window_found_once() -> None:
    small = NerPass(MODEL, max_tokens=48, stride=12)
    filler = "The patient tolerated the procedure well and vitals remained stable overnight. " * 12
    text = filler + "Her daughter Rosalind Achterberg will visit tomorrow. " + filler
    spans = small.detect_batch([text])[0]
    names = [s for s in spans if text[s.start : s.end] == "Rosalind Achterberg"]
    assert len(names) == 1 and names[0].kind == "NAME"
    assert len({(s.start, s.end) for s in spans}) == len(spans)
    assert all(s.start >= len(filler) for s in spans)  # nothing invented in the filler


def test_batch_equals_one_by_one(ner: NerPass) -> None:
    texts = [
        "my name is darnell whitaker and i live in tucson",
        "",
        "Seen at Brookhaven Clinic on March 3, 2021 by Dr. Ivana Petrovic.",
        "Take two tablets of ibuprofen every six hours.",
    ]
    batch = ner.detect_batch(texts)
    single = [ner.detect_batch([t])[0] for t in texts]
    assert [[(s.start, s.end, s.kind) for s in b] for b in batch] == [
        [(s.start, s.end, s.kind) for s in x] for x in single
    ]
    # int8 dynamic quantisation scales activations per batch, so probabilities
    # may move in the third decimal; spans and kinds must not.
    for b, x in zip(batch, single):
        assert all(abs(p.confidence - q.confidence) < 0.02 for p, q in zip(b, x))
    assert batch[1] == []


def test_hard_negative_has_no_spans(ner: NerPass) -> None:
    text = "Give 500 mg of metformin twice daily, BP 128/82, HR 74."
    assert ner.detect_batch([text]) == [[]]


def test_default_model_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MODEL_ENV, str(MODEL))
    assert default_model_dir() == MODEL
    monkeypatch.setenv(MODEL_ENV, str(tmp_path))
    assert default_model_dir() is None


def test_labels_must_map_to_known_kinds(tmp_path: Path) -> None:
    for name in ("model.onnx", "tokenizer.json"):
        (tmp_path / name).symlink_to(MODEL / name)
    (tmp_path / "labels.json").write_text(json.dumps({"labels": ["O", "B-X", "I-X"], "kinds": {"X": "NOPE"}}))
    with pytest.raises(ValueError, match="unknown kinds"):
        NerPass(tmp_path)


@pytest.mark.parametrize("value", ["MAE", "nsr", "PT/OT", "A&OX3", "PICC", "D/C", "MICU SICU"])
def test_clinical_shorthand_recognised(value: str) -> None:
    assert is_shorthand(value)


@pytest.mark.parametrize("value", ["Ed", "Mae", "Okonkwo", "MAE SMITH", "Pt", "NWH", "DC", ""])
def test_names_and_title_case_are_not_shorthand(value: str) -> None:
    # Title case is kept even when it spells an abbreviation ("Mae", "Pt").
    assert not is_shorthand(value)


def test_all_caps_nursing_note_yields_no_name_org_or_place(ner: NerPass) -> None:
    text = ("TRANSFERRED TO MICU FROM OSH. NEURO: A&OX3, MAE, PERRL. CV: NSR 80S, SBP 110-130, "
            "K 3.9 REPLETED. RESP: LS CLEAR, SATS 98% ON 2L NC. PLAN: PT/OT CONSULT, OOB TO CHAIR.")
    kinds = {s.kind for s in ner.detect_batch([text])[0]}
    assert not kinds & {"NAME", "ORGANIZATION", "LOCATION"}


def test_shorthand_filter_keeps_a_real_name_in_caps_note(ner: NerPass) -> None:
    text = "PT SEEN BY DR. OKONKWO, WIFE MARGARET AT BEDSIDE. MAE, NSR."
    found = _found(text, ner.detect_batch([text])[0])
    assert ("NAME", "OKONKWO") in found and ("NAME", "MARGARET") in found
    assert not any(value in ("PT", "MAE", "NSR") for _, value in found)


def test_min_confidence_from_labels_json_drops_low_spans(tmp_path: Path) -> None:
    for name in ("model.onnx", "tokenizer.json"):
        (tmp_path / name).symlink_to(MODEL / name)
    labels = json.loads((MODEL / "labels.json").read_text())
    labels["min_confidence"] = {"NAME": 1.01}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    text = "Yesterday Harriet Okonkwo drove from Milwaukee to see Dr. Patel."
    kinds = {s.kind for s in NerPass(tmp_path).detect_batch([text])[0]}
    assert "NAME" not in kinds and "LOCATION" in kinds


@pytest.mark.parametrize(("value", "ok"), [
    ("j.okafor@gmail.com", True),
    ("john dot okafor at gmail dot com", True),
    ("JOHN OKAFOR AT GMAIL.COM", True),
    ("heparin @ 800", False),
    ("NS @ 75", False),
    ("4521", False),
])
def test_email_spans_need_an_email_shape(value: str, ok: bool) -> None:
    assert plausible_email(value) is ok


def test_drip_rate_with_at_sign_is_not_an_email(ner: NerPass) -> None:
    text = "Heparin @ 800 units/hr, NS @ 75 cc/hr, labs @ 0400. Email results to j.okafor@gmail.com"
    emails = [text[s.start : s.end] for s in ner.detect_batch([text])[0] if s.kind == "EMAIL"]
    assert emails == ["j.okafor@gmail.com"]


class _FakeOrt:
    """Stands in for onnxruntime: records the providers a session asks for, grants ``granted``."""

    SessionOptions = onnxruntime.SessionOptions

    def __init__(self, available: list[str], granted: list[str]) -> None:
        self.available, self.granted, self.requested = available, granted, None
        self.severities: list[int] = []

    def get_available_providers(self) -> list[str]:
        return self.available

    def set_default_logger_severity(self, level: int) -> None:
        self.severities.append(level)

    def InferenceSession(self, path, sess_options=None, providers=None):  # noqa: N802 - onnxruntime's name
        self.requested = providers
        granted = self.granted

        class _Session:
            def get_providers(self):
                return granted

            def get_inputs(self):
                return []

        return _Session()


@pytest.mark.parametrize(
    ("available", "granted", "provider"),
    [
        (["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"], "CUDAExecutionProvider"),
        # a GPU build on a machine without a usable GPU: onnxruntime drops CUDA; reported as CPU
        (["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"], "CPUExecutionProvider"),
        (["CPUExecutionProvider"], ["CPUExecutionProvider"], "CPUExecutionProvider"),
    ],
)
def test_cuda_is_asked_for_when_the_build_has_it_and_the_granted_provider_is_reported(
    monkeypatch: pytest.MonkeyPatch, available: list[str], granted: list[str], provider: str
) -> None:
    fake = _FakeOrt(available, granted)
    monkeypatch.setitem(sys.modules, "onnxruntime", fake)
    ner = NerPass(MODEL)
    assert ner.provider == provider
    cuda_built = "CUDAExecutionProvider" in available
    assert fake.requested == (["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda_built else ["CPUExecutionProvider"])
    if cuda_built:  # the noisy fallback error is muted while probing, and the level restored after
        assert fake.severities == [4, 2]


@pytest.mark.parametrize(("value", "dateless"), [
    ("febrile", True),  # "feb" inside a word is no month
    ("this evening", True),
    ("summer", True),
    ("sept", False),
    ("March third", False),
    ("nineteen eighty two", False),  # a spoken year
    ("the twenty-first", False),
    ("Christmas", False),
    ("last Tuesday", False),
    ("5/5", False),
])
def test_a_date_needs_a_digit_a_calendar_word_or_a_number_word(value: str, dateless: bool) -> None:
    assert _no_date_words(value) is dateless


@pytest.mark.parametrize(("value", "reading"), [
    ("1900-0700", True),  # a night shift
    ("0600 - 0800", True),
    ("7.37/45/116", True),  # a blood gas
    ("5/5-.40", True),  # ventilator settings
    ("1999-2004", False),  # two years
    ("10/5/50", False),  # could be 5 October 1950
    ("12/03/2019", False),
    ("March 3", False),
])
def test_shift_times_and_slashed_readings_are_no_date(value: str, reading: bool) -> None:
    assert _clinical_numbers(value) is reading


@pytest.mark.parametrize(("value", "shift"), [
    ("1900 - 0700", True),
    ("617-555-0142", False),
    ("1999-2004", False),
])
def test_a_shift_is_no_phone_number(value: str, shift: bool) -> None:
    assert _clock_range(value) is shift


@pytest.mark.parametrize(("text", "name", "widened"), [
    ("pt is john d seen at st marys", "john", "john d"),
    ("patient mary k", "mary", "mary k"),
    ("patient name mary a. seen at stanford", "mary", "mary a"),
    ("spoke with mary a few days ago", "mary", "mary"),  # an article, not an initial
    ("i told mary i would call", "mary", "mary"),
    ("DR. BAKAITIS W IMPROVED FILLING", "DR. BAKAITIS", "DR. BAKAITIS"),  # "w" is "with" in notes
    ("john d'souza called", "john", "john"),  # no lone letter: a surname follows
    ("mary k9 unit", "mary", "mary"),
])
def test_a_lone_initial_after_a_name_joins_it(text: str, name: str, widened: str) -> None:
    start = text.index(name)
    span = RawSpan(start, start + len(name), "NAME", 0.9, start + len(name))
    assert text[start : _with_initial(text, span)] == widened


@pytest.mark.parametrize(("text", "name", "widened"), [
    ("Call Maria Lopez tomorrow.", "Maria", "Maria Lopez"),
    ("call maria lopez tomorrow", "maria", "maria lopez"),
    ("ask JOHN OKAFOR first", "JOHN", "JOHN OKAFOR"),
    ("Tell Priya congrats on the job", "Priya", "Priya"),  # another case: no surname
    ("Tell Priya Congrats on the job", "Priya", "Priya"),  # a common word
    ("remind Grace Monday", "Grace", "Grace"),  # a calendar word
    ("email Kofi Mensah today", "Kofi", "Kofi Mensah"),
    ("call Ana Two", "Ana", "Ana"),  # a number word
    ("paging Ana R2D2", "Ana", "Ana"),  # not letters
    ("Call Maria\nLopez", "Maria", "Maria"),  # a line break is no space inside a name
])
def test_the_word_the_model_leaned_towards_joins_a_name_when_it_could_be_a_surname(
    text: str, name: str, widened: str
) -> None:
    start = text.index(name)
    end = start + len(name)
    tail = end + 1 + len(text[end + 1 :].split(maxsplit=1)[0])
    assert text[start : _with_surname(text, RawSpan(start, end, "NAME", 0.9, tail))] == widened
    # no tail from the decoder: nothing is added whatever the word
    assert _with_surname(text, RawSpan(start, end, "NAME", 0.9, end)) == end


@pytest.mark.parametrize(("text", "decoded", "kept"), [
    ("my name is uh Dmitri Volkonsky", "uh Dmitri Volkonsky", "Dmitri Volkonsky"),
    ("it's um, Rosa Delgado", "um, Rosa Delgado", "Rosa Delgado"),
    ("call Rosa uh tomorrow", "Rosa uh", "Rosa"),
    ("Uh Rosa Delgado called", "Uh Rosa Delgado", "Rosa Delgado"),
    ("the number is uh 555 1212", "uh 555 1212", "555 1212"),
    ("they took him to Mercy ER", "Mercy ER", "Mercy ER"),  # all caps: the emergency room, no filler
    ("Rosa Delgado", "Rosa Delgado", "Rosa Delgado"),
    ("so um hmm okay", "um hmm", None),  # nothing but fillers
])
def test_speech_fillers_are_trimmed_from_a_span(text: str, decoded: str, kept: str | None) -> None:
    start = text.index(decoded)
    span = RawSpan(start, start + len(decoded), "NAME", 0.9, start + len(decoded))
    trimmed = without_fillers(text, span)
    assert (trimmed and text[trimmed.start : trimmed.end]) == kept


def test_the_filters_judge_the_trimmed_span() -> None:
    text = "my name is uh Dmitri Volkonsky"
    start = text.index("uh")
    [span] = screen(text, [RawSpan(start, len(text), "NAME", 0.9, len(text))], {})
    assert text[span.start : span.end] == "Dmitri Volkonsky"
    assert screen("so um hmm okay", [RawSpan(3, 9, "NAME", 0.9, 9)], {}) == []


def test_the_decoder_offers_the_next_word_only_above_the_continuation_floor(tmp_path: Path) -> None:
    text = "Call Maria Lopez tomorrow."
    for name in ("model.onnx", "tokenizer.json"):
        (tmp_path / name).symlink_to(MODEL / name)
    labels = json.loads((MODEL / "labels.json").read_text())
    shipped = NerPass(MODEL).detect_batch([text])[0]
    assert ("NAME", "Maria Lopez") in _found(text, shipped)
    labels["continuation"] = {"NAME": 1.01}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    assert ("NAME", "Maria") in _found(text, NerPass(tmp_path).detect_batch([text])[0])
    labels["continuation"] = {"NAME": 0.0}  # every next word is offered; the filters still refuse "tomorrow"
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    found = _found("Call Maria tomorrow.", NerPass(tmp_path).detect_batch(["Call Maria tomorrow."])[0])
    assert found == {("NAME", "Maria")}


def test_the_model_name_takes_its_initial_in_caseless_speech(ner: NerPass) -> None:
    text = "follow up for a 58 year old female jennifer k seen at our clinic on july second"
    [spans] = ner.detect_batch([text])
    assert ("NAME", "jennifer k") in _found(text, spans)


def _transcript(turns: int) -> str:
    lines = [
        "caller said her husband Tomasz Wierzbicki picks up the refill on thursday.",
        "agent confirmed the pharmacy on Larkin Avenue and read back the order.",
        "caller asked whether the copay changed since the last visit in March.",
        "agent explained the plan and offered a callback from nurse Adaeze Umeh.",
    ]
    return " ".join(lines[i % len(lines)] + f" (turn {i})" for i in range(turns))


def test_a_grown_transcript_runs_only_its_new_windows_and_gives_the_same_spans() -> None:
    cached = NerPass(MODEL, cache_windows=64)
    fresh = NerPass(MODEL, cache_windows=0)
    first, grown = _transcript(40), _transcript(44)
    assert cached._model.decode_batch([first]).run >= 3  # a long text: several windows
    decoded = cached._model.decode_batch([grown])
    assert 0 < decoded.run < decoded.windows  # the windows before the new turns came from the cache
    # each window runs alone, so cached and fresh predictions are the same numbers
    assert cached.detect_batch([grown])[0] == fresh.detect_batch([grown])[0]
    assert cached._model.decode_batch([grown]).run == 0


def test_a_text_gets_the_same_spans_alone_and_beside_others() -> None:
    ner = NerPass(MODEL, cache_windows=0)
    text = _transcript(12)
    [alone] = ner.detect_batch([text])
    assert ner.detect_batch(["Harriet Okonkwo called.", text, "ok"])[1] == alone


def test_a_window_twice_in_one_batch_is_run_once() -> None:
    ner = NerPass(MODEL, cache_windows=0)
    text = "Please call Harriet Okonkwo back tomorrow."
    decoded = ner._model.decode_batch([text, text, ""])
    assert (decoded.windows, decoded.run) == (2, 1)
    assert decoded.spans[0] == decoded.spans[1] and decoded.spans[2] == []
