"""Spelled letter runs: names ("r a g h u") and alphanumeric ids ("x y z one two three").

Letters that spell a word said just before or after ("it's Kwame, K W A M E")
are that word spelled: a NAME. Mixed with digits, a run is an id of the kind
its cue names, else (long enough) an account number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from masker.detect.spoken.view import REPEAT, SEPARATOR_PUNCT
from masker.detect.vocab.spoken_cues import LETTER_WORDS

if TYPE_CHECKING:
    from masker.detect.spoken.scan import Scan

CUED_NAME_CONFIDENCE = 0.9  # a spelling cue ("spelled", "name") before the letters
ECHOED_NAME_CONFIDENCE = 0.9  # the letters spell a word said nearby
UNCUED_NAME_CONFIDENCE = 0.5  # four or more letters, no cue at all
CUED_LETTER_ID_CONFIDENCE = 0.8  # letters only, after an id cue
CUED_ID_CONFIDENCE = 0.9  # letters and digits, after an id cue
UNCUED_ID_CONFIDENCE = 0.5  # letters and digits, long, no id cue: an ACCOUNT

# Kinds a spelled alphanumeric id can be, by its cue.
_ID_KINDS = ("HEALTH_PLAN", "MRN", "ACCOUNT", "LICENSE")
_CUE_KINDS = (*_ID_KINDS, "NAME")
# Between spelled letters: not "/", which joins clinical shorthand (s/p, d/t, c/o, w/).
_LETTER_SEPARATORS = SEPARATOR_PUNCT - {"/"}
_MAX_SEPARATORS = 2  # punctuation items between two letters of one run
_MAX_RUN_DIGITS = 4  # digits a number inside a run may have
_ECHO_ITEMS = 12  # items looked at on each side for the word a run spells


def _repeats_letter(s: Scan, j: int) -> bool:
    """ "double"/"triple" before a letter ("double s")."""
    return s.low(j) in REPEAT and j + 1 < len(s.items) and s.is_letter(j + 1)


def _spells_a_word_nearby(s: Scan, members: list[int]) -> bool:
    """Whether the run's letters spell a word within ``_ECHO_ITEMS`` items of it."""
    items = s.items
    letters: list[str] = []
    repeat = 1
    for k in members:
        low = items[k].low
        if low in REPEAT:
            repeat = REPEAT[low]
            continue
        letters.append(low * repeat)
        repeat = 1
    spelled = "".join(letters)
    first, last = members[0], members[-1]
    nearby = [*range(max(0, first - _ECHO_ITEMS), first), *range(last + 1, min(len(items), last + 1 + _ECHO_ITEMS))]
    return any(
        items[k].kind == "word" and "".join(c for c in items[k].low if c.isalpha()) == spelled for k in nearby
    )


class SpokenSpelled:
    """A run of single letters (and short numbers) said one by one, classified by its cue."""

    id = "spoken_spelled"
    pass_name = "spoken"
    kinds = frozenset({"NAME", *_ID_KINDS})
    detectors = frozenset({"spoken_spelled", "spoken_id"})
    description = 'spelled names and ids: "r a g h u", "member id x y z one two three"'

    def scan(self, s: Scan) -> None:
        claimed = s.claimed
        # A run starts with a letter (a one-character word) or "double"/"triple".
        starts = [i for i, it in enumerate(s.items) if (it.kind == "word" and len(it.low) == 1) or it.low in REPEAT]
        after = 0  # the item after the last run
        for i in starts:
            if i >= after and not claimed[i]:
                after = self._run(s, i)

    def _run(self, s: Scan, i: int) -> int:
        """Detect a run of spelled letters (and digits) starting at ``i``; return the next index."""
        items = s.items
        if not (s.is_letter(i) or (items[i].low in REPEAT and _repeats_letter(s, i))):
            return i + 1
        members: list[int] = []
        j = i
        n = len(items)
        while j < n and not s.claimed[j]:
            if s.is_letter(j) or (items[j].is_num and len(items[j].digits) <= _MAX_RUN_DIGITS):
                members.append(j)
                j += 1
            elif _repeats_letter(s, j):
                members.extend((j, j + 1))
                j += 2
            else:
                k = j
                while k < n and items[k].kind == "punct" and items[k].low in _LETTER_SEPARATORS and k - j < _MAX_SEPARATORS:
                    k += 1
                if k == j or not members or k >= n:
                    break
                j = k
                continue
        if not members:
            return i + 1
        # A lone "a"/"i" before digits is an article or a pronoun ("a five", "i one").
        while len(members) > 1 and items[members[0]].low in LETTER_WORDS and not s.is_letter(members[1]):
            members.pop(0)
        first, last = members[0], members[-1]
        letters = sum(1 for k in members if s.is_letter(k))
        digits = sum(len(items[k].digits) for k in members if items[k].is_num)
        cue = s.cue(first, _CUE_KINDS)
        kind = cue.kind if cue is not None else ""
        if letters == 0:
            return j
        if digits == 0:
            if kind == "NAME" and letters >= 2:
                s.emit(first, last, "NAME", "spoken_spelled", CUED_NAME_CONFIDENCE, cue=cue)
            elif kind in _ID_KINDS and letters >= 3:
                s.emit(first, last, kind, "spoken_id", CUED_LETTER_ID_CONFIDENCE, cue=cue)
            elif letters >= 3 and _spells_a_word_nearby(s, members):
                s.emit(first, last, "NAME", "spoken_spelled", ECHOED_NAME_CONFIDENCE, validator="echo")
            elif cue is None and letters >= 4:
                s.emit(first, last, "NAME", "spoken_spelled", UNCUED_NAME_CONFIDENCE)
            return j
        total = letters + digits
        if kind in _ID_KINDS and total >= 3:
            s.emit(first, last, kind, "spoken_id", CUED_ID_CONFIDENCE, cue=cue)
        elif total >= 6 and digits >= 2:
            s.emit(first, last, "ACCOUNT", "spoken_id", UNCUED_ID_CONFIDENCE)
        return j
