"""The detector: regex -> spoken -> ner, filtered by the policy, merged.

Order of work for one request:
1. every text is read through its normalized view (``masker.detect.encoded.view_of``:
   NFKC, Unicode digits, confusable letters, invisible characters, HTML and
   backslash escapes; ASCII text without "&" or "\\" is its own view), and
   every pass below scans the view; spans come back in original offsets;
2. every view goes through the regex and spoken-form passes (cheap, pure Python);
3. views of texts not already in the detection cache go to the NER pass in one batch;
4. NER organisations and places right after a transfer cue ("sent to ...")
   are trusted more (``masker.detect.recognizers.facility``);
5. base64 and percent-encoded segments of a view are decoded and scanned by
   the same passes, with the words around the segment as context (nested
   segments too, down to ``MAX_DEPTH``); a hit there becomes one span over
   the whole encoded segment, of the strongest hit's kind;
6. candidates are filtered by the policy (kind enabled, pass allowed for the
   kind, recognizer switched on, confidence >= the recognizer's threshold or
   else the kind's, value not on the allow list), the deny list's spans are
   added (``masker.detect.tenant_lists``), dates near a birth cue become
   DOB, ``merge_spans`` leaves one span per character, spans are mapped back
   to the original text (and merged again there when the view is not the
   text itself), and nothing inside a Masker token already in the text is kept.

Filtering happens before merging so that a weak candidate can never trim a
confident one. The value a span covers is always taken from the original
text, so what is tokenized (and normalized by the vault) and what
propagation looks for elsewhere is the text as written.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from masker.detect.cache import DetectionCache
from masker.detect.encoded import Segment, segments, view_of
from masker.detect.merge import merge_spans
from masker.detect.ner import NerPass
from masker.detect.normalize import View
from masker.detect.recognizers.facility import trust_after_movement
from masker.detect.regex import RegexPass
from masker.detect.spans import Span
from masker.detect.spoken import SpokenPass
from masker.detect.tenant_lists import AllowList, DenyList
from masker.detect.vocab.lexicon import load_word_lists
from masker.kinds import SPECIFICITY
from masker.policy.model import Policy
from masker.tokens.scheme import TOKEN_MARK, TOKEN_RE

_BIRTH_CUE = regex.compile(
    r"\b(?:dob|d\.o\.b|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)\b[\s:,-]*(?:is|was|on)?[\s:,-]*$",
    regex.IGNORECASE,
)
# Encoded segments inside decoded segments are followed this deep
# (base64 of percent-encoded text is two levels).
MAX_DEPTH = 3
# Characters of the view on each side of an encoded segment scanned with its
# decoded text, for cue words ("SSN: <base64>"); widened to whole words.
SEGMENT_CONTEXT = 48


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
        self._ner = ner if "ner" in policy.passes and policy.recognizer_enabled(NerPass.id) else None
        self._deny = DenyList(policy) if policy.recognizer_enabled(DenyList.id) else None
        self._allow = AllowList(policy)
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
        for i, spans in zip(todo, self._detect([texts[i] for i in todo], ner=True, depth=MAX_DEPTH)):
            results[i] = spans
            if self._cache is not None:
                self._cache.put(self.policy.hash, texts[i], spans)
        return [r if r is not None else [] for r in results]

    def rule_based(self, text: str) -> list[Span]:
        """Regex + spoken passes only, filtered and merged (used for residual scans).

        Cached like full detection: a chat history's masked turns come back
        on every request.
        """
        namespace = self.policy.hash + ":rule_based"
        if self._cache is not None and (cached := self._cache.get(namespace, text)) is not None:
            return cached
        spans = self._detect([text], ner=False, depth=MAX_DEPTH)[0]
        if self._cache is not None:
            self._cache.put(namespace, text, spans)
        return spans

    def _detect(
        self,
        texts: Sequence[str],
        *,
        ner: bool,
        depth: int,
        regions: Sequence[tuple[int, int]] | None = None,
    ) -> list[list[Span]]:
        """Final spans (original offsets) of each text; see the module docstring.

        ``regions`` (one per text) limits the encoded segments followed to
        those overlapping the region: a decoded segment is scanned with its
        context, and segments in the context are the caller's to follow.
        """
        if not texts:
            return []
        views = [view_of(t) for t in texts]
        ner_spans = self._run_ner([v.text for v in views]) if ner else None
        decoded = self._decoded(views, ner=ner, depth=depth, regions=regions)
        out: list[list[Span]] = []
        for j, (text, view) in enumerate(zip(texts, views)):
            seen = view.text
            candidates = self._rule_based(seen)
            if ner_spans is not None:
                candidates += trust_after_movement(seen, ner_spans[j])
            candidates += decoded[j]
            spans = merge_spans(_promote_dob(seen, self._allowed(seen, candidates)), text=seen)
            if not view.identity:
                # view characters from one original chunk ("ﬁ" -> "fi") may map to one range
                spans = merge_spans(view.source_spans(spans), text=text)
            out.append(_outside_tokens(text, spans))
        return out

    def _decoded(
        self,
        views: Sequence[View],
        *,
        ner: bool,
        depth: int,
        regions: Sequence[tuple[int, int]] | None,
    ) -> list[list[Span]]:
        """Per view, one span (view offsets) for each encoded segment whose decoded text holds a hit."""
        extra: list[list[Span]] = [[] for _ in views]
        if depth <= 0:
            return extra
        # view, segment, context start, prefix length, decoded range, suffix start in the spliced text
        jobs: list[tuple[int, Segment, int, int, int, int, int]] = []
        spliced: list[str] = []
        for j, view in enumerate(views):
            seen = view.text
            found = segments(seen)
            if regions is not None and found:
                lo, hi = regions[j]
                found = [g for g in found if _overlaps(view.source_span(g.start, g.end), lo, hi)]
            for seg in found:
                a, b = _context(seen, seg.start, seg.end)
                prefix, suffix = seen[a : seg.start], seen[seg.end : b]
                # a space keeps the decoded text a unit of its own ("q=<base64>" is not one word)
                before = " " if prefix and not prefix[-1].isspace() else ""
                after = " " if suffix and not suffix[0].isspace() else ""
                p = len(prefix) + len(before)
                q = p + len(seg.decoded)
                spliced.append(prefix + before + seg.decoded + after + suffix)
                jobs.append((j, seg, a, len(prefix), p, q, q + len(after)))
        if not jobs:
            return extra
        results = self._detect(spliced, ner=ner, depth=depth - 1, regions=[(p, q) for _, _, _, _, p, q, _ in jobs])
        for (j, seg, a, n, p, q, r), hits in zip(jobs, results):
            inside = [h for h in hits if h.start < q and p < h.end]
            if not inside:
                continue
            best = min(inside, key=lambda h: (-SPECIFICITY.get(h.kind, 0), -h.confidence))
            # the whole segment, and what a hit reaching into its context covers there
            start = min([seg.start] + [a + h.start for h in inside if h.start < n])
            end = max([seg.end] + [seg.end + h.end - r for h in inside if h.end > r])
            extra[j].append(Span(start, end, best.kind, best.pass_name, f"{seg.encoding}:{best.detector}",
                                 best.confidence, best.why))
        return extra

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

    def _allowed(self, text: str, spans: list[Span]) -> list[Span]:
        """The candidates the policy keeps, plus the deny list's spans."""
        kept = []
        switches = self.policy.recognizers
        for span in spans:
            rule = self.policy.rule(span.kind)
            if rule is None or not rule.enabled:
                continue
            if span.pass_name == "ner" and not rule.ner:
                continue
            if span.pass_name != "ner" and not rule.regex:
                continue
            threshold = rule.confidence_threshold
            if switches and span.why is not None and (switch := switches.get(span.why.recognizer)) is not None:
                if not switch.enabled:
                    continue
                if switch.confidence_threshold is not None:
                    threshold = switch.confidence_threshold
            if span.confidence < threshold:
                continue
            kept.append(span)
        if self._allow:
            kept = self._allow.filter(text, kept)
        if self._deny:
            kept += self._deny.find(text)
        return kept


def _overlaps(span: tuple[int, int], lo: int, hi: int) -> bool:
    return span[0] < hi and lo < span[1]


def _context(text: str, start: int, end: int) -> tuple[int, int]:
    """Up to ``SEGMENT_CONTEXT`` characters each side of ``text[start:end]``, cut to whole words."""
    a = max(0, start - SEGMENT_CONTEXT)
    if a > 0 and not text[a - 1].isspace():
        while a < start and not text[a].isspace():
            a += 1
    b = min(len(text), end + SEGMENT_CONTEXT)
    if b < len(text) and not text[b].isspace():
        while b > end and not text[b - 1].isspace():
            b -= 1
    return a, b


def _outside_tokens(text: str, spans: list[Span]) -> list[Span]:
    """Spans cut back to what lies outside Masker tokens already in the text.

    A token is not PHI, and masking inside one would nest tokens so that
    neither could be restored; a span reaching past a token keeps its
    remainder, trimmed to alphanumeric ends.
    """
    if TOKEN_MARK not in text:
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
                out.append(span.moved(s, e))
    return out


def _promote_dob(text: str, spans: list[Span]) -> list[Span]:
    """A DATE right after a birth cue ("DOB:", "born on") is a DOB."""
    out = []
    for span in spans:
        if span.kind == "DATE" and _BIRTH_CUE.search(text, max(0, span.start - 40), span.start):
            span = span.with_kind("DOB")
        out.append(span)
    return out
