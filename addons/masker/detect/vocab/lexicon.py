"""Ordinary English words that are neither a person's nor a place's name.

The NER model is uncased and its vocabulary small: in a nursing note
"AWAKE", "lethargic" or "SHEATH" splits into pieces the way a rare surname
does, and comes back as a NAME. A word list settles what the model cannot:
a NAME made only of words in ``data/common_words.txt`` is not a name.

The list is built by ``scripts/build_lexicon.py`` from an English word-
frequency list with every census and Faker first name or surname (the
surnames down to rank 20,000) and every sizeable place name taken out, so
"Rose", "Bill" and "Baltimore" are not in it; the 500 commonest English
words ("will", "may", "young") stay in it all the same. One-letter words
(initials) are ignored: "S. FAMILY" is made of common words, "J. Smith" is not.

``data/name_words.txt`` holds the English words taken out because they are
also names ("reach", "fresh", "early"): ``is_english_word`` knows both lists,
for rules where any dictionary word rules a candidate out ("TO REACH" is no
hospital's initials).

Notes are typed in a hurry: ``is_misspelling`` knows a long word one typing
slip away from a common word ("duaghter", "ADMSSION", "tommorrow").
``data/slip_names.txt`` lists the known names and places that look like such
a slip ("florian", "marchand"), so they never count as one.

``data/drug_words.txt`` holds one-word medicine names, generic and brand
("prednisone", "Ozempic"): the model takes a brand name it never saw for a
company or a place ("my pharmacy is out of Crestor"), and a medicine is no
identifier; names and places are taken out of this list too ("Allegra").
"""

from __future__ import annotations

import bisect
import functools
from pathlib import Path

import regex

WORDS_FILE = Path(__file__).parent / "data" / "common_words.txt"
NAME_WORDS_FILE = Path(__file__).parent / "data" / "name_words.txt"
SLIP_NAMES_FILE = Path(__file__).parent / "data" / "slip_names.txt"
DRUG_WORDS_FILE = Path(__file__).parent / "data" / "drug_words.txt"
_WORD = regex.compile(r"\p{L}+")
_TOKEN = regex.compile(r"\p{L}+(?:['’]\p{L}+)*")
# An English contraction: a stem and a clitic ("we're", "they've", "don't"). Its
# stem decides; "i" is a word though it has one letter, and four stems of "n't"
# are no words alone ("can't", "won't", "shan't", "ain't").
_CONTRACTION = regex.compile(r"(?i)(\p{L}+?)(?:n['’]t|['’](?:re|ve|ll|d|m|s))")
_CONTRACTION_STEMS = frozenset({"i", "ca", "wo", "sha", "ai"})
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
# Shorter words are too often a name one letter away from a word ("Logan", "login").
MISSPELLING_MIN_LENGTH = 7


@functools.cache
def _read_words(path: Path) -> frozenset[str]:
    """A word list (one lower-case word per line), read once per process."""
    return frozenset(path.read_text(encoding="utf-8").split())


def common_words() -> frozenset[str]:
    """English words that are no one's name and no place."""
    return _read_words(WORDS_FILE)


def name_words() -> frozenset[str]:
    """English words that are also names."""
    return _read_words(NAME_WORDS_FILE)


def is_english_word(word: str) -> bool:
    """True for any English word of two letters or more, name or not."""
    low = word.lower()
    return len(low) > 1 and (low in common_words() or low in name_words())


def only_common_words(value: str) -> bool:
    """True when every word of two or more letters in ``value`` is a common word,
    and there is at least one such word. A contraction counts by its stem
    ("we're", "i'm"); another word with an apostrophe by its parts ("o'neill")."""
    known = common_words()
    common: list[bool] = []
    for token in _TOKEN.findall(value):
        contraction = _CONTRACTION.fullmatch(token)
        if contraction is None:
            common.extend(w.lower() in known for w in _WORD.findall(token) if len(w) > 1)
        else:
            stem = contraction.group(1).lower()
            common.append(stem in _CONTRACTION_STEMS or stem in known)
    return bool(common) and all(common)


def slip_names() -> frozenset[str]:
    """Names and places one slip from a common word ("florian", "marchand")."""
    return _read_words(SLIP_NAMES_FILE)


def drug_words() -> frozenset[str]:
    """One-word medicine names."""
    return _read_words(DRUG_WORDS_FILE)


def load_word_lists() -> None:
    """Read every word list now, at start-up, so no request pays for it."""
    common_words()
    name_words()
    slip_names()
    _sorted_drug_words()


@functools.cache
def _sorted_drug_words() -> tuple[str, ...]:
    return tuple(sorted(drug_words()))


def is_drug_prefix(word: str) -> bool:
    """True when a longer medicine name starts with ``word``: the clipped forms a
    note uses ("amio" for amiodarone, "levo" for levofloxacin or levophed)."""
    low = word.lower()
    names = _sorted_drug_words()
    i = bisect.bisect_right(names, low)
    return i < len(names) and names[i].startswith(low)


def is_misspelling(word: str) -> bool:
    """True for a word of seven letters or more, written all in lower or upper
    case, that is one slip (a letter dropped or two swapped) from a common
    word and is no known name or English name word itself.

    A changed letter is not counted as a slip: too many surnames are one
    letter from a word. Title case is left out: "Marchand" is a surname.
    """
    low = word.lower()
    if len(low) < MISSPELLING_MIN_LENGTH or not (word.islower() or word.isupper()):
        return False
    if low in name_words() or low in slip_names():
        return False
    return one_slip_from(low, common_words())


def one_slip_from(word: str, known: frozenset[str] | set[str]) -> bool:
    """True when a word of ``known`` is ``word`` with two adjacent letters
    swapped or one letter put back ("duaghter", "admssion"; also one taken
    out, "tommorrow")."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    swapped = (left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1)
    restored = (left + c + right for left, right in splits for c in _ALPHABET)
    extra = (left + right[1:] for left, right in splits if right)
    return any(candidate in known for candidates in (swapped, restored, extra) for candidate in candidates)
