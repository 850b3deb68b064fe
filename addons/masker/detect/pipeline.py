"""The detector: regex -> spoken -> ner, filtered by the policy, merged.

Order of work for one request:
1. every text goes through the regex and spoken-form passes (cheap, pure Python);
2. texts not already in the detection cache go to the NER pass in one batch;
3. NER organisations and places right after a transfer cue ("sent to ...")
   are trusted more (``masker.detect.facility``);
4. candidates are filtered by the policy (kind enabled, pass allowed for the
   kind, confidence >= the kind's threshold), dates near a birth cue become
   DOB, ``merge_spans`` leaves one span per character, and nothing inside a
   Masker token already in the text is kept.

Filtering happens before merging so that a weak candidate can never trim a
confident one.
"""

from __future__ import annotations

from typing import Sequence

import regex

from masker.detect.cache import DetectionCache
from masker.detect.facility import trust_after_movement
from masker.detect.lexicon import load_word_lists
from masker.detect.merge import merge_spans
from masker.detect.ner import NerPass
from masker.detect.regex import RegexPass
from masker.detect.spans import Span
from masker.detect.spoken import SpokenPass
from masker.policy.model import Policy
from masker.tokens.scheme import TOKEN_RE

_BIRTH_CUE = regex.compile(
    r"\b(?:dob|d\.o\.b|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)\b[\s:,-]*(?:is|was|on)?[\s:,-]*$",
    regex.IGNORECASE,
)


class Detector:
    """Runs the policy's passes over texts and returns merged, policy-filtered spans."""

    def __init__(
        self,
        policy: Policy,
        ner: NerPass | None = None,
        cache: DetectionCache | None = None,
    ) -> None:
        self.policy = policy
        uses_regex = "regex" in policy.passes
        self._regex = RegexPass(policy) if uses_regex else None
        self._spoken = SpokenPass(policy) if uses_regex else None
        self._ner = ner if "ner" in policy.passes else None
        self._cache = cache
        load_word_lists()  # the rules' and the NER filter's, read now, not on the first request

    @property
    def ner(self) -> NerPass | None:
        return self._ner

    def detect(self, text: str) -> list[Span]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        results: list[list[Span] | None] = [None] * len(texts)
        if self._cache is not None:
            for i, text in enumerate(texts):
                results[i] = self._cache.get(self.policy.hash, text)
        todo = [i for i, r in enumerate(results) if r is None]
        ner_spans = self._run_ner([texts[i] for i in todo])
        for j, i in enumerate(todo):
            text = texts[i]
            candidates = self._rule_based(text) + trust_after_movement(text, ner_spans[j])
            spans = _outside_tokens(text, merge_spans(_promote_dob(text, self._allowed(candidates)), text=text))
            results[i] = spans
            if self._cache is not None:
                self._cache.put(self.policy.hash, text, spans)
        return [r if r is not None else [] for r in results]

    def rule_based(self, text: str) -> list[Span]:
        """Regex + spoken passes only, filtered and merged (used for residual scans).

        Cached like full detection: a chat history's masked turns come back
        on every request.
        """
        namespace = self.policy.hash + ":rule_based"
        if self._cache is not None and (cached := self._cache.get(namespace, text)) is not None:
            return cached
        spans = _outside_tokens(text, merge_spans(_promote_dob(text, self._allowed(self._rule_based(text))), text=text))
        if self._cache is not None:
            self._cache.put(namespace, text, spans)
        return spans

    def _rule_based(self, text: str) -> list[Span]:
        spans: list[Span] = []
        if self._regex is not None:
            spans.extend(self._regex.detect(text))
        if self._spoken is not None:
            spans.extend(self._spoken.detect(text))
        return spans

    def _run_ner(self, texts: list[str]) -> list[list[Span]]:
        if self._ner is None or not texts:
            return [[] for _ in texts]
        return self._ner.detect_batch(texts)

    def _allowed(self, spans: list[Span]) -> list[Span]:
        kept = []
        for span in spans:
            rule = self.policy.rule(span.kind)
            if rule is None or not rule.enabled:
                continue
            if span.pass_name == "ner" and not rule.ner:
                continue
            if span.pass_name != "ner" and not rule.regex:
                continue
            if span.confidence < rule.confidence_threshold:
                continue
            kept.append(span)
        return kept


def _outside_tokens(text: str, spans: list[Span]) -> list[Span]:
    """Spans cut back to what lies outside Masker tokens already in the text.

    A token is not PHI, and masking inside one would nest tokens so that
    neither could be restored; a span reaching past a token keeps its
    remainder, trimmed to alphanumeric ends.
    """
    if "MSK" not in text:
        return spans
    tokens = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    if not tokens:
        return spans
    out: list[Span] = []
    for span in spans:
        pieces = [(span.start, span.end)]
        for a, b in tokens:
            pieces = [p for s, e in pieces for p in ((s, min(e, a)), (max(s, b), e)) if p[0] < p[1]]
        if pieces == [(span.start, span.end)]:
            out.append(span)
            continue
        for s, e in pieces:
            while s < e and not text[s].isalnum():
                s += 1
            while e > s and not text[e - 1].isalnum():
                e -= 1
            if s < e:
                out.append(Span(s, e, span.kind, span.pass_name, span.detector, span.confidence))
    return out


def _promote_dob(text: str, spans: list[Span]) -> list[Span]:
    """A DATE right after a birth cue ("DOB:", "born on") is a DOB."""
    out = []
    for span in spans:
        if span.kind == "DATE" and _BIRTH_CUE.search(text, max(0, span.start - 40), span.start):
            span = Span(span.start, span.end, "DOB", span.pass_name, span.detector, span.confidence)
        out.append(span)
    return out
