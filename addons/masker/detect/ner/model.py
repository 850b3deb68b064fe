"""The token classifier: labels, tokenizer and onnxruntime session; windows, runs, BIO decoding.

A model directory holds ``model.onnx`` (a BERT-style token classifier with
inputs ``input_ids``, ``attention_mask`` and optionally ``token_type_ids`` and
output ``logits``), ``tokenizer.json`` (a Hugging Face ``tokenizers`` file) and
``labels.json``::

    {"labels": ["O", "B-NAME", "I-NAME", ...],   # index = logit column
     "kinds": {"NAME": "NAME", "CITY": "LOCATION", ...},  # entity -> Masker kind
     "min_confidence": {"ORGANIZATION": 0.9, ...},  # optional, per Masker kind
     "continuation": {"NAME": 0.1}}  # optional: floor for the word after a span (RawSpan.tail)

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
benchmarks, precision -0.1 to -0.7.)

Each window is run on its own, never padded into a batch with others: the
shipped model is int8 with *dynamic* quantisation, which scales activations
per run over the whole input tensor, so in a batch a window's prediction
depended on its neighbours and their padding (measured on a 44-turn
transcript batched with another text: confidences moved by up to 0.2 and
one word changed kind). Alone, a window's prediction is a function of its
token ids, which is what lets ``masker.detect.ner.window_cache`` return it
for the same window in a later request. The cost is small on CPU: eight
256-token windows took 205.5 ms one by one against 199.6 ms batched (2
threads); sixteen 48-token windows 53.7 against 34.6 ms, a case the window
cache makes rare (a resent history runs only its new turn).

Decoding gives raw spans, before the post-decoding filters
(``masker.detect.ner.filters``). Only onnxruntime, tokenizers and numpy are
needed at run time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from masker.detect.ner.window_cache import DEFAULT_MAX_WINDOWS, Prediction, WindowCache, window_key
from masker.kinds import ALL_KINDS

# The pass's one logger, under the package's name (operators and tests filter on it).
log = logging.getLogger("masker.detect.ner")

MODEL_ENV = "MASKER_NER_MODEL"
SHIPPED_MODEL = "masker-pii-ner"


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


class RawSpan(NamedTuple):
    """A decoded entity before the filters: ``text[start:end]`` is ``kind``.

    ``tail`` is the end of the next word when the model gave it, untagged, a
    probability of being an identifier of at least the kind's ``continuation``
    floor (a surname it was unsure of); ``end`` when there is none. The word is
    not in ``confidence``.
    """

    start: int
    end: int
    kind: str
    confidence: float
    tail: int


@dataclass(frozen=True, slots=True)
class Labels:
    """Per logit column the entity name (None for O); entity -> Masker kind;
    per kind the model's own calibrated floor (``min_confidence``, optional) and
    the floor for the untagged word after a span (``continuation``, optional)."""

    entity: tuple[str | None, ...]
    kinds: dict[str, str]
    min_confidence: dict[str, float]
    continuation: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> Labels:
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
        floors = {
            key: {k: float(v) for k, v in data.get(key, {}).items()} for key in ("min_confidence", "continuation")
        }
        unknown = sorted((set(floors["min_confidence"]) | set(floors["continuation"])) - ALL_KINDS)
        if unknown:
            raise ValueError(f"labels.json has floors for unknown kinds: {unknown}")
        return cls(tuple(entity), kinds, floors["min_confidence"], floors["continuation"])


@dataclass(slots=True)
class _Word:
    """One word of the text: its offsets, kind (None: untagged), the identifier
    probabilities of its tagged subwords and of all of them; ``late``: its first
    subword is untagged and a later one is not (such a word starts a span of its own)."""

    start: int
    end: int
    kind: str | None
    probs: list[float]
    all_probs: list[float]
    late: bool = False


@dataclass(slots=True)
class _Window:
    text_index: int
    ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int]]
    word_ids: list[int | None]


# Per token offset: (centrality in its window, label column, word id, identifier probability).
_Tokens = dict[tuple[int, int], tuple[int, int, int, float]]


class Decoded(NamedTuple):
    """Raw spans per text, the windows those texts make and how many of them the model ran (the rest were cached)."""

    spans: list[list[RawSpan]]
    windows: int
    run: int


class NerModel:
    """A loaded model directory: tokenizes, runs the session once per new window, decodes to raw spans."""

    def __init__(
        self,
        model_dir: Path,
        *,
        providers: list[str] | None,
        threads: int,
        spin: bool,
        max_tokens: int,
        stride: int,
        cache_windows: int = DEFAULT_MAX_WINDOWS,
    ) -> None:
        """``cache_windows``: predictions of that many token windows are kept (0: none)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if max_tokens < 16 or not 0 <= stride < max_tokens // 2:
            raise ValueError("need max_tokens >= 16 and 0 <= stride < max_tokens/2")
        model_dir = Path(model_dir)
        self.labels = Labels.load(model_dir / "labels.json")
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens, stride=stride)
        self._cache = WindowCache(cache_windows) if cache_windows > 0 else None
        # logit columns whose entity becomes a Masker kind: their mass is "an identifier"
        self._identifier_columns = np.array(
            [name is not None and name in self.labels.kinds for name in self.labels.entity]
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

    def decode_batch(self, texts: Sequence[str]) -> Decoded:
        """Raw spans for each text, in order; only windows not seen before reach the model."""
        windows = self._windows(texts)
        predictions, run = self._predict(windows)
        per_text: list[_Tokens] = [{} for _ in texts]
        for window, prediction in zip(windows, predictions):
            self._collect(window, prediction, per_text[window.text_index])
        return Decoded([self._decode(tokens) for tokens in per_text], len(windows), run)

    def _predict(self, windows: list[_Window]) -> tuple[list[Prediction], int]:
        """One prediction per window, and how many windows the model ran: a cached window is
        not run, a window that occurs twice in ``windows`` is run once."""
        found: dict[bytes, Prediction] = {}
        keys = [window_key(w.ids, w.type_ids) for w in windows]
        run = 0
        for key, window in zip(keys, windows):
            if key in found:
                continue
            cached = self._cache.get(key) if self._cache is not None else None
            if cached is None:
                cached = self._run(window)
                run += 1
                if self._cache is not None:
                    self._cache.put(key, cached)
            found[key] = cached
        return [found[key] for key in keys], run

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

    def _run(self, window: _Window) -> Prediction:
        """The model on one window (unpadded, so the result depends on this window alone)."""
        feeds = {
            "input_ids": np.asarray([window.ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(window.ids)), dtype=np.int64),
            "token_type_ids": np.asarray([window.type_ids], dtype=np.int64),
        }
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        (logits,) = self._session.run(["logits"], feeds)
        logits = logits[0] - logits[0].max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        softmax = exp / exp.sum(axis=-1, keepdims=True)
        # per token, the probability of any label that maps to a Masker kind
        identifier = softmax[:, self._identifier_columns].sum(axis=-1).astype(np.float32)
        return Prediction(softmax.argmax(axis=-1).astype(np.int16), identifier)

    def _collect(self, window: _Window, prediction: Prediction, tokens: _Tokens) -> None:
        """Record (centrality, label, word, identifier probability) per token offset, best window wins."""
        labels, identifier = prediction
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

    def _decode(self, tokens: _Tokens) -> list[RawSpan]:
        """BIO decode over the words of the text; merge; find each span's tail.

        Offsets are keyed by character position, so tokens seen by two windows
        (whose word ids agree: tokenizers numbers words over the whole text)
        are decoded once. Consecutive words of one kind form one span, whether
        tagged I- or B- (given name + surname, or street + city parts). A
        span's confidence is the mean identifier probability of its tagged
        tokens.
        """
        words = self._words(tokens)
        raw: list[list] = []  # [start, end, kind, [probs], index of the span's last word]
        current: list | None = None
        for index, word in enumerate(words):
            if word.kind is None:
                current = None
            elif current is not None and word.kind == current[2] and not word.late:
                current[1] = word.end
                current[3].extend(word.probs)
                current[4] = index
            else:
                current = [word.start, word.end, word.kind, list(word.probs), index]
                raw.append(current)
        return [
            RawSpan(start, end, kind, sum(probs) / len(probs), self._tail(words, last, end, kind))
            for start, end, kind, probs, last in raw
        ]

    def _words(self, tokens: _Tokens) -> list[_Word]:
        """The text's words in order. A word's first tagged subword decides its kind and the
        rest follow it; a word none of whose subwords is tagged has no kind."""
        entity_of = self.labels.entity
        kinds = self.labels.kinds
        words: list[_Word] = []
        word_key: tuple[int, int] | None = None  # (word id, end offset of last token)
        for (start, end), (_, label, word_id, prob) in sorted(tokens.items()):
            name = entity_of[label]
            kind = kinds.get(name) if name is not None else None
            if word_key is not None and word_key == (word_id, start):
                word = words[-1]
                word.end = end
                word.all_probs.append(prob)
                if word.kind is None and kind is not None:
                    word.kind, word.late = kind, True
                if word.kind is not None:
                    word.probs.append(prob)
            else:
                words.append(_Word(start, end, kind, [prob] if kind is not None else [], [prob]))
            word_key = (word_id, end)
        return words

    def _tail(self, words: list[_Word], last: int, end: int, kind: str) -> int:
        """The end of the untagged word right after a span when the model leans towards
        it being part of one (mean identifier probability at least the kind's
        ``continuation`` floor in labels.json); ``end`` otherwise. The filters decide
        whether to take it (``masker.detect.ner.filters``): "Call Maria Lopez" where
        the model tags "Maria" and gives "Lopez" 0.15 but "tomorrow" 0.00."""
        floor = self.labels.continuation.get(kind)
        if floor is None or last + 1 >= len(words):
            return end
        nxt = words[last + 1]
        if nxt.kind is not None or nxt.start != end + 1:
            return end
        return nxt.end if sum(nxt.all_probs) / len(nxt.all_probs) >= floor else end
