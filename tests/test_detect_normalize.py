"""The normalized view (masker.detect.normalize) and its offset map back to the original text.

Values here are synthetic; assertions compare offsets and booleans, so a
failure never prints a planted value.
"""

from __future__ import annotations

import string
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from masker.detect.encoded import decode_inline, view_of
from masker.detect.normalize import (
    COMPOSING_STARTERS,
    CONFUSABLES,
    INVISIBLE_RANGES,
    View,
    nfkc_chunks,
    normalize,
)
from masker.detect.spans import Span

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\ufe0f", "\U000e0001"]
# Latin letter -> a lookalike drawn from the table (Cyrillic first where there is one)
LOOKALIKE: dict[str, str] = {}
for _fake, _latin in CONFUSABLES.items():
    if len(_latin) == 1 and _latin.isascii():
        LOOKALIKE.setdefault(_latin, _fake)
LIGATURES = {"fi": "\ufb01", "fl": "\ufb02", "ff": "\ufb00", "st": "\ufb06"}


def _invisible(c: str) -> bool:
    return any(a <= ord(c) <= b for a, b in INVISIBLE_RANGES)


def _char_bounds(view: View) -> list[tuple[int, int]]:
    return [view.source_span(i, i + 1) for i in range(len(view.text))]


# -- the fast path -------------------------------------------------------------------

@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_is_its_own_view(text: str) -> None:
    view = normalize(text)
    assert view.identity and view.text is text


@given(st.text(alphabet=string.ascii_letters + string.digits + " .,:;-()/@'\"!?\n", max_size=200))
def test_ascii_text_without_escapes_is_its_own_full_view(text: str) -> None:
    view = view_of(text)
    assert view.identity and view.text == text


def test_an_identity_view_returns_spans_unchanged() -> None:
    spans = [Span(0, 3, "NAME", "regex", "x", 0.9)]
    out = View.of("abc def").source_spans(spans)
    assert out == spans


# -- what the view folds -------------------------------------------------------------

def test_fullwidth_and_mathematical_forms_become_ascii() -> None:
    assert normalize("４１５-５５５-０１４２").text == "415-555-0142"
    assert normalize("𝐌𝐚𝐫𝐢𝐚").text == "Maria"
    assert normalize("𝟏𝟐𝟑").text == "123"


def test_every_unicode_decimal_digit_becomes_ascii() -> None:
    for zero in (0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE):
        digits = "".join(chr(zero + d) for d in range(10))
        assert normalize(digits).text == "0123456789", hex(zero)


def test_invisible_characters_are_removed() -> None:
    for c in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"):
        view = normalize(f"12{c}3")
        assert view.text == "123"
        assert view.source_span(0, 3) == (0, 4)  # the span covers the hidden character


def test_tag_characters_become_the_ascii_they_hide() -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "SSN")
    assert normalize("x" + hidden).text == "xSSN"


def test_confusables_fold_in_a_latin_word_or_a_word_of_lookalikes_only() -> None:
    assert normalize("\u041c\u0430ria").text == "Maria"  # Cyrillic М, а in a Latin word
    assert normalize("\u041d\u043e\u0440").text == "Hop"  # only lookalikes
    assert normalize("\u0391\u039f").text == "AO"  # Greek capitals
    russian = "\u043e\u043d\u0430"  # "она": н has no Latin twin
    assert normalize(russian).text == russian
    greek = "\u0391\u03b8\u03ae\u03bd\u03b1"
    assert normalize(greek).text == greek


def test_dash_lookalikes_between_digits_become_hyphens() -> None:
    assert normalize("415\u2013555\u20130142").text == "415-555-0142"
    assert normalize("a \u2013 b").text == "a \u2013 b"  # prose dashes stay


def test_combining_marks_on_ascii_are_dropped_with_their_base_covered() -> None:
    view = normalize("1\u03322\u03323\u0332")
    assert view.text == "123"
    assert view.source_span(0, 3) == (0, 6)
    assert normalize("Jose\u0301").text == "Jos\u00e9"


def test_ligatures_map_one_to_many_and_back_to_the_whole_character() -> None:
    view = normalize("\ufb01ne")
    assert view.text == "fine"
    assert _char_bounds(view) == [(0, 1), (0, 1), (1, 2), (2, 3)]
    assert view.source_span(1, 4) == (0, 3)  # "ine" takes in the whole "ﬁ"
    assert normalize("\u00bd \u00be").text == "\u00bd \u00be"  # vulgar fractions stay: "1⁄2" reads as a date
    assert normalize("4\u204412\u20441961").text == "4/12/1961"  # a fraction slash written between digits


def test_escapes_decode_in_the_view() -> None:
    assert view_of("&#52;&#x31;5 &amp; \\u0041\\x42 \\ud83d\\ude00").text == "415 & AB \U0001F600"
    assert view_of("&amp;#52;").text == "4"  # decoded twice
    assert view_of("&#xFF14;").text == "4"  # decoded, then normalized
    assert view_of("&bogus; \\ud800").text == "&bogus; \\ud800"  # unknown entity, lone surrogate


def test_tokens_are_untouched_by_the_view() -> None:
    token = "MSKV1.PHONE.K_HEALTHCARE." + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = f"call {token}\u200b now \u0430"
    view = view_of(text)
    assert token in view.text
    start = view.text.index(token)
    assert view.source_span(start, start + len(token)) == (5, 5 + len(token))


# -- the offset map: properties ------------------------------------------------------

def _disguise(draw, value: str) -> str:
    """``value`` rewritten char by char in lookalike forms, with hidden characters between."""
    out: list[str] = []
    i = 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in LIGATURES and draw(st.booleans()):
            out.append(LIGATURES[pair])
            i += 2
        else:
            c = value[i]
            forms = [c]
            if c.isalnum():
                forms.append(chr(ord(c) + 0xFEE0))  # fullwidth
            if c.isdigit():
                forms += [chr(0x0660 + int(c)), chr(0x0966 + int(c)), chr(0x1D7CE + int(c))]
            elif c in LOOKALIKE:
                forms.append(LOOKALIKE[c])
            form = draw(st.sampled_from(forms))
            if form.isascii() and c.isalnum() and draw(st.booleans()):
                form += draw(st.sampled_from(["\u0332", "\u0336"]))  # underline, strike-through
            out.append(form)
            i += 1
        if i < len(value) and draw(st.booleans()):
            out.append(draw(st.sampled_from(INVISIBLE)))
    return "".join(out)


@st.composite
def planted(draw) -> tuple[str, str, str, str]:
    words = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8)
    prefix = " ".join(draw(st.lists(words, max_size=4)))
    suffix = " ".join(draw(st.lists(words, max_size=4)))
    value = draw(st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=16))
    value = value.strip("-") or "x"
    return (prefix + " " if prefix else ""), value, _disguise(draw, value), (" " + suffix if suffix else "")


@settings(max_examples=300)
@given(planted())
def test_a_span_on_the_view_maps_to_exactly_the_disguised_original(case: tuple[str, str, str, str]) -> None:
    prefix, value, disguised, suffix = case
    text = prefix + disguised + suffix
    view = normalize(text)
    assert view.text == prefix + value + suffix
    a, b = view.source_span(len(prefix), len(prefix) + len(value))
    assert (a, b) == (len(prefix), len(prefix) + len(disguised))


_ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(INVISIBLE + list(CONFUSABLES) + list(LIGATURES.values())
                        + ["\u0301", "\u0332", "\u00bd", "\uff14", "\u0664", "\U0001d40c", "e", "1", " ", "-",
                           "\u1100", "\u1161", "\u11a8", "\uff76", "\uff9e", "\u0b47", "\u0b3e"]),
    ),
    max_size=60,
)


@settings(max_examples=400)
@given(_ANY_TEXT)
def test_the_map_is_monotone_and_maps_to_whole_chunks(text: str) -> None:
    view = normalize(text)
    bounds = _char_bounds(view)
    cuts = {a for a, _ in nfkc_chunks(text)} | {len(text)}
    for (a, b), (c, d) in zip(bounds, bounds[1:]):
        assert a <= c and b <= d
    for a, b in bounds:
        assert 0 <= a < b <= len(text)
        assert a in cuts and b in cuts  # never half a combining sequence
    for i in range(len(view.text)):
        for j in range(i + 1, len(view.text) + 1):
            assert view.source_span(i, j) == (bounds[i][0], bounds[j - 1][1])
    covered = {k for a, b in bounds for k in range(a, b)}
    assert all(_invisible(text[k]) for k in range(len(text)) if k not in covered)


@settings(max_examples=300)
@given(_ANY_TEXT)
def test_chunks_normalize_like_the_whole_text(text: str) -> None:
    chunked = "".join(unicodedata.normalize("NFKC", text[a:b]) for a, b in nfkc_chunks(text))
    assert chunked == unicodedata.normalize("NFKC", text)


@settings(max_examples=200)
@given(_ANY_TEXT)
def test_the_view_is_stable(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


_ESCAPES = {"&#52;": "4", "&amp;": "&", "&lt;": "<", "\\u0041": "A", "\\x42": "B", "\\xc3\\xa9": "\u00e9",
            "&#65300;": "4"}


@settings(max_examples=200)
@given(st.lists(st.one_of(st.sampled_from(sorted(_ESCAPES)),
                          st.text(alphabet=string.ascii_letters + " 1-", max_size=5)), max_size=10))
def test_escapes_map_to_whole_escapes(parts: list[str]) -> None:
    text = "".join(parts)
    view = view_of(text)
    assert view.text == "".join(_ESCAPES.get(p, p) for p in parts)
    cuts, at = {0}, 0
    for p in parts:
        if p not in _ESCAPES:
            cuts.update(range(at, at + len(p)))
        at += len(p)
        cuts.add(at)
    for i in range(len(view.text)):
        a, b = view.source_span(i, i + 1)
        assert 0 <= a < b <= len(text)
        assert a in cuts and b in cuts  # an escape is masked whole or not at all
    assert decode_inline(text).source == text


def test_composing_starters_match_the_unicode_data() -> None:
    """The table of starters that compose with what precedes them is what ``unicodedata`` says."""
    seconds: set[int] = set()
    for cp in range(0x110000):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                seconds.add(int(parts[1], 16))
    expected = {cp for cp in seconds if unicodedata.combining(chr(cp)) == 0}
    for cp in range(0x110000):
        c = chr(cp)
        if unicodedata.combining(c) == 0:
            k = unicodedata.normalize("NFKD", c)
            if k != c and (unicodedata.combining(k[0]) != 0 or ord(k[0]) in seconds):
                expected.add(cp)
    expected |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    assert expected == COMPOSING_STARTERS


def test_confusables_are_letters_that_fold_to_one_latin_letter() -> None:
    for fake, latin in CONFUSABLES.items():
        assert len(fake) == 1 and fake.isalpha() and not fake.isascii()
        assert len(latin) == 1 and unicodedata.normalize("NFD", latin)[0].isascii()
