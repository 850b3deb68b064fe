"""The cheap pre-check that lets the spoken-form pass skip most texts after one word scan."""

from __future__ import annotations

import re

from masker.detect.spoken.view import OH, REPEAT, TEENS, TENS, UNITS
from masker.detect.vocab.spoken_cues import LETTER_WORDS
from masker.detect.vocab.words import MONTH_NAMES, ORDINALS, STREET_SUFFIXES, TLDS

_SCAN_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|[0-9]+")
# Words that can start a detection on their own: numbers of two or more
# digits ("twelve", "ninety", "hundred"), dates, repeats, spoken dots.
_ALONE_TRIGGERS = (
    frozenset(TEENS) | frozenset(TENS) | {"hundred", "thousand"}
    | frozenset(ORDINALS) | frozenset(MONTH_NAMES) | frozenset(REPEAT) | {"dot"}
)
# A word of the scan (``_SCAN_WORD_RE``) that is one of ``_ALONE_TRIGGERS``: the boundaries
# are those of the scan's words, so a search finds one exactly where the scan would.
_ALONE_TRIGGER_RE = re.compile(
    r"(?<![^\W\d_])(?<![^\W\d_]['’])(?:" + "|".join(map(re.escape, sorted(_ALONE_TRIGGERS))) + r")"
    r"(?![^\W\d_])(?!['’][^\W\d_])"
)
_STREET_SUFFIXES = frozenset(STREET_SUFFIXES)
_NEAR_WORDS = 4  # a one-digit word joins a chain only with a number this close
_STREET_REACH = 6  # "three <up to 4 names> street", with room to spare


def worth_scanning(text: str) -> bool:
    """Cheap, conservative pre-check: could any recognizer fire on ``text``?

    Every detection holds a spelled letter, an "at"/"dot" of an email, a
    month or ordinal, or a number of two or more digits. A lone one-digit
    word ("three days of pills") is none of these unless another number is
    within a few words (one chain) or a street name follows (an address).
    Punctuation is ignored here, which only ever says "scan" more often.
    """
    low = text.lower()
    if _ALONE_TRIGGER_RE.search(low) is not None:
        return True  # a long body has one in its first lines: no need to split it all into words
    words = _SCAN_WORD_RE.findall(low)
    vocab = set(words)
    if any(len(w) == 1 and w.isalpha() for w in vocab) and _spelled(words):
        return True
    if "at" in vocab and not vocab.isdisjoint(TLDS):
        return True
    if vocab.isdisjoint(UNITS) and vocab.isdisjoint(OH):
        return False
    numeric = [i for i, w in enumerate(words) if w in UNITS or w in OH or w.isdigit()]
    for a, b in zip(numeric, numeric[1:]):
        # Written digits next to written digits are the regex pass's job.
        if b - a <= _NEAR_WORDS and not (words[a].isdigit() and words[b].isdigit()):
            return True
    return any(
        not _STREET_SUFFIXES.isdisjoint(words[i + 1:i + 1 + _STREET_REACH])
        for i in numeric
        if not words[i].isdigit()
    )


def _spelled(words: list[str]) -> bool:
    """A spelled letter: one that is not the word "a" or "I", or one of those next to another letter or number."""
    for i, w in enumerate(words):
        if len(w) != 1 or not w.isalpha():
            continue
        if w not in LETTER_WORDS:
            return True
        around = words[max(0, i - 1):i] + words[i + 1:i + 2]
        if any(len(x) == 1 or x.isdigit() or x in UNITS or x in OH for x in around):
            return True
    return False
