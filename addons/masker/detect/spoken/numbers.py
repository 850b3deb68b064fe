"""Spoken digit chains: "five ten, five five five, one two one two".

A chain is numbers said one after another, with at most a few separators or
fillers between them. It is classified by the nearest cue before it (fixed
digit counts for SSN, phone, fax, ZIP and card numbers, open ones for ids),
else by its shape and checksums. A chain a cue does not fill is cut where
its first value ends, and the rest is classified again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from masker.detect.checksums import aba_ok, card_ok, ssn_ok
from masker.detect.spoken.cues import Cue
from masker.detect.spoken.view import SEPARATOR_PUNCT
from masker.detect.vocab.spoken_cues import CHAIN_FILLERS, CUES

if TYPE_CHECKING:
    from masker.detect.spoken.scan import Scan
    from masker.detect.spoken.view import Item

# After a cue of the kind:
MISCOUNTED_CONFIDENCE = 0.65  # the digit count is one or two off (a misheard or dropped digit)
SSN_VALID_CONFIDENCE = 0.95  # passes the SSA area/group/serial rules
SSN_LAST_FOUR_CONFIDENCE = 0.8
SSN_INVALID_CONFIDENCE = 0.7
PHONE_VALID_CONFIDENCE = 0.95  # a NANP number, or seven digits
PHONE_INVALID_CONFIDENCE = 0.75
CARD_LUHN_CONFIDENCE = 0.97
CARD_NO_LUHN_CONFIDENCE = 0.7
CUED_FIXED_CONFIDENCE = 0.9  # a ZIP code: no check beyond its length
CUED_DOB_CONFIDENCE = 0.9  # month day year
ROUTING_CONFIDENCE = 0.9  # an ACCOUNT passing the ABA routing checksum
CUED_ID_CONFIDENCE = 0.85
# Without a (fitting) cue, by shape:
SHAPE_CARD_CONFIDENCE = 0.85  # 13-19 digits passing Luhn
SHAPE_PHONE_CONFIDENCE = 0.75  # a NANP number
SHAPE_SSN_CONFIDENCE = 0.6  # nine digits passing the SSA rules
SHAPE_DATE_CONFIDENCE = 0.6  # month day year
SHAPE_LOCAL_PHONE_CONFIDENCE = 0.6  # seven digits
SHAPE_ACCOUNT_CONFIDENCE = 0.5  # 8 or more digits

# Exact digit counts a cue kind accepts; a longer chain is cut to the longest fitting prefix.
_FIXED_LENGTHS: dict[str, tuple[int, ...]] = {
    "SSN": (9, 4),
    "PHONE": (11, 10, 7),
    "FAX": (11, 10, 7),
    "ZIP": (9, 5),
    "CREDIT_CARD": tuple(range(19, 11, -1)),
}
_OPEN_LENGTH_KINDS = ("ACCOUNT", "MRN", "HEALTH_PLAN", "LICENSE")
_CUE_KINDS = tuple(k for k in CUES if k != "NAME")
_MAX_GAP_ITEMS = 3  # separators and fillers between two numbers of one chain
_MAX_ID_DIGITS = 24
_MAX_CHAIN_NUMS = 40  # more is a recitation, not an identifier
_COUNTING_NUMS = 5  # "one two three four five": counting, from this many numbers on


def _nanp_ok(d: str) -> bool:
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789"


def _phone_ok(d: str) -> bool:
    """A NANP number, bare or with the leading 1."""
    return _nanp_ok(d) or (len(d) == 11 and d[0] == "1" and _nanp_ok(d[1:]))


def _counting(nums: Sequence[Item]) -> bool:
    """ "one two three four five ...": counting, not an identifier."""
    values = [it.value for it in nums]
    steps = {b - a for a, b in zip(values, values[1:])}
    return steps == {1} or steps == {-1}


def _numeric_date(nums: Sequence[Item], digits: str, birth: bool) -> bool:
    """Whether chain numbers read as month day year ("twelve twelve nineteen seventy")."""
    if len(nums) == 3:
        m, d, y = nums
        year_ok = (len(y.digits) == 4 and 1900 <= y.value <= 2099) or (birth and len(y.digits) == 2)
        if len(m.digits) <= 2 and 1 <= m.value <= 12 and len(d.digits) <= 2 and 1 <= d.value <= 31 and year_ok:
            return True
    if birth and len(digits) in (6, 8):
        mm, dd, yy = int(digits[:2]), int(digits[2:4]), digits[4:]
        return 1 <= mm <= 12 and 1 <= dd <= 31 and (len(yy) == 2 or 1900 <= int(yy) <= 2099)
    return False


class SpokenNumber:
    """Digit chains, by cue (fixed or open digit counts, checksums) or by shape."""

    id = "spoken_number"
    pass_name = "spoken"
    kinds = frozenset({
        "SSN", "PHONE", "FAX", "ZIP", "CREDIT_CARD", "ACCOUNT", "MRN", "HEALTH_PLAN", "LICENSE", "DOB", "DATE",
    })
    # "spoken_" + the kind, lower case: what ``_Chain.take`` writes.
    detectors = frozenset("spoken_" + kind.lower() for kind in kinds)
    description = 'numbers said digit by digit, by their cue or shape: "my social is one two three forty five ..."'

    def scan(self, s: Scan) -> None:
        claimed = s.claimed
        after = 0  # the item after the last chain
        for i in s.numbers:
            if i >= after and not claimed[i]:
                after = self._chain(s, i)

    def _chain(self, s: Scan, i: int) -> int:
        """Collect the number chain starting at item ``i``, classify it; return the next index."""
        items = s.items
        n = len(items)
        nums = [i]
        j = i + 1
        while j < n:
            k = j
            while k < n and k - j < _MAX_GAP_ITEMS and (
                (items[k].kind == "punct" and items[k].low in SEPARATOR_PUNCT)
                or (items[k].kind == "word" and items[k].low in CHAIN_FILLERS)
            ):
                k += 1
            if k < n and items[k].is_num and not s.claimed[k]:
                nums.append(k)
                j = k + 1
            else:
                break
        if len(nums) > _MAX_CHAIN_NUMS:
            return nums[-1] + 1
        if not any(items[k].spoken for k in nums):
            return nums[-1] + 1  # digits as written: ``take`` would emit nothing, so skip the cue look-back
        start = 0
        while start < len(nums):
            used = _Chain(s, nums[start:]).classify(first=start == 0)
            if not used:
                break
            start += used
        return nums[-1] + 1


class _Chain:
    """One chain (or the rest of one) being classified: item indices ``idx``."""

    def __init__(self, s: Scan, idx: list[int]) -> None:
        self.s = s
        self.idx = idx
        self.nums = [s.items[k] for k in idx]
        self.digits_at: list[int] = []  # cumulative digit counts per prefix
        total = 0
        for it in self.nums:
            total += len(it.digits)
            self.digits_at.append(total)
        self.digits = "".join(it.digits for it in self.nums)

    def take(self, count: int, kind: str, confidence: float, cue: Cue | None = None, validator: str | None = None) -> int:
        """Emit the first ``count`` numbers as ``kind`` if any was said in words; return how many were used."""
        if not any(it.spoken for it in self.nums[:count]):
            return 0
        self.s.emit(self.idx[0], self.idx[count - 1], kind, "spoken_" + kind.lower(), confidence,
                    cue=cue, validator=validator)
        return count

    def prefix(self, lengths: Sequence[int]) -> int:
        """Numbers making up the whole chain, or a part of it that ends at a pause
        ("nine four one one zero, one two three main street"), with a length in ``lengths``."""
        idx, digits_at = self.idx, self.digits_at
        for length in lengths:
            if length in digits_at:
                count = digits_at.index(length) + 1
                if count == len(idx) or idx[count] - idx[count - 1] > 1:
                    return count
        return 0

    def classify(self, first: bool) -> int:
        """Classify the chain and emit; return how many numbers it used (0: none).

        Only the ``first`` part of a chain reads the cue before it.
        """
        cue = self.s.cue(self.idx[0], _CUE_KINDS) if first else None
        if cue is not None:
            used = self.by_cue(cue)
            if used is not None:
                return used
        return self.by_shape()

    def by_cue(self, cue: Cue) -> int | None:
        """What the cue makes of the chain; None when the cue does not fit it."""
        nums, digits, kind = self.nums, self.digits, cue.kind
        if kind in _FIXED_LENGTHS:
            lengths = _FIXED_LENGTHS[kind]
            count = self.prefix(lengths)
            if not count and min(lengths) - 2 <= len(digits) <= max(lengths) + 2:
                return self.take(len(nums), kind, MISCOUNTED_CONFIDENCE, cue)
            if count:
                return self.take_fixed(count, cue)
        elif kind == "DOB":
            if len(nums) >= 3 and _numeric_date(nums[:3], "".join(it.digits for it in nums[:3]), True):
                return self.take(3, "DOB", CUED_DOB_CONFIDENCE, cue)
            if _numeric_date(nums, digits, True):
                return self.take(len(nums), "DOB", CUED_DOB_CONFIDENCE, cue)
        elif kind in _OPEN_LENGTH_KINDS and 4 <= len(digits) <= _MAX_ID_DIGITS:
            if kind == "ACCOUNT" and aba_ok(digits):
                return self.take(len(nums), kind, ROUTING_CONFIDENCE, cue, "aba")
            return self.take(len(nums), kind, CUED_ID_CONFIDENCE, cue)
        return None

    def take_fixed(self, count: int, cue: Cue) -> int:
        """The first ``count`` numbers, whose digit count the cue's kind accepts, rated by its check."""
        d = self.digits[:self.digits_at[count - 1]]
        kind = cue.kind
        if kind == "SSN":
            if ssn_ok(d):
                return self.take(count, kind, SSN_VALID_CONFIDENCE, cue, "ssn_area")
            return self.take(count, kind, SSN_LAST_FOUR_CONFIDENCE if len(d) == 4 else SSN_INVALID_CONFIDENCE, cue)
        if kind in ("PHONE", "FAX"):
            if _phone_ok(d):
                return self.take(count, kind, PHONE_VALID_CONFIDENCE, cue, "nanp")
            return self.take(count, kind, PHONE_VALID_CONFIDENCE if len(d) == 7 else PHONE_INVALID_CONFIDENCE, cue)
        if kind == "CREDIT_CARD":
            if card_ok(d):
                return self.take(count, kind, CARD_LUHN_CONFIDENCE, cue, "luhn")
            return self.take(count, kind, CARD_NO_LUHN_CONFIDENCE, cue)
        return self.take(count, kind, CUED_FIXED_CONFIDENCE, cue)

    def by_shape(self) -> int:
        """No cue, or the cue does not fit: judge by shape and checksums."""
        nums, d = self.nums, self.digits
        if len(nums) >= _COUNTING_NUMS and _counting(nums):
            return len(nums)
        if 13 <= len(d) <= 19 and card_ok(d):
            return self.take(len(nums), "CREDIT_CARD", SHAPE_CARD_CONFIDENCE, validator="luhn")
        if _phone_ok(d):
            return self.take(len(nums), "PHONE", SHAPE_PHONE_CONFIDENCE, validator="nanp")
        if len(d) == 9 and ssn_ok(d):
            return self.take(len(nums), "SSN", SHAPE_SSN_CONFIDENCE, validator="ssn_area")
        if len(nums) >= 3 and _numeric_date(nums[:3], "", False):
            return self.take(3, "DATE", SHAPE_DATE_CONFIDENCE)
        if len(d) == 7 and d[0] in "23456789":
            return self.take(len(nums), "PHONE", SHAPE_LOCAL_PHONE_CONFIDENCE)
        if 8 <= len(d) <= _MAX_ID_DIGITS:
            return self.take(len(nums), "ACCOUNT", SHAPE_ACCOUNT_CONFIDENCE)
        return 0
