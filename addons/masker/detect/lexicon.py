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
"""

from __future__ import annotations

import functools
from pathlib import Path

import regex

WORDS_FILE = Path(__file__).parent / "data" / "common_words.txt"
NAME_WORDS_FILE = Path(__file__).parent / "data" / "name_words.txt"
_WORD = regex.compile(r"\p{L}+")


@functools.cache
def common_words() -> frozenset[str]:
    """The word list, read once per process."""
    return frozenset(WORDS_FILE.read_text(encoding="utf-8").split())


@functools.cache
def name_words() -> frozenset[str]:
    """English words that are also names, read once per process."""
    return frozenset(NAME_WORDS_FILE.read_text(encoding="utf-8").split())


def is_english_word(word: str) -> bool:
    """True for any English word of two letters or more, name or not."""
    low = word.lower()
    return len(low) > 1 and (low in common_words() or low in name_words())


def only_common_words(value: str) -> bool:
    """True when every word of two or more letters in ``value`` is a common word,
    and there is at least one such word."""
    words = [w.lower() for w in _WORD.findall(value) if len(w) > 1]
    if not words:
        return False
    known = common_words()
    return all(w in known for w in words)
