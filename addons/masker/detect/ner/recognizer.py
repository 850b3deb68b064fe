"""``NerPass``: the NER recognizer, the model's spans through the filters as ``Span``s."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from masker import metrics
from masker.detect.ner.filters import screen
from masker.detect.ner.model import NerModel
from masker.detect.ner.window_cache import DEFAULT_MAX_WINDOWS
from masker.detect.recognizer import Explanation
from masker.detect.spans import Span

_WHY = Explanation("ner")


class NerPass:
    """Runs the token classifier over batches of texts and returns spans."""

    id = "ner"
    pass_name = "ner"
    detectors = frozenset({"ner"})
    description = "the on-device token-classification model (names, places, organisations, dates ...)"
    # What the loaded model's labels.json maps to; none before a model is loaded
    # (the registry lists the class; ``registry.ner_model_kinds`` reads a model's).
    kinds: frozenset[str] = frozenset()

    def __init__(
        self,
        model_dir: Path,
        *,
        providers: list[str] | None = None,
        threads: int = 2,
        spin: bool = True,
        max_tokens: int = 256,
        stride: int = 32,
        cache_windows: int = DEFAULT_MAX_WINDOWS,
    ) -> None:
        self._model = NerModel(
            model_dir, providers=providers, threads=threads, spin=spin, max_tokens=max_tokens, stride=stride,
            cache_windows=cache_windows,
        )
        self.provider: str = self._model.provider
        self.kinds = frozenset(self._model.labels.kinds.values())

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans for each text, in order; one model run for the whole batch."""
        started = time.perf_counter()
        decoded = self._model.decode_batch(texts)
        if not decoded.windows:
            return [[] for _ in texts]
        floors = self._model.labels.min_confidence
        spans = [
            [Span(s.start, s.end, s.kind, "ner", "ner", s.confidence, _WHY) for s in screen(text, raw, floors)]
            for text, raw in zip(texts, decoded.spans)
        ]
        if decoded.run:
            metrics.ner_batch(time.perf_counter() - started, decoded.run)
        return spans
