"""The ``ner`` detection pass: a token-classification ONNX model run on device.

A model directory holds ``model.onnx`` (a BERT-style token classifier with
inputs ``input_ids``, ``attention_mask`` and optionally ``token_type_ids`` and
output ``logits``), ``tokenizer.json`` (a Hugging Face ``tokenizers`` file) and
``labels.json``::

    {"labels": ["O", "B-NAME", "I-NAME", ...],   # index = logit column
     "kinds": {"NAME": "NAME", "CITY": "LOCATION", ...},  # entity -> Masker kind
     "min_confidence": {"ORGANIZATION": 0.9, ...}}  # optional, per Masker kind

Entities missing from ``kinds`` are dropped. Consecutive tokens whose entities
map to the same kind form one span, B- or I- alike (so a model that tags given
name and surname separately still yields one NAME).

Long texts are cut into overlapping token windows (``max_tokens`` including
the special tokens, ``stride`` tokens of overlap). A token seen by several
windows takes the prediction of the window in which it sits furthest from an
edge, so an entity in the overlap is reported once. Spans are built from the
tokenizer's character offsets, which index the original text even where the
normaliser lowercases or strips accents, and are widened to whole words.

A token's kind is the model's top label; the span's confidence is the
**mean**, over its tokens, of the probability the model gives to the token
being part of *any* identifier (the softmax mass of every label that maps to
a Masker kind, i.e. 1 - P(O)). The kind is the model's best guess, but
whether to mask is a question of "identifier or not": a name the model
splits between NAME, ADDRESS and ORGANIZATION at 0.5 / 0.3 / 0.15 is a name
to mask at 0.95, not an address to drop at 0.5. (Measured against the top
label's own probability: any-type recall +0.3 to +2.5 points on the three
benchmarks, precision -0.1 to -0.7.) The policy's thresholds are the
pipeline's job; these model-specific filters are applied here:

* ``min_confidence`` from ``labels.json``: a floor per kind, calibrated for
  this model (its confidence scale is a property of the model, not of a policy).
* clinical shorthand: a NAME / ORGANIZATION / LOCATION span made only of
  words in ``CLINICAL_SHORTHAND`` ("MAE", "PT/OT", "nsr"), each all upper or
  all lower case, is dropped. Title-case words are never dropped this way.
* common words: a NAME span made only of ordinary words (English words that
  are no one's name, "AWAKE", "lethargic", "S. FAMILY"; a long one-case word
  one typing slip from such a word, "duaghter"; a medicine, "Crestor";
  clinical shorthand in one case, "CSRU"; see ``masker.detect.lexicon``) is
  dropped unless a title or "name is" stands before it ("Mr. Alert") or
  another name beside it ("Ngozi S Haze"). An ORGANIZATION or LOCATION
  span of ordinary words is dropped when nothing about its writing says
  "name": no title-case word other than a medicine's, no facility word, and
  no all-caps word other than shorthand or a medicine standing in mixed-case
  text (an acronym such as "UCLA"): "my pharmacy is out of Crestor",
  "cath lab", "TRIPLE LUMEN", "the morgue", "the CSRU s/p thoracotomy".
  A facility word is no mark when the span only says what kind of place it
  is ("nursing home", "assisted living facility").
* calendar words: a DATE span with no digit, no month, weekday, holiday or
  relative day ("today") and no number word is no date ("febrile", "this
  evening", "summer").
* clock times and readings: a DATE or PHONE span that is two 24-hour clock
  times joined by a dash is a shift ("1900-0700", not "1999-2004"); a DATE
  of slashed numbers holding a decimal is a blood gas or a ventilator
  setting ("7.37/45/116", "5/5-.40").
* initials: a NAME followed by a lone letter takes it in ("john d seen at",
  "mary k."), which the model often leaves out in caseless speech text; "a"
  and "i" only before punctuation or the end of a line, "w" and "x" (with,
  times) never.
* e-mail shape: an EMAIL span must hold an "@" with no space beside it or the
  spoken "at ... dot" form (``plausible_email``); "heparin @ 800" is not one.

Only onnxruntime, tokenizers and numpy are needed at run time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from masker import metrics
from masker.detect.facility import has_facility_word, is_generic_facility
from masker.detect.lexicon import common_words, drug_words, is_misspelling
from masker.detect.numwords import NUMBER_WORDS
from masker.detect.shorthand import CLINICAL_SHORTHAND, is_shorthand
from masker.detect.spans import Span
from masker.detect.spoken import ORDINALS
from masker.kinds import ALL_KINDS

log = logging.getLogger(__name__)

# Entity kinds a clinical abbreviation is mistaken for (NAME "MAE", ORG "PT").
_SHORTHAND_KINDS = frozenset({"NAME", "ORGANIZATION", "LOCATION"})
# A courtesy title or a name cue right before a span: "Mr. Alert", "my name is
# haze" are names whatever the word. "MS" / "ms" without a period is mental
# status in a note ("MS WORSENING", "ms clears"): only "Ms" or "ms." count.
_NAME_CUE = re.compile(
    r"(?:(?<![A-Za-z])(?:(?i:mr|mrs|mx|dr|prof|miss)\.?|Ms\.?|(?i:ms)\.)|(?i:\bname(?:\s+is|'s|:)?|\bnamed))\s*$"
)
_PLACE_KINDS = frozenset({"ORGANIZATION", "LOCATION"})
_LETTERS = re.compile(r"[^\W\d_]{2,}")
# A lone letter after a name, and what may follow it: a space, punctuation or the end.
_INITIAL = re.compile(r"[ \t]([^\W\d_])(?=\s|[.,;:!?)\]]|$)")
_PAUSE = re.compile(r"[.,;:!?)\]]|\s*\n|\s*$")
# How far around an all-caps word to look for lower case (is it an acronym in prose?).
_CASE_WINDOW = 40
_FACILITY_LOOKAHEAD = 24
_CALENDAR_WORD = re.compile(
    r"(?i)(?<![a-z])(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tue(?:s(?:day)?)?"
    r"|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|today|tomorrow|yesterday"
    r"|tonight|christmas|thanksgiving|easter|halloween|hanukkah|ramadan|new\s+year'?s?)(?![a-z])"
)
# A shift or an interval written as two 24-hour clock times: "1900-0700", "0600 - 0800".
_CLOCK_RANGE = re.compile(r"\s*((?:[01]\d|2[0-3])[0-5]\d)\s*-\s*((?:[01]\d|2[0-3])[0-5]\d)\s*")
_YEAR = re.compile(r"(?:19|20)\d\d")
# Blood gases and ventilator settings: "7.37/45/116", "5/5-.40".
_DECIMAL_SLASHED = re.compile(r"[\d\s./-]*(?:\d\.\d|/\s*\.\d|-\.\d)[\d\s./-]*")
_SPOKEN_EMAIL = re.compile(r"(?i)\S\s+at\s+\S.*(?:\s+dot\s+\S|\.\w)")

MODEL_ENV = "MASKER_NER_MODEL"
SHIPPED_MODEL = "masker-pii-ner"
# Windows per onnxruntime call: bounds peak memory on very long requests.
_MAX_WINDOWS_PER_RUN = 32


def plausible_email(value: str) -> bool:
    """An e-mail span needs a written "@" with no space beside it, or the spoken
    "... at ... dot ..." form; "heparin @ 800" or a bare number is not one."""
    at = value.find("@")
    if at > 0 and at < len(value) - 1:
        return not (value[at - 1].isspace() or value[at + 1].isspace())
    return bool(_SPOKEN_EMAIL.search(value))


def default_model_dir() -> Path | None:
    """The model to load: ``$MASKER_NER_MODEL`` if set, else the shipped one.

    Returns ``None`` when neither exists (the pipeline then runs without NER).
    """
    env = os.environ.get(MODEL_ENV)
    if env:
        path = Path(env)
        return path if (path / "model.onnx").is_file() else None
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "models" / SHIPPED_MODEL
        if (candidate / "model.onnx").is_file():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class _Labels:
    """Per logit column the entity name (None for O); entity -> Masker kind;
    per kind the model's own calibrated floor (``min_confidence``, optional)."""

    entity: tuple[str | None, ...]
    kinds: dict[str, str]
    min_confidence: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> _Labels:
        data = json.loads(path.read_text(encoding="utf-8"))
        entity: list[str | None] = []
        for label in data["labels"]:
            if label == "O":
                entity.append(None)
                continue
            prefix, _, name = label.partition("-")
            if prefix not in ("B", "I") or not name:
                raise ValueError(f"labels.json: bad label at index {len(entity)}")
            entity.append(name)
        kinds = dict(data["kinds"])
        unknown = sorted(set(kinds.values()) - ALL_KINDS)
        if unknown:
            raise ValueError(f"labels.json maps to unknown kinds: {unknown}")
        min_confidence = {k: float(v) for k, v in data.get("min_confidence", {}).items()}
        return cls(tuple(entity), kinds, min_confidence)


@dataclass(slots=True)
class _Window:
    text_index: int
    ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int]]
    word_ids: list[int | None]


class NerPass:
    """Runs the token classifier over batches of texts and returns spans."""

    def __init__(
        self,
        model_dir: Path,
        *,
        providers: list[str] | None = None,
        threads: int = 2,
        spin: bool = True,
        max_tokens: int = 256,
        stride: int = 32,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if max_tokens < 16 or not 0 <= stride < max_tokens // 2:
            raise ValueError("need max_tokens >= 16 and 0 <= stride < max_tokens/2")
        model_dir = Path(model_dir)
        self._labels = _Labels.load(model_dir / "labels.json")
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens, stride=stride)
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        # logit columns whose entity becomes a Masker kind: their mass is "an identifier"
        self._identifier_columns = np.array(
            [name is not None and name in self._labels.kinds for name in self._labels.entity]
        )

        probing = providers is None and "CUDAExecutionProvider" in ort.get_available_providers()
        if providers is None:
            providers = ["CUDAExecutionProvider"] if probing else []
            providers.append("CPUExecutionProvider")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # ORT's threads spin while waiting for work: a little faster for one
        # session alone, but several sessions on shared cores (masking worker
        # processes) take CPU from each other; those turn it off (``spin``).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        options.log_severity_level = 3
        if probing:
            # A GPU build on a machine without CUDA logs a loud error before it
            # falls back to CPU; the fallback is reported below instead.
            ort.set_default_logger_severity(4)
        try:
            self._session = ort.InferenceSession(
                str(model_dir / "model.onnx"), sess_options=options, providers=providers
            )
        finally:
            if probing:
                ort.set_default_logger_severity(2)
        # get_providers() lists what the session really got: CUDA is dropped
        # when the library has it but the machine has no usable GPU.
        self.provider: str = self._session.get_providers()[0]
        self._input_names = {i.name for i in self._session.get_inputs()}
        log.info("ner model loaded from %s on %s", model_dir.name, self.provider)

    @property
    def kinds(self) -> frozenset[str]:
        """The Masker kinds this model can emit."""
        return frozenset(self._labels.kinds.values())

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans for each text, in order; one model run for the whole batch."""
        started = time.perf_counter()
        windows = self._windows(texts)
        if not windows:
            return [[] for _ in texts]
        probs: list[np.ndarray] = []
        for start in range(0, len(windows), _MAX_WINDOWS_PER_RUN):
            probs.extend(self._run(windows[start : start + _MAX_WINDOWS_PER_RUN]))
        per_text: list[dict[tuple[int, int], tuple[int, int, int, float]]] = [
            {} for _ in texts
        ]
        for window, window_probs in zip(windows, probs):
            self._collect(window, window_probs, per_text[window.text_index])
        spans = [self._decode(texts[i], per_text[i]) for i in range(len(texts))]
        metrics.ner_batch(time.perf_counter() - started, len(windows))
        return spans

    def _windows(self, texts: Sequence[str]) -> list[_Window]:
        windows: list[_Window] = []
        non_empty = [(i, t) for i, t in enumerate(texts) if t and not t.isspace()]
        if not non_empty:
            return windows
        encodings = self._tokenizer.encode_batch([t for _, t in non_empty])
        for (index, _), encoding in zip(non_empty, encodings):
            for part in [encoding, *encoding.overflowing]:
                windows.append(
                    _Window(index, part.ids, part.type_ids, part.offsets, part.word_ids)
                )
        return windows

    def _run(self, windows: list[_Window]) -> list[np.ndarray]:
        length = max(len(w.ids) for w in windows)
        ids = np.full((len(windows), length), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(windows), length), dtype=np.int64)
        types = np.zeros((len(windows), length), dtype=np.int64)
        for row, window in enumerate(windows):
            n = len(window.ids)
            ids[row, :n] = window.ids
            mask[row, :n] = 1
            types[row, :n] = window.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        (logits,) = self._session.run(["logits"], feeds)
        logits = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        softmax = exp / exp.sum(axis=-1, keepdims=True)
        return [softmax[row, : len(w.ids)] for row, w in enumerate(windows)]

    def _identifier_probability(self, probs: np.ndarray) -> np.ndarray:
        """Per token, the probability of any label that maps to a Masker kind."""
        return probs[:, self._identifier_columns].sum(axis=-1)

    def _collect(
        self,
        window: _Window,
        probs: np.ndarray,
        tokens: dict[tuple[int, int], tuple[int, int, int, float]],
    ) -> None:
        """Record (centrality, label, word, identifier probability) per token offset, best window wins."""
        labels = probs.argmax(axis=-1)
        identifier = self._identifier_probability(probs)
        content = [i for i, w in enumerate(window.word_ids) if w is not None]
        if not content:
            return
        first, last = content[0], content[-1]
        for i in content:
            start, end = window.offsets[i]
            if end <= start:
                continue
            centrality = min(i - first, last - i)
            key = (start, end)
            previous = tokens.get(key)
            if previous is None or centrality > previous[0]:
                label = int(labels[i])
                word = window.word_ids[i]
                assert word is not None  # content holds only the tokens of a word
                tokens[key] = (centrality, label, word, float(identifier[i]))

    def _decode(
        self, text: str, tokens: dict[tuple[int, int], tuple[int, int, int, float]]
    ) -> list[Span]:
        """BIO decode over tokens in text order; widen to whole words; merge.

        Offsets are keyed by character position, so tokens seen by two windows
        (whose word ids agree: tokenizers numbers words over the whole text)
        are decoded once.
        """
        entity_of = self._labels.entity
        kinds = self._labels.kinds
        raw: list[list] = []  # [start, end, kind, [probs]]
        current: list | None = None
        word_key: tuple[int, int] | None = None  # (word id, end offset of last token)
        word_start = 0
        for (start, end), (_, label, word, prob) in sorted(tokens.items()):
            same_word = word_key is not None and word_key == (word, start)
            word_key = (word, end)
            if not same_word:
                word_start = start
            name = entity_of[label]
            kind = kinds.get(name) if name is not None else None
            if same_word and current is not None:
                # A word's first tagged subword decides its kind; the rest follow.
                current[1] = end
                current[3].append(prob)
                continue
            if kind is None:
                current = None
                continue
            if current is not None and kind == current[2]:
                # Consecutive tokens of one kind form one span, whether tagged
                # I- or B- (given name + surname, or street + city parts).
                current[1] = end
                current[3].append(prob)
                continue
            current = [word_start if same_word else start, end, kind, [prob]]
            raw.append(current)
        # names the word list cannot explain, beside which a common word is a name part
        names = [(s, e) for s, e, kind, _ in raw if kind == "NAME" and not _only_ordinary_words(text[s:e])]
        spans = []
        for start, end, kind, probs in raw:
            confidence = sum(probs) / len(probs)
            if confidence < self._labels.min_confidence.get(kind, 0.0):
                continue
            if kind in _SHORTHAND_KINDS and is_shorthand(text[start:end]):
                continue
            if kind == "EMAIL" and not plausible_email(text[start:end]):
                continue
            if kind == "NAME" and _ordinary_words(text, start, end, names):
                continue
            if kind == "NAME":
                end = _with_initial(text, end)
            if kind in _PLACE_KINDS and _plain_words(text, start, end):
                continue
            if kind == "DATE" and (_no_date_words(text[start:end]) or _clinical_numbers(text[start:end])):
                continue
            if kind == "PHONE" and _clock_range(text[start:end]):
                continue
            spans.append(Span(start, end, kind, "ner", "ner", confidence))
        return spans


def _with_initial(text: str, end: int) -> int:
    """The end of a NAME widened over a lone initial after it ("mary k seen at", "John Q."),
    which the model often leaves out. "a" and "i" count only before a pause ("patient
    mary a." but not "mary a few days"); "w" and "x" (with, times) never."""
    m = _INITIAL.match(text, end)
    if m is None:
        return end
    letter = m.group(1).lower()
    if letter in "wx" or (letter in "ai" and not _PAUSE.match(text, m.end())):
        return end
    return m.end()


def _ordinary_words(text: str, start: int, end: int, names: list[tuple[int, int]]) -> bool:
    """A NAME span of common words only, with no title or name cue before it
    and no other name right beside it ("Ngozi S Haze").

    (Titles are not in the word list, so "Dr. Alert" as one span is kept too.)
    """
    if not _only_ordinary_words(text[start:end]) or _NAME_CUE.search(text[max(0, start - 12):start]):
        return False
    return not any(0 <= start - e <= 3 or 0 <= s - end <= 3 for s, e in names)


def _plain_words(text: str, start: int, end: int) -> bool:
    """An organisation or place written as ordinary words, with nothing that marks a name.

    Title case ("Cedars-Sinai"), a facility word ("sacred heart hospital")
    or an acronym in mixed-case text ("UCLA clinic") keep the span; in an
    all-caps note capitals say nothing, so only the words decide there.
    """
    value = text[start:end]
    words = [w for w in _LETTERS.findall(value) if w.lower() not in drug_words()]  # "Crestor" is no name
    if any(w[0].isupper() and not w.isupper() for w in words):
        return False
    if any(w.isupper() and w not in CLINICAL_SHORTHAND for w in words) and any(
        c.islower() for c in text[max(0, start - _CASE_WINDOW) : end + _CASE_WINDOW]
    ):
        return False
    # a facility word inside or right after it ("sacred heart" + "hosp") makes it a facility
    if not _only_ordinary_words(value):
        return False
    return is_generic_facility(value) or not has_facility_word(text[start : end + _FACILITY_LOOKAHEAD])


def _only_ordinary_words(value: str) -> bool:
    """Every word of two letters or more is a common word, a misspelt one
    ("duaghter"), a medicine ("Crestor") or clinical shorthand in one case
    ("CSRU", "gtt"); there is at least one such word."""
    words = _LETTERS.findall(value)
    return bool(words) and all(_ordinary_word(w) for w in words)


def _ordinary_word(word: str) -> bool:
    low = word.lower()
    if low in common_words() or low in drug_words():
        return True
    single_case = word.isupper() or word.islower()
    return (single_case and word.upper() in CLINICAL_SHORTHAND) or is_misspelling(word)


def _clock_range(value: str) -> bool:
    """Two 24-hour clock times joined by a dash ("1900-0700"), unless both could be years."""
    match = _CLOCK_RANGE.fullmatch(value)
    return match is not None and not (_YEAR.fullmatch(match[1]) and _YEAR.fullmatch(match[2]))


def _clinical_numbers(value: str) -> bool:
    """A DATE span that is a shift's clock times or slashed readings with a decimal ("7.37/45/116")."""
    return _clock_range(value) or ("/" in value and bool(_DECIMAL_SLASHED.fullmatch(value)))


def _no_date_words(value: str) -> bool:
    """A DATE span with no digit, calendar word or number word ("febrile", "this evening")."""
    if any(c.isdigit() for c in value) or _CALENDAR_WORD.search(value):
        return False
    return not any(w.lower() in NUMBER_WORDS or w.lower() in ORDINALS for w in _LETTERS.findall(value))
