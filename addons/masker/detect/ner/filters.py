"""The NER pass's post-decoding filters and span extensions: rules over the text around a span.

The model is uncased with a small vocabulary, so it takes ordinary words,
clinical shorthand, shift times and readings for identifiers. These rules,
not weights, remove those; they apply to any model ``NerPass`` loads (see
the model card's "Post-decoding filters", ``models/masker-pii-ner/MODEL_CARD.md``).

Speech fillers ("uh", "um") at a span's edges are trimmed first
(``without_fillers``). ``FILTERS`` is then applied in order to every span of
a kind the filter names; any filter that drops the span removes it.
``EXTENSIONS`` then widen the spans every filter kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from masker.detect.ner.model import RawSpan
from masker.detect.recognizers.facility import has_facility_word, is_generic_facility
from masker.detect.spoken.view import NUMBER_WORDS
from masker.detect.vocab.lexicon import common_words, drug_words, is_misspelling
from masker.detect.vocab.shorthand import CLINICAL_SHORTHAND, is_shorthand
from masker.detect.vocab.words import FILLERS, MONTH_PATTERN, ORDINALS, WEEKDAY_PATTERN
from masker.kinds import ALL_KINDS

# A courtesy title or a name cue right before a span: "Mr. Alert", "my name is
# haze" are names whatever the word. "MS" / "ms" without a period is mental
# status in a note ("MS WORSENING", "ms clears"): only "Ms" or "ms." count.
_NAME_CUE = re.compile(
    r"(?:(?<![A-Za-z])(?:(?i:mr|mrs|mx|dr|prof|miss)\.?|Ms\.?|(?i:ms)\.)|(?i:\bname(?:\s+is|'s|:)?|\bnamed))\s*$"
)
_LETTERS = re.compile(r"[^\W\d_]{2,}")
# A lone letter after a name, and what may follow it: a space, punctuation or the end.
_INITIAL = re.compile(r"[ \t]([^\W\d_])(?=\s|[.,;:!?)\]]|$)")
_PAUSE = re.compile(r"[.,;:!?)\]]|\s*\n|\s*$")
# How far around an all-caps word to look for lower case (is it an acronym in prose?).
_CASE_WINDOW = 40
_FACILITY_LOOKAHEAD = 24
_CALENDAR_WORD = re.compile(
    rf"(?i)(?<![a-z])(?:{MONTH_PATTERN}|{WEEKDAY_PATTERN}|today|tomorrow|yesterday"
    r"|tonight|christmas|thanksgiving|easter|halloween|hanukkah|ramadan|new\s+year'?s?)(?![a-z])"
)
# A shift or an interval written as two 24-hour clock times: "1900-0700", "0600 - 0800".
_CLOCK_RANGE = re.compile(r"\s*((?:[01]\d|2[0-3])[0-5]\d)\s*-\s*((?:[01]\d|2[0-3])[0-5]\d)\s*")
_YEAR = re.compile(r"(?:19|20)\d\d")
# Blood gases and ventilator settings: "7.37/45/116", "5/5-.40".
_DECIMAL_SLASHED = re.compile(r"[\d\s./-]*(?:\d\.\d|/\s*\.\d|-\.\d)[\d\s./-]*")
_SPOKEN_EMAIL = re.compile(r"(?i)\S\s+at\s+\S.*(?:\s+dot\s+\S|\.\w)")
# A word of a span as the filler trim sees it: letters and digits, inner apostrophes and hyphens.
_TOKEN = re.compile(r"\w+(?:['-]\w+)*")


class Candidate(NamedTuple):
    """A decoded span as a filter sees it (a tuple: one is built per span).

    ``names`` are the text's decoded NAME spans that the word list cannot
    explain (beside one, a common word is a name part); ``floors`` the
    model's calibrated per-kind floors (``min_confidence`` in ``labels.json``).
    """

    text: str
    start: int
    end: int
    kind: str
    confidence: float
    value: str  # text[start:end]
    names: tuple[tuple[int, int], ...]
    floors: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class NerFilter:
    """Drops a decoded span of one of ``kinds`` when ``drops`` says so; ``reason`` says what and why."""

    id: str
    kinds: frozenset[str]
    drops: Callable[[Candidate], bool]
    reason: str


@dataclass(frozen=True, slots=True)
class NerExtension:
    """Moves the end of a kept span of one of ``kinds`` (``extend(text, span) -> end``;
    ``span.end`` is where the extensions before it left it)."""

    id: str
    kinds: frozenset[str]
    extend: Callable[[str, RawSpan], int]
    reason: str


def plausible_email(value: str) -> bool:
    """An e-mail span needs a written "@" with no space beside it, or the spoken
    "... at ... dot ..." form; "heparin @ 800" or a bare number is not one."""
    at = value.find("@")
    if at > 0 and at < len(value) - 1:
        return not (value[at - 1].isspace() or value[at + 1].isspace())
    return bool(_SPOKEN_EMAIL.search(value))


def without_fillers(text: str, span: RawSpan) -> RawSpan | None:
    """``span`` less the speech fillers at its edges ("my name is uh Dmitri Volkonsky"
    gives "Dmitri Volkonsky"); None when it holds nothing else. The model was trained
    on transcripts with fillers but still takes one into a name now and then; a filler
    identifies nobody. An all-caps word is no filler ("Mercy ER", "UM" a university)."""
    tokens = list(_TOKEN.finditer(text, span.start, span.end))
    first, last = 0, len(tokens)
    while first < last and _filler(tokens[first].group()):
        first += 1
    while last > first and _filler(tokens[last - 1].group()):
        last -= 1
    if first == last:
        return None if tokens else span
    if first == 0 and last == len(tokens):
        return span
    start = tokens[first].start() if first else span.start
    if last == len(tokens):
        return span._replace(start=start)
    end = tokens[last - 1].end()
    return span._replace(start=start, end=end, tail=end)


def _filler(word: str) -> bool:
    return word.lower() in FILLERS and not word.isupper()


def _with_surname(text: str, span: RawSpan) -> int:
    """The end of a NAME widened over the word after it that the model leaned towards
    (``span.tail``, see ``RawSpan``) when that word could be a surname: one space
    away, two letters or more and nothing else, written in the case of the
    name's last word, and no common word, medicine, shorthand, number or calendar
    word ("Maria Lopez", not "Priya congrats", "Joanna thx", "Grace Monday")."""
    if span.tail <= span.end or text[span.end] != " ":
        return span.end
    word = text[span.end + 1 : span.tail]
    names = _LETTERS.findall(text[span.start : span.end])
    if not names or not _LETTERS.fullmatch(word) or not _same_case(names[-1], word):
        return span.end
    if _ordinary_word(word) or word.lower() in NUMBER_WORDS or word.lower() in ORDINALS:
        return span.end
    return span.end if _CALENDAR_WORD.fullmatch(word) else span.tail


def _same_case(name: str, word: str) -> bool:
    """Both lower case, both upper case, or both capitalised."""
    if name.islower() or name.isupper():
        return word.islower() if name.islower() else word.isupper()
    return word[0].isupper() and not word.isupper()


def _with_initial(text: str, span: RawSpan) -> int:
    """The end of a NAME widened over a lone initial after it ("mary k seen at", "John Q."),
    which the model often leaves out. "a" and "i" count only before a pause ("patient
    mary a." but not "mary a few days"); "w" and "x" (with, times) never."""
    end = span.end
    m = _INITIAL.match(text, end)
    if m is None:
        return end
    letter = m.group(1).lower()
    if letter in "wx" or (letter in "ai" and not _PAUSE.match(text, m.end())):
        return end
    return m.end()


def _ordinary_words(text: str, start: int, end: int, names: Sequence[tuple[int, int]]) -> bool:
    """A NAME span of common words only, with no title or name cue before it
    and no other name right beside it ("Ngozi S Haze").

    (Titles are not in the word list, so "Dr. Alert" as one span is kept too.)
    """
    if not _only_ordinary_words(text[start:end]) or _NAME_CUE.search(text[max(0, start - 12):start]):
        return False
    return not any(0 <= start - e <= 3 or 0 <= s - end <= 3 for s, e in names)


def _plain_words(text: str, start: int, end: int) -> bool:
    """An organisation or place written as ordinary words, with nothing that marks a name.

    Title case ("Cedars-Sinai"), a facility word ("sacred heart hospital")
    or an acronym in mixed-case text ("UCLA clinic") keep the span; in an
    all-caps note capitals say nothing, so only the words decide there.
    """
    value = text[start:end]
    words = [w for w in _LETTERS.findall(value) if w.lower() not in drug_words()]  # "Crestor" is no name
    if any(w[0].isupper() and not w.isupper() for w in words):
        return False
    if any(w.isupper() and w not in CLINICAL_SHORTHAND for w in words) and any(
        c.islower() for c in text[max(0, start - _CASE_WINDOW) : end + _CASE_WINDOW]
    ):
        return False
    # a facility word inside or right after it ("sacred heart" + "hosp") makes it a facility
    if not _only_ordinary_words(value):
        return False
    return is_generic_facility(value) or not has_facility_word(text[start : end + _FACILITY_LOOKAHEAD])


def _only_ordinary_words(value: str) -> bool:
    """Every word of two letters or more is a common word, a misspelt one
    ("duaghter"), a medicine ("Crestor") or clinical shorthand in one case
    ("CSRU", "gtt"); there is at least one such word."""
    words = _LETTERS.findall(value)
    return bool(words) and all(_ordinary_word(w) for w in words)


def _ordinary_word(word: str) -> bool:
    low = word.lower()
    if low in common_words() or low in drug_words():
        return True
    single_case = word.isupper() or word.islower()
    return (single_case and word.upper() in CLINICAL_SHORTHAND) or is_misspelling(word)


def _clock_range(value: str) -> bool:
    """Two 24-hour clock times joined by a dash ("1900-0700"), unless both could be years."""
    match = _CLOCK_RANGE.fullmatch(value)
    return match is not None and not (_YEAR.fullmatch(match[1]) and _YEAR.fullmatch(match[2]))


def _clinical_numbers(value: str) -> bool:
    """A DATE span that is a shift's clock times or slashed readings with a decimal ("7.37/45/116")."""
    return _clock_range(value) or ("/" in value and bool(_DECIMAL_SLASHED.fullmatch(value)))


def _no_date_words(value: str) -> bool:
    """A DATE span with no digit, calendar word or number word ("febrile", "this evening")."""
    if any(c.isdigit() for c in value) or _CALENDAR_WORD.search(value):
        return False
    return not any(w.lower() in NUMBER_WORDS or w.lower() in ORDINALS for w in _LETTERS.findall(value))


# The predicates call the helpers by name, so a test may patch a helper in this module.
FILTERS: tuple[NerFilter, ...] = (
    NerFilter(
        "min_confidence", ALL_KINDS,
        lambda c: c.confidence < c.floors.get(c.kind, 0.0),
        "below the kind's floor calibrated for this model (labels.json min_confidence): "
        "the model's confidence scale is a property of the model, not of a policy",
    ),
    NerFilter(
        "clinical_shorthand", frozenset({"NAME", "ORGANIZATION", "LOCATION"}),
        lambda c: is_shorthand(c.value),
        'every word is clinical shorthand written all upper or all lower case ("MAE", "PT/OT", "nsr"): '
        "an abbreviation, not an entity; title-case words are never dropped this way",
    ),
    NerFilter(
        "email_shape", frozenset({"EMAIL"}),
        lambda c: not plausible_email(c.value),
        'no "@" without a space beside it and no spoken "at ... dot" form ("heparin @ 800"): no e-mail',
    ),
    NerFilter(
        "common_words_name", frozenset({"NAME"}),
        # a span in ``names`` was looked up already: it has a word the list cannot explain
        lambda c: (c.start, c.end) not in c.names and _ordinary_words(c.text, c.start, c.end, c.names),
        'only ordinary words ("AWAKE", "lethargic", a slip "duaghter", a medicine "Crestor", '
        'one-case shorthand "CSRU"), with no title or "name is" before it ("Mr. Alert") and no other '
        'name beside it ("Ngozi S Haze"): the uncased model splits a rare word like a surname',
    ),
    NerFilter(
        "common_words_place", frozenset({"ORGANIZATION", "LOCATION"}),
        lambda c: _plain_words(c.text, c.start, c.end),
        "only ordinary words and nothing in the writing that marks a name: no title-case word "
        "(a medicine's aside), no facility word in or right after it (one that only says what kind of "
        'place it is, "nursing home", does not count), no all-caps acronym in mixed-case text '
        '("cath lab", "TRIPLE LUMEN", "the morgue")',
    ),
    NerFilter(
        "calendar_words", frozenset({"DATE"}),
        lambda c: _no_date_words(c.value),
        "no digit, month, weekday, holiday, relative day or number word: no date "
        '("febrile", "this evening", "summer")',
    ),
    NerFilter(
        "clinical_numbers", frozenset({"DATE"}),
        lambda c: _clinical_numbers(c.value),
        'two 24-hour clock times joined by a dash, a shift ("1900-0700", not "1999-2004"), or slashed '
        'numbers holding a decimal, a blood gas or ventilator setting ("7.37/45/116", "5/5-.40")',
    ),
    NerFilter(
        "clock_range", frozenset({"PHONE"}),
        lambda c: _clock_range(c.value),
        'two 24-hour clock times joined by a dash ("1900-0700", not "1999-2004"): a shift, not a number',
    ),
)

EXTENSIONS: tuple[NerExtension, ...] = (
    NerExtension(
        "surname", frozenset({"NAME"}), _with_surname,
        "the word right after a name that the model scored at or above its continuation floor "
        '(labels.json) without tagging it, when it could be a surname: letters in the name\'s case, '
        'no common word, medicine, shorthand, number or calendar word ("Call Maria Lopez tomorrow", '
        'not "Tell Priya congrats")',
    ),
    NerExtension(
        "initial", frozenset({"NAME"}), _with_initial,
        'a lone letter after a name ("john d seen at", "mary k."), which the model often leaves out '
        'in caseless speech text; "a" and "i" only before punctuation or the end of a line, '
        '"w" and "x" (with, times) never',
    ),
)

_FILTERS_OF = {kind: tuple(f for f in FILTERS if kind in f.kinds) for kind in ALL_KINDS}
_EXTENSIONS_OF = {kind: tuple(e for e in EXTENSIONS if kind in e.kinds) for kind in ALL_KINDS}


def screen(text: str, raw: Sequence[RawSpan], floors: Mapping[str, float]) -> list[RawSpan]:
    """The spans of ``raw`` (decoded from ``text``), fillers trimmed, that no filter drops,
    in order, extended."""
    trimmed = [s for s in (without_fillers(text, span) for span in raw) if s is not None]
    names = tuple(
        (s.start, s.end) for s in trimmed if s.kind == "NAME" and not _only_ordinary_words(text[s.start : s.end])
    )
    kept = []
    for span in trimmed:
        candidate = Candidate(text, *span[:4], text[span.start : span.end], names, floors)
        for f in _FILTERS_OF[span.kind]:
            if f.drops(candidate):
                break
        else:
            extended = span
            for extension in _EXTENSIONS_OF[span.kind]:
                extended = extended._replace(end=extension.extend(text, extended))
            kept.append(extended)
    return kept
