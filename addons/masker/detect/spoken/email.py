"""Spoken e-mail addresses: "tom dot becker at gmail dot com", "t o m one two at mail dot org"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from masker.detect.vocab.spoken_cues import EMAIL_CONNECTORS, EMAIL_STOP, SPOKEN_CONNECTORS
from masker.detect.vocab.words import TLDS

if TYPE_CHECKING:
    from masker.detect.spoken.scan import Scan

EMAIL_CONFIDENCE = 0.92

_MAX_EMAIL_ITEMS = 64  # items in either part of a spoken email
_AT = frozenset({"at", "@"})


def _connector(s: Scan, p: int) -> str:
    """The connector at item ``p``: a said one ("dot", "underscore"), or a mark attached to both neighbours."""
    items = s.items
    if not 0 < p < len(items) - 1:
        return ""
    it = items[p]
    if it.kind == "word" and it.low in SPOKEN_CONNECTORS:
        return it.low
    attached = items[p - 1].end == it.start and it.end == items[p + 1].start
    if it.kind == "punct" and it.low in EMAIL_CONNECTORS and attached:
        return it.low
    return ""


def _unit(s: Scan, j: int) -> bool:
    """Whether item ``j`` can be a part of an address between connectors."""
    it = s.items[j]
    return it.is_num or (it.kind == "word" and it.low not in EMAIL_CONNECTORS)


class SpokenEmail:
    """An "at" (or "@") with a domain ending in a known TLD after it and a local part before it."""

    id = "spoken_email"
    pass_name = "spoken"
    kinds = frozenset({"EMAIL"})
    detectors = frozenset({"spoken_email"})
    description = 'e-mail addresses said aloud: "tom dot becker at gmail dot com"'

    def scan(self, s: Scan) -> None:
        # "at" is only ever a word item and "@" only a punctuation item: the lookup is the whole test.
        for i in s.where(_AT):
            self._at(s, i)

    def _at(self, s: Scan, at: int) -> None:
        items = s.items
        spoken = items[at].kind == "word"
        # Domain: label (dot label)+, ending in a known TLD.
        last = -1
        labels = 0
        j = at + 1
        while j < min(len(items), at + _MAX_EMAIL_ITEMS) and _unit(s, j):
            labels += 1
            last = j
            c = _connector(s, j + 1)
            if c and EMAIL_CONNECTORS[c] in ".-" and _unit(s, j + 2):
                spoken = spoken or c in SPOKEN_CONNECTORS
                j += 2
                continue
            break
        if labels < 2 or items[last].kind != "word" or items[last].low not in TLDS:
            return
        # Local part, backwards. Units join through connectors; without one,
        # only digits and single letters join (said one by one), plus one word
        # right before them ("tom one two").
        first = -1
        j = at - 1
        forced = False
        while j >= max(0, at - _MAX_EMAIL_ITEMS) and _unit(s, j):
            glue = items[j].is_num or s.is_letter(j)
            if not glue and items[j].low in EMAIL_STOP and not forced:
                break
            if first >= 0 and not forced and not (items[first].is_num or s.is_letter(first)):
                break
            first = j
            c = _connector(s, j - 1)
            if c and j >= 2 and _unit(s, j - 2):
                spoken = spoken or c in SPOKEN_CONNECTORS
                j -= 2
                forced = True
                continue
            j -= 1
            forced = False
        if first < 0 or not spoken or not s.free(first, last):
            return
        s.emit(first, last, "EMAIL", "spoken_email", EMAIL_CONFIDENCE)
