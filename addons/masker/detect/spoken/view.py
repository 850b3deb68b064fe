"""The spoken-number view the spoken-form recognizers read: number words -> digits, offsets kept.

Speech-to-text writes what callers say: "one two three forty five", "double
five", "nineteen oh five", "twelve hundred". ``normalize`` turns every number
expression into digits and keeps all other characters, so digit-based
detectors can run over the result (the *view*); ``SpokenView.to_original``
maps any span of the view back onto the original words.

The view is also tokenized into ``Item``s (numbers, words, punctuation) that
the spoken-form recognizers walk; building both in one linear scan means a
text is tokenized once. Tokenizing is the spoken pass's largest cost on a
long body, so it runs mostly in C: the tokens come from one regex split into
parallel lists, every token becomes an ``Item`` in one ``map``, and Python
code only looks at the few tokens that can start a number expression or be
a spoken zero.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from typing import NamedTuple

__all__ = [
    "NUMBER_WORDS", "OH", "REPEAT", "SEPARATOR_PUNCT", "TEENS", "TENS", "UNITS",
    "Item", "SpokenView", "normalize", "tokenize_items",
]

UNITS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
TEENS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
# "oh"/"o" are zero only next to other numbers ("nine oh two", not "oh, I see").
OH = frozenset({"oh", "o"})
REPEAT: dict[str, int] = {"double": 2, "triple": 3}
NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | {"hundred", "thousand"}

# Punctuation that may sit between the digits of one spoken identifier.
SEPARATOR_PUNCT = frozenset({",", "-", ".", "/", "–", "—"})

# ASCII digits only: "²" or "٣" are not digits a caller spoke or typed.
# One capturing group: ``split`` keeps the tokens (see ``_Tokens``).
_TOKEN_SPLIT_RE = re.compile(r"([^\W\d_]+(?:['’][^\W\d_]+)*|[0-9]+|_|[^\w\s])")
# Words a number expression can start with (``_NumberParser.parse`` finds none at any other).
_NUMBER_STARTS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | frozenset(REPEAT)


class Item(NamedTuple):
    """One unit of a tokenized text: a number expression, a word or a punctuation mark.

    ``start``/``end`` are offsets in the original text. ``low`` is the lowercased
    original text of a word or punctuation item. Numbers carry ``digits`` and a
    ``form``: ``raw`` (digits in the original), ``unit``, ``teen``, ``tens``,
    ``compound`` (forty five), ``hundred``, ``thousand``, ``year`` (nineteen
    eighty), ``repeat`` (double five) or ``oh``.

    A named tuple, not a frozen dataclass: a long body has one item per token,
    and a tuple is built several times faster.
    """

    start: int
    end: int
    kind: str  # "num", "word" or "punct"
    low: str = ""
    digits: str = ""
    form: str = ""

    @property
    def is_num(self) -> bool:
        return self.kind == "num"

    @property
    def spoken(self) -> bool:
        """A number said in words (not digits in the original)."""
        return self.kind == "num" and self.form != "raw"

    @property
    def value(self) -> int:
        return int(self.digits) if self.digits else -1


class SpokenView:
    """The digit view of a text and its map back to the original.

    The view is a sequence of segments, each either copied from the original
    (one view character per original character) or a number expression
    replaced by its digits (every digit maps to the whole expression).
    """

    __slots__ = ("original", "text", "items", "_vstarts", "_segments")

    def __init__(self, original: str, items: tuple[Item, ...]) -> None:
        self.original = original
        self.items = items
        parts: list[str] = []
        # (view_start, orig_start, orig_end, replaced)
        segments: list[tuple[int, int, int, bool]] = []
        vpos = 0
        opos = 0
        for item in items:
            if not item.spoken:
                continue
            if item.start > opos:
                segments.append((vpos, opos, item.start, False))
                parts.append(original[opos:item.start])
                vpos += item.start - opos
            segments.append((vpos, item.start, item.end, True))
            parts.append(item.digits)
            vpos += len(item.digits)
            opos = item.end
        if opos < len(original):
            segments.append((vpos, opos, len(original), False))
            parts.append(original[opos:])
        self.text = "".join(parts)
        self._segments = segments
        self._vstarts = [s[0] for s in segments]

    @property
    def changed(self) -> bool:
        """Whether any number words were turned into digits."""
        return any(seg[3] for seg in self._segments)

    def _segment(self, i: int) -> tuple[int, int, int, bool]:
        return self._segments[bisect.bisect_right(self._vstarts, i) - 1]

    def _char_start(self, i: int) -> int:
        vstart, ostart, _, replaced = self._segment(i)
        return ostart if replaced else ostart + (i - vstart)

    def _char_end(self, i: int) -> int:
        vstart, ostart, oend, replaced = self._segment(i)
        return oend if replaced else ostart + (i - vstart) + 1

    def to_original(self, a: int, b: int) -> tuple[int, int]:
        """Original ``[start, end)`` covering view ``[a, b)``.

        A digit produced from words maps to all of those words, so a span that
        touches part of "forty five" covers both words. An empty span maps to
        the original position of view character ``a``.
        """
        n = len(self.text)
        if not 0 <= a <= b <= n:
            raise ValueError(f"span [{a}, {b}) outside view of length {n}")
        if a == b:
            pos = self._char_start(a) if a < n else len(self.original)
            return pos, pos
        return self._char_start(a), self._char_end(b - 1)

    def has_spoken(self, a: int, b: int) -> bool:
        """Whether view ``[a, b)`` contains digits that were words in the original."""
        if a >= b:
            return False
        k = bisect.bisect_right(self._vstarts, a) - 1
        while k < len(self._segments) and self._segments[k][0] < b:
            if self._segments[k][3]:
                return True
            k += 1
        return False


class _Tokens:
    """The tokens of one text as parallel lists: offsets, lowercased text, item kind."""

    __slots__ = ("starts", "ends", "lows", "kinds")

    def __init__(self, text: str) -> None:
        # Splitting on a capturing pattern gives [gap, token, gap, token, ..., gap]:
        # the running sum of the part lengths gives every offset, without a match object per token.
        parts = _TOKEN_SPLIT_RE.split(text)
        offsets = list(itertools.accumulate(map(len, parts)))
        tokens = parts[1::2]
        self.starts = offsets[0:-1:2]
        self.ends = offsets[1::2]
        self.lows = list(map(str.lower, tokens))
        self.kinds = [_token_kind(t) for t in tokens]


def _token_kind(token: str) -> str:
    first = token[0]
    return "num" if "0" <= first <= "9" else ("word" if first.isalpha() else "punct")


class _NumberParser:
    """Greedy left-to-right parse of number expressions over tokens.

    Words of one expression are separated by whitespace or one hyphen
    ("forty-five"); commas and other punctuation end an expression.
    """

    def __init__(self, toks: _Tokens) -> None:
        self.toks = toks
        self.lows = toks.lows

    def next_word(self, i: int) -> int:
        """Index of the word continuing an expression after token ``i``, or -1."""
        lows, kinds = self.lows, self.toks.kinds
        j = i + 1
        if j < len(lows) and lows[j] == "-" and self.toks.starts[j] == self.toks.ends[i]:
            j += 1
        if j < len(lows) and kinds[j] == "word":
            return j
        return -1

    def word(self, j: int) -> str:
        return self.lows[j] if j >= 0 else ""

    def below_100(self, i: int) -> tuple[int, int, str] | None:
        w = self.word(i)
        if w in TENS:
            j = self.next_word(i)
            unit = UNITS.get(self.word(j), 0)
            if unit:
                return j + 1, TENS[w] + unit, "compound"
            return i + 1, TENS[w], "tens"
        if w in TEENS:
            return i + 1, TEENS[w], "teen"
        if w in UNITS:
            return i + 1, UNITS[w], "unit"
        return None

    def tail(self, k: int, hundreds: bool) -> tuple[int, int] | None:
        """The part after "hundred"/"thousand": "[and] forty two".

        A bare unit is taken only when it ends the expression, so "eight
        hundred five five five" stays 800 5 5 5 (a phone number) while "one
        hundred five milligrams" is 105.
        """
        j = self.next_word(k - 1)
        if self.word(j) == "and":
            j = self.next_word(j)
            explicit = True
        else:
            explicit = False
        if j < 0:
            return None
        r = self.below_1000(j) if hundreds else self.below_100(j)
        if r is None:
            return None
        end, value, form = r
        if form == "unit" and not explicit and self.word(self.next_word(end - 1)) in NUMBER_WORDS | OH:
            return None
        return end, value

    def below_1000(self, i: int) -> tuple[int, int, str] | None:
        r = self.below_100(i)
        if r is None:
            return None
        k, value, form = r
        j = self.next_word(k - 1)
        if self.word(j) == "hundred" and value > 0:
            value *= 100
            k = j + 1
            form = "hundred"
            t = self.tail(k, hundreds=False)
            if t:
                k, add = t
                value += add
        return k, value, form

    def parse(self, i: int) -> tuple[int, str, str] | None:
        """(end token index, digits, form) of the expression at token ``i``."""
        lows, kinds = self.lows, self.toks.kinds
        w = self.word(i)
        if w in REPEAT:
            j = i + 1
            if j < len(lows):
                nxt, nxt_kind = lows[j], kinds[j]
                digit = None
                if nxt_kind == "word" and nxt in UNITS:
                    digit = str(UNITS[nxt])
                elif nxt_kind == "word" and nxt in OH:
                    digit = "0"
                elif nxt_kind == "num" and len(nxt) == 1:
                    digit = nxt
                if digit is not None:
                    return j + 1, digit * REPEAT[w], "repeat"
            return None
        r = self.below_1000(i)
        if r is None:
            return None
        k, value, form = r
        j = self.next_word(k - 1)
        following = self.word(j)
        if following == "thousand" and 0 < value < 1000:
            value *= 1000
            k = j + 1
            form = "thousand"
            t = self.tail(k, hundreds=True)
            if t:
                k, add = t
                value += add
        elif form == "teen" or (form == "tens" and value == 20):
            # Years and year-like pairs: "nineteen eighty", "nineteen oh five", "twenty twenty four".
            if following in TENS:
                r2 = self.below_100(j)
                assert r2 is not None
                k, value, form = r2[0], value * 100 + r2[1], "year"
            elif following in OH:
                j2 = self.next_word(j)
                unit = UNITS.get(self.word(j2), 0)
                if unit:
                    k, value, form = j2 + 1, value * 100 + unit, "year"
        return k, str(value), form


def _resolve_oh(items: list[Item], ohs: list[int]) -> None:
    """Turn "oh"/"o" into 0 where a number sits next to it (across separators), in place.

    ``ohs`` are the indices of the "oh"/"o" word items. One such item becomes
    a zero when the nearest item before it that is no separator is a number
    (read left to right, so "nine oh oh" chains), then, for those left, when
    the nearest one after it is (read right to left).
    """

    def is_oh(idx: int) -> bool:
        """A standalone "oh"/"o": one glued to a letter or digit ("O2", "CO2") is not a spoken zero."""
        it = items[idx]
        before = items[idx - 1] if idx > 0 else None
        after = items[idx + 1] if idx + 1 < len(items) else None
        glued_before = before is not None and before.end == it.start and before.kind != "punct"
        glued_after = after is not None and after.start == it.end and after.kind != "punct"
        return not (glued_before or glued_after)

    def is_separator(it: Item) -> bool:
        return it.kind == "punct" and it.low in SEPARATOR_PUNCT

    def to_zero(idx: int) -> None:
        it = items[idx]
        items[idx] = Item(it.start, it.end, "num", it.low, "0", "oh")

    standalone = [idx for idx in ohs if is_oh(idx)]
    for idx in standalone:
        j = idx - 1
        while j >= 0 and is_separator(items[j]):
            j -= 1
        if j >= 0 and items[j].kind == "num":
            to_zero(idx)
    for idx in reversed(standalone):
        if items[idx].kind == "num":
            continue
        j = idx + 1
        while j < len(items) and is_separator(items[j]):
            j += 1
        if j < len(items) and items[j].kind == "num":
            to_zero(idx)


# An item built straight from its fields, without the named tuple's Python ``__new__``.
_new_item = functools.partial(tuple.__new__, Item)


def tokenize_items(text: str) -> list[Item]:
    """Items of ``text``: number expressions merged, words and punctuation as they are."""
    toks = _Tokens(text)
    starts, ends, lows, kinds = toks.starts, toks.ends, toks.lows, toks.kinds
    # Every token as its own item: digits are raw numbers, the rest words or punctuation.
    digits = [low if kind == "num" else "" for low, kind in zip(lows, kinds)]
    forms = ["raw" if kind == "num" else "" for kind in kinds]
    plain: list[Item] = list(map(_new_item, zip(starts, ends, kinds, lows, digits, forms)))
    # Number expressions replace the tokens they span; only words that can start one are parsed.
    parser = _NumberParser(toks)
    items: list[Item] = []
    ohs: list[int] = []  # item indices of the words "oh"/"o"
    copied = 0  # tokens before this index are in ``items``
    for i in [i for i, low in enumerate(lows) if low in _NUMBER_STARTS or low in OH]:
        if i < copied:
            continue  # inside the expression just parsed
        if lows[i] in OH:
            ohs.append(len(items) + i - copied)
            continue
        parsed = parser.parse(i)
        if parsed is None:
            continue
        end, number, form = parsed
        items += plain[copied:i]
        items.append(Item(starts[i], ends[end - 1], "num", "", number, form))
        copied = end
    if copied == 0:
        items = plain
    else:
        items += plain[copied:]
    if ohs:
        _resolve_oh(items, ohs)
    return items


def normalize(text: str) -> SpokenView:
    """The digit view of ``text`` (number words -> digits) with its offset map."""
    return SpokenView(text, tuple(tokenize_items(text)))
