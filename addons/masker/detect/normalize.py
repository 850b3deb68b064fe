"""The normalized view the detectors read, with an exact map back to the original text.

Why: every detector pattern is written against plain ASCII ("[0-9]{3}",
"[ .-]", a cue word spelled in Latin letters). Text written to slip past
them ("４１５-５５５-０１４２", "٤١٥-٥٥٥-٠١٤٢", "Маria" with a Cyrillic "М",
"123\u200b-45-6789" with a zero-width space) reads the same to a person and
to the model at the provider, so it is the same PHI. The detectors scan a
*view* of the text in which those writings are folded to what they look
like, and every span found there is mapped back to the original characters,
which are what gets masked and tokenized (the vault normalizes the value it
is given; the detector never rewrites the text it returns offsets into).

What the view folds, in order:

1. Unicode NFKC, per *chunk* (a starter and the characters that may compose
   with it), so that each chunk's output maps to exactly that chunk:
   fullwidth "４" and mathematical "𝐌" become "4" and "M", "ﬁ" becomes "fi"
   (one original character -> two view characters), "e" + U+0301 becomes "é"
   (two -> one), no-break and other spaces become " ", "…" becomes "...";
2. every Unicode decimal digit (``unicodedata.decimal``: Arabic-Indic,
   Devanagari, Bengali, ...) becomes its ASCII digit;
3. invisible characters (zero-width space/joiners U+200B..U+200D, word
   joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, bidi controls, variation
   selectors) are removed; Unicode tag characters (U+E0020..U+E007E, an
   invisible copy of ASCII used to smuggle text) become the ASCII they copy;
   combining marks left over on an ASCII character ("1̲2̲3̲", "M̶") are
   removed, the character keeping them in its range;
4. confusable letters (Cyrillic, Greek, Armenian, Cherokee, a few Latin
   lookalikes; a compact subset of Unicode's confusables.txt, single letters
   whose prototype is one Latin letter) are folded to that Latin letter in a
   word that already holds a Latin letter ("Маria") or consists only of such
   lookalikes ("Нор" -> "Hop"); a Russian or Greek word with a letter of its
   own ("она", "Αθήνα") is left as it is;
5. dash, dot and slash lookalikes between two digits ("415–555–0142",
   "415·555·0142", "4⁄12⁄1961") become "-", "." and "/".

Vulgar fractions ("½", "¾") are left as written: NFKC makes "1⁄2" of them,
which reads as a date, and they hide no identifier.

Steps 4 and 5 replace one character by one, so they keep the map of 1-3.

Offsets: ``View.source_span(start, end)`` maps a view range to the smallest
original range holding every original character that produced it: a view
character from a chunk maps to the whole chunk (a span never splits "ﬁ" or
"e" + accent), removed characters inside a span are covered by it, removed
characters at its edges are not. The map is monotone: a later view position
never maps before an earlier one.

Fast path: ASCII text is its own view (``View.identity``), at the cost of one
``str.isascii``.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from functools import lru_cache

import regex

from masker.detect.spans import Span

# Characters that change nothing a reader sees; removed in the view. The bidi
# controls (U+202A..U+202E, U+2066..U+2069, U+200E/U+200F, U+061C) reorder
# what is displayed, and a detector must read the logical order anyway.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates, deprecated format characters
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xE0001, 0xE0001),  # language tag
    (0xE007F, 0xE007F),  # cancel tag
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
_INVISIBLE_CLASS = "".join(
    f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in INVISIBLE_RANGES
)
_INVISIBLE_RE = regex.compile(f"[{_INVISIBLE_CLASS}]")
# Tag characters copy printable ASCII, invisibly: U+E0041 is a hidden "A".
_TAG_FIRST, _TAG_LAST = 0xE0020, 0xE007E

# Characters of combining class 0 that still compose with the character before
# them (NFC's canonical pairs whose second member is a starter: Indic and
# Sinhala vowel parts, Hangul vowel and final jamo), or whose compatibility
# decomposition starts with a combining mark (halfwidth katakana voicing marks,
# Tibetan vowel signs). A chunk boundary is never put before one of them.
# ``tests/test_detect_normalize.py`` recomputes this set from ``unicodedata``.
COMPOSING_STARTERS: frozenset[int] = frozenset(
    {
        0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6,
        0x0D3E, 0x0D57, 0x0DCF, 0x0DDF, 0x0F73, 0x0F75, 0x0F81, 0x0FB5, 0x0FB7, 0x102E,
        0x1B35, 0xFF9E, 0xFF9F, 0x11127, 0x1133E, 0x11357, 0x114B0, 0x114BA, 0x114BD,
        0x115AF, 0x11930,
    }
    | set(range(0x1161, 0x1176))  # Hangul vowel jamo (LV composition)
    | set(range(0x11A8, 0x11C3))  # Hangul final jamo (LVT composition)
)

# Confusable letters -> the Latin letter they are drawn as. A compact subset of
# Unicode's confusables.txt (UTS #39): single letters whose prototype is one
# Latin letter, in the scripts used to disguise English text.
CONFUSABLES: dict[str, str] = {
    # Cyrillic capitals
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K",
    "М": "M", "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y",
    "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I", "Ԍ": "G", "Ѵ": "V", "Һ": "H", "Ё": "Ë", "Ї": "Ï",
    "Ӓ": "Ä", "Ӧ": "Ö",
    # Cyrillic small letters
    "а": "a", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "о": "o", "р": "p",
    "ѕ": "s", "х": "x", "у": "y", "ү": "y", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "ё": "ë", "ї": "ï", "ӓ": "ä", "ӧ": "ö", "ѵ": "v", "ԍ": "g",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    "α": "a", "ο": "o", "ρ": "p", "ι": "i", "ν": "v", "υ": "u", "γ": "y", "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "Օ": "O", "Ս": "U", "Տ": "S", "Լ": "L", "օ": "o", "ս": "u", "հ": "h", "ո": "n",
    "ց": "g", "զ": "q",
    # Cherokee capitals
    "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮐ": "G", "Ꮋ": "H", "Ꭻ": "J", "Ꮶ": "K",
    "Ꮮ": "L", "Ꮇ": "M", "Ꮲ": "P", "Ꭱ": "R", "Ꮪ": "S", "Ꭲ": "T", "Ꮩ": "V", "Ꮃ": "W",
    "Ꮓ": "Z",
    # Latin lookalikes outside ASCII
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʀ": "R", "ᴀ": "A",
}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)
_CONFUSABLE_CLASS = "".join(regex.escape(c) for c in CONFUSABLES)
_CONFUSABLE_CHAR = regex.compile(f"[{_CONFUSABLE_CLASS}]")
_WORD_RUN = regex.compile(r"[\p{L}\p{M}]+")
_LATIN = regex.compile(r"\p{Latin}")

# Separators drawn like "-", "." or "/" (hyphen, non-breaking hyphen's NFKC
# form, figure dash, en dash, minus; middle dot, bullet operator; fraction and
# division slash), folded only between two digits, where they separate the
# groups of a number.
_DIGIT_SEPARATORS: dict[str, str] = {
    "\u2010": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-", "\u2043": "-",
    "\u00b7": ".", "\u2219": ".", "\u2027": ".",
    "\u2044": "/", "\u2215": "/",
}
_SEPARATOR_TABLE = str.maketrans(_DIGIT_SEPARATORS)
_DIGIT_SEPARATOR = regex.compile(
    "(?<=[0-9])[" + "".join(_DIGIT_SEPARATORS) + "](?=[0-9])"
)

_NON_ASCII_RUN = regex.compile(r"[^\x00-\x7f]+")
# What steps 2 and 3 change even in NFKC text: non-ASCII digits, invisible and
# tag characters (ASCII runs never reach this pattern).
_HOT = regex.compile(rf"[\p{{Nd}}\U000E0000-\U000E007F{_INVISIBLE_CLASS}]")


class View:
    """A text as the detectors read it, and the map back to the text it came from.

    ``text`` is what the passes scan, ``source`` the text the caller holds.
    The map is a sorted list of segments, each either *linear* (view
    character ``i`` is source character ``o + (i - v)``) or a *block* (every
    view character of the segment stands for the whole source range). A view
    may be built on another view (``parent``): ``source_span`` then maps
    through every layer to the outermost source.
    """

    __slots__ = ("text", "source", "parent", "_v", "_o", "_olen", "_linear")
    _o: Sequence[int]
    _olen: Sequence[int]
    _linear: Sequence[bool]

    def __init__(
        self,
        text: str,
        source: str,
        segments: Sequence[tuple[int, int, int, bool]] | None,
        parent: View | None = None,
    ) -> None:
        self.text = text
        self.source = source
        self.parent = parent
        if segments is None:
            self._v: list[int] | None = None
            self._o = self._olen = self._linear = ()
        else:
            self._v = [s[0] for s in segments]
            self._o = [s[1] for s in segments]
            self._olen = [s[2] for s in segments]
            self._linear = [s[3] for s in segments]

    @classmethod
    def of(cls, text: str) -> View:
        """The view that is the text itself."""
        return cls(text, text, None)

    @property
    def identity(self) -> bool:
        """True when the view is the source, character for character (nothing to map)."""
        return self._v is None and self.parent is None

    @property
    def original(self) -> str:
        """The outermost source text."""
        return self.source if self.parent is None else self.parent.original

    def on(self, parent: View) -> View:
        """This view, built on ``parent.text``, read through ``parent`` to its source."""
        if parent.text != self.source:
            raise ValueError("a view is built on its parent's text")
        if parent.identity:
            return self
        if self.identity:
            return parent
        base = parent if self.parent is None else self.parent.on(parent)
        view = View(self.text, self.source, None, base)
        view._v, view._o, view._olen, view._linear = self._v, self._o, self._olen, self._linear
        return view

    def _bounds(self, i: int) -> tuple[int, int]:
        """Source range of view character ``i`` in this layer."""
        if self._v is None:
            return i, i + 1
        k = bisect_right(self._v, i) - 1
        if self._linear[k]:
            o = self._o[k] + (i - self._v[k])
            return o, o + 1
        return self._o[k], self._o[k] + self._olen[k]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The original range of view range ``[start, end)`` (non-empty)."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError("view range out of bounds")
        a = self._bounds(start)[0]
        b = self._bounds(end - 1)[1]
        if self.parent is not None:
            return self.parent.source_span(a, b)
        return _whole(self.source, a, b)

    def source_spans(self, spans: Iterable[Span]) -> list[Span]:
        """Spans of the view as spans of the original text (kind, pass, confidence kept)."""
        if self.identity:
            return list(spans)
        out = []
        for s in spans:
            a, b = self.source_span(s.start, s.end)
            out.append(s if (a, b) == (s.start, s.end) else s.moved(a, b))
        return out


class MapBuilder:
    """Builds a view piece by piece: linear runs and blocks, in source order."""

    __slots__ = ("pieces", "segments", "_vlen", "changed")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.segments: list[tuple[int, int, int, bool]] = []
        self._vlen = 0
        self.changed = False

    def same(self, o: int, text: str) -> None:
        """``text`` copied from source position ``o`` (one view character per source character)."""
        self.linear(o, text, text)

    def linear(self, o: int, source: str, out: str) -> None:
        """``out`` replaces ``source`` (at ``o``) character for character."""
        if not out:
            return
        if out != source:
            self.changed = True
        segs = self.segments
        if segs and segs[-1][3]:
            v0, o0, n0, _ = segs[-1]
            if v0 + n0 == self._vlen and o0 + n0 == o:
                segs[-1] = (v0, o0, n0 + len(out), True)
                self.pieces.append(out)
                self._vlen += len(out)
                return
        segs.append((self._vlen, o, len(out), True))
        self.pieces.append(out)
        self._vlen += len(out)

    def block(self, o: int, olen: int, out: str) -> None:
        """``out`` (any length, maybe empty) stands for source ``[o, o + olen)`` as a whole."""
        self.changed = True
        if not out:
            return  # removed: no view character maps to it
        if len(out) == 1 and olen == 1:
            self.linear(o, "", out)
            return
        self.segments.append((self._vlen, o, olen, False))
        self.pieces.append(out)
        self._vlen += len(out)

    def view(self, source: str, text: str | None = None) -> View:
        if not self.changed:
            return View.of(source)
        return View("".join(self.pieces) if text is None else text, source, self.segments)


def normalize(text: str) -> View:
    """The normalized view of ``text`` (see the module docstring)."""
    if text.isascii():
        return View.of(text)
    b = MapBuilder()
    pos = 0
    for m in _NON_ASCII_RUN.finditer(text):
        start, end = m.span()
        if start > pos and _joins(text[start]):
            # a combining sequence on the ASCII character before: NFKC may compose it
            # ("e" + U+0301), or its marks are dropped ("1" + U+0332)
            j = start + 1
            while j < end and _joins(text[j]):
                j += 1
            b.same(pos, text[pos : start - 1])
            _fold_chunks(text, start - 1, j, b)
            start = j
        else:
            b.same(pos, text[pos:start])
        _fold_run(text, start, end, b)
        pos = end
    b.same(pos, text[pos:])
    view = b.view(text) if b.changed else View.of(text)
    folded = _fold_context(view)
    if folded is view.text:
        return view
    if view.identity:
        return View(folded, text, [(0, 0, len(text), True)])  # one for one: positions kept
    return b.view(text, folded)


def _whole(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` widened to whole combining sequences of ``text``."""
    while start > 0 and _joins(text[start]):
        start -= 1
    while end < len(text) and _joins(text[end]):
        end += 1
    return start, end


def nfkc_chunks(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk: a starter and what may compose with it.

    NFKC of the whole text is the concatenation of NFKC of its chunks (the
    property the offset map rests on; tested).
    """
    chunks: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or not _joins(text[i]):
            chunks.append((start, i))
            start = i
    return chunks if text else []


def _joins(c: str) -> bool:
    """May ``c`` compose with (or reorder against) the character before it?"""
    return unicodedata.combining(c) != 0 or ord(c) in COMPOSING_STARTERS


def _fold_run(text: str, start: int, end: int, b: MapBuilder) -> None:
    """Steps 1-3 over the non-ASCII run ``text[start:end]``.

    Only what may change is looked at character by character: the "hot"
    characters (non-ASCII digits, invisible and tag characters) with the
    marks after them, and stretches between them that are not NFKC already.
    The rest (most non-Latin prose, accented letters, curly quotes, dashes)
    is checked in C (``unicodedata.is_normalized``) and copied.
    """
    pos = start
    for m in _HOT.finditer(text, start, end):
        if m.start() < pos:
            continue  # a mark already taken with the character before
        _fold_stretch(text, pos, m.start(), b)
        j = m.end()
        while j < end and _joins(text[j]):
            j += 1
        _fold_chunks(text, m.start(), j, b)
        pos = j
    _fold_stretch(text, pos, end, b)


def _fold_stretch(text: str, start: int, end: int, b: MapBuilder) -> None:
    if start >= end:
        return
    stretch = text[start:end]
    if unicodedata.is_normalized("NFKC", stretch):
        b.same(start, stretch)
    else:
        _fold_chunks(text, start, end, b)


def _fold_chunks(text: str, start: int, end: int, b: MapBuilder) -> None:
    """Steps 1-3 chunk by chunk: each chunk's output maps to the whole chunk."""
    i = start
    while i < end:
        j = i + 1
        while j < end and _joins(text[j]):
            j += 1
        chunk = text[i:j]
        out = _fold_char(chunk) if j == i + 1 else _fold_chunk(chunk)
        if len(chunk) == len(out) and (j == i + 1 or out == chunk):
            b.linear(i, chunk, out)  # one for one (``source_span`` keeps sequences whole)
        else:
            b.block(i, j - i, out)
        i = j


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    return _fold_chunk(c)


def _fold_chunk(chunk: str) -> str:
    cp = ord(chunk[0])
    if len(chunk) == 1 and _TAG_FIRST <= cp <= _TAG_LAST:
        return chr(cp - 0xE0000)
    raw = _INVISIBLE_RE.sub("", chunk)
    if not raw:
        return ""
    out = unicodedata.normalize("NFKC", raw)
    if "\u2044" in out and "\u2044" not in raw:
        return raw  # a vulgar fraction: "½" as "1⁄2" reads as a date, and it hides no identifier
    if not out.isascii():
        out = "".join(_digit(c) for c in out)
    if len(out) > 1 and out[0].isascii():
        # marks NFKC could not compose onto an ASCII character decorate it ("1̲", "-̲", "M̶")
        out = out[0] + "".join(c for c in out[1:] if unicodedata.category(c) not in ("Mn", "Me"))
    return out


def _digit(c: str) -> str:
    if c.isascii():
        return c
    d = unicodedata.decimal(c, None)
    return c if d is None else str(d)


def _fold_context(view: View) -> str:
    """Steps 4 and 5 over ``view.text``: one character for one, so the map stays as it is."""
    text = view.text
    if _CONFUSABLE_CHAR.search(text) is not None:
        text = _fold_confusables(text)
    if _DIGIT_SEPARATOR.search(text) is not None:
        text = _DIGIT_SEPARATOR.sub(lambda m: m.group().translate(_SEPARATOR_TABLE), text)
    return view.text if text == view.text else text


def _fold_confusables(view: str) -> str:
    """Each word holding a lookalike, folded where ``_folds`` says so (linear: a word is read once)."""
    parts: list[str] = []
    pos = 0
    for m in _CONFUSABLE_CHAR.finditer(view):
        if m.start() < pos:
            continue  # in the word just read
        start = m.start()
        while start > pos and _is_word_char(view[start - 1]):
            start -= 1
        end = _WORD_RUN.match(view, m.start()).end()
        word = view[start:end]
        parts.append(view[pos:start])
        parts.append(word.translate(_CONFUSABLE_TABLE) if _folds(word) else word)
        pos = end
    parts.append(view[pos:])
    return "".join(parts)


def _is_word_char(c: str) -> bool:
    return c.isalpha() or unicodedata.category(c) in ("Mn", "Mc", "Me")


def _folds(word: str) -> bool:
    """A Latin word with lookalikes mixed in, or a word of lookalikes only (a disguised Latin word)."""
    if _LATIN.search(word) is not None:
        return True
    return all(c in CONFUSABLES or not c.isalpha() for c in word)
