"""The spoken-number view the spoken-form recognizers read: number words -> digits, offsets kept.

Speech-to-text writes what callers say: "one two three forty five", "double
five", "nineteen oh five", "twelve hundred". ``normalize`` turns every number
expression into digits and keeps all other characters, so digit-based
detectors can run over the result (the *view*); ``SpokenView.to_original``
maps any span of the view back onto the original words.

The view is also tokenized into ``Item``s (numbers, words, punctuation) that
the spoken-form recognizers walk; building both in one linear scan means a
text is tokenized once.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

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
_TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|[0-9]+|_|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Item:
    """One unit of a tokenized text: a number expression, a word or a punctuation mark.

    ``start``/``end`` are offsets in the original text. ``low`` is the lowercased
    original text of a word or punctuation item. Numbers carry ``digits`` and a
    ``form``: ``raw`` (digits in the original), ``unit``, ``teen``, ``tens``,
    ``compound`` (forty five), ``hundred``, ``thousand``, ``year`` (nineteen
    eighty), ``repeat`` (double five) or ``oh``.
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


@dataclass(frozen=True, slots=True)
class _Tok:
    start: int
    end: int
    low: str
    kind: str  # "w" word, "d" digits, "p" punctuation


def _tokenize(text: str) -> list[_Tok]:
    toks = []
    for m in _TOKEN_RE.finditer(text):
        s = m.group()
        kind = "d" if "0" <= s[0] <= "9" else ("w" if s[0].isalpha() else "p")
        toks.append(_Tok(m.start(), m.end(), s.lower(), kind))
    return toks


class _NumberParser:
    """Greedy left-to-right parse of number expressions over tokens.

    Words of one expression are separated by whitespace or one hyphen
    ("forty-five"); commas and other punctuation end an expression.
    """

    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks

    def next_word(self, i: int) -> int:
        """Index of the word continuing an expression after token ``i``, or -1."""
        toks = self.toks
        j = i + 1
        if j < len(toks) and toks[j].low == "-" and toks[j].start == toks[i].end:
            j += 1
        if j < len(toks) and toks[j].kind == "w":
            return j
        return -1

    def word(self, j: int) -> str:
        return self.toks[j].low if j >= 0 else ""

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
        toks = self.toks
        w = self.word(i)
        if w in REPEAT:
            j = i + 1
            if j < len(toks):
                nxt = toks[j]
                digit = None
                if nxt.kind == "w" and nxt.low in UNITS:
                    digit = str(UNITS[nxt.low])
                elif nxt.kind == "w" and nxt.low in OH:
                    digit = "0"
                elif nxt.kind == "d" and len(nxt.low) == 1:
                    digit = nxt.low
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


def _resolve_oh(items: list[Item]) -> list[Item]:
    """Turn "oh"/"o" into 0 where a number sits next to it (across separators)."""

    def is_oh(idx: int) -> bool:
        """A standalone "oh"/"o": one glued to a letter or digit ("O2", "CO2") is not a spoken zero."""
        it = items[idx]
        if it.kind != "word" or it.low not in OH:
            return False
        before = items[idx - 1] if idx > 0 else None
        after = items[idx + 1] if idx + 1 < len(items) else None
        glued_before = before is not None and before.end == it.start and before.kind != "punct"
        glued_after = after is not None and after.start == it.end and after.kind != "punct"
        return not (glued_before or glued_after)

    def neighbours(order: range) -> None:
        prev_num = False
        for idx in order:
            it = items[idx]
            if it.kind == "punct" and it.low in SEPARATOR_PUNCT:
                continue
            if prev_num and is_oh(idx):
                items[idx] = Item(it.start, it.end, "num", it.low, "0", "oh")
            prev_num = items[idx].is_num

    items = list(items)
    if any(is_oh(idx) for idx in range(len(items))):
        neighbours(range(len(items)))
        neighbours(range(len(items) - 1, -1, -1))
    return items


def tokenize_items(text: str) -> list[Item]:
    """Items of ``text``: number expressions merged, words and punctuation as they are."""
    toks = _tokenize(text)
    parser = _NumberParser(toks)
    items: list[Item] = []
    i = 0
    n = len(toks)
    while i < n:
        tok = toks[i]
        if tok.kind == "d":
            items.append(Item(tok.start, tok.end, "num", tok.low, tok.low, "raw"))
            i += 1
            continue
        if tok.kind == "w":
            r = parser.parse(i)
            if r is not None:
                end, digits, form = r
                items.append(Item(tok.start, toks[end - 1].end, "num", "", digits, form))
                i = end
                continue
            items.append(Item(tok.start, tok.end, "word", tok.low))
        else:
            items.append(Item(tok.start, tok.end, "punct", tok.low))
        i += 1
    return _resolve_oh(items)


def normalize(text: str) -> SpokenView:
    """The digit view of ``text`` (number words -> digits) with its offset map."""
    return SpokenView(text, tuple(tokenize_items(text)))
