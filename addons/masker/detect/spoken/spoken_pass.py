"""The spoken-form pass: the recognizers a policy leaves on, run over one text, as spans."""

from __future__ import annotations

from masker.detect.spans import Span
from masker.detect.spoken.cues import Cues
from masker.detect.spoken.precheck import worth_scanning
from masker.detect.spoken.recognizers import RECOGNIZERS
from masker.detect.spoken.scan import Scan
from masker.detect.spoken.view import tokenize_items
from masker.policy.model import Policy
from masker.tokens.scheme import TOKEN_MARK, TOKEN_RE

PASS_NAME = "spoken"
KINDS: frozenset[str] = frozenset().union(*(r.kinds for r in RECOGNIZERS))


def _blank_tokens(text: str) -> str:
    """``text`` with each Masker token made one opaque mark, offsets kept.

    A token's letters and digits ("K", "2B7") are not spoken forms, and a
    digit chain must not run through one.
    """
    return TOKEN_RE.sub(lambda m: "|" + " " * (m.end() - m.start() - 1), text)


class SpokenPass:
    """Finds spoken-form identifiers; see ``masker.detect.spoken``."""

    def __init__(self, policy: Policy | None = None) -> None:
        self._cues = Cues(policy)
        self._recognizers = tuple(r for r in RECOGNIZERS if policy is None or policy.recognizer_enabled(r.id))
        self._blocked: frozenset[str] = frozenset(
            kind for kind, rule in (policy.entities.items() if policy else ())
            if not rule.enabled or not rule.regex
        )

    def detect(self, text: str) -> list[Span]:
        if TOKEN_MARK in text:
            text = _blank_tokens(text)
        if not text or not worth_scanning(text):
            return []
        items = tokenize_items(text)
        spans = [
            Span(items[f.first].start, items[f.last].end, f.kind, PASS_NAME, f.detector, f.confidence, f.why)
            for f in Scan(items, self._cues, self._recognizers).run()
            if f.kind not in self._blocked
        ]
        return sorted(spans, key=lambda s: (s.start, -s.end))
