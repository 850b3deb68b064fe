"""People named right after a word that says a name follows: "son bill", "Caller: Ngozi Adeyemi".

Two cues, each paired with a second signal, the word list of
``masker.detect.vocab.lexicon``: the words after the cue must not all be ordinary
English words, so "son at bedside", "wife states" and "Caller: Hi, I need"
name nobody.

* ``relatives``: a relation ("son", "daughter", "wife", "sister", "health
  care proxy" ...), maybe a comma, then one or two words in any case ("son
  bill called", "Son, Ed, was updated", "wife Barbara Kowalczyk"). Notes write
  relatives this way, often in lower case, where the model sees a plain word.
  The name is the run of words that are neither common words nor clinical
  shorthand ("mother htn" is family history, not a name).
* ``labelled_names``: a line starting with a person label and a colon
  ("Caller:", "Patient name:", "Emergency contact:", "Member:"), then one to
  four capitalised words of which at least one is not a common word.
  Call transcripts and intake forms write names this way with no sentence
  around them for the model to read.
"""

from __future__ import annotations

import regex

from masker.detect.context import finditer_at_words, leading_words, lower_ascii
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan
from masker.detect.vocab.lexicon import only_common_words
from masker.detect.vocab.shorthand import CLINICAL_SHORTHAND

CONFIDENCE = 0.85

_RELATION = (
    r"sons?|daughters?|dtr|wife|husband|hus?b|spouse|partner|sisters?|brothers?|sibling|niece|nephew"
    r"|mother|father|dad|grand(?:son|daughter|child|mother|father)|aunt|uncle|cousin|friend"
    r"|fianc[eé]e?|girlfriend|boyfriend|significant\s+other|(?:health\s*care\s+)?proxy|guardian"
    r"|neighbou?r|step(?:son|daughter|mother|father)"
)
_NAME_WORD = r"\p{L}[\p{L}'-]*\p{L}"
_RELATION_WORD = regex.compile(r"(?i:" + _RELATION + r")")
_RELATIVE = regex.compile(
    r"(?<![\p{L}'-])(?i:" + _RELATION + r")(?:\s*,\s*|\s+)(?P<words>" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r")?)"
)
# Where a ``_RELATIVE`` match can start, read from the pattern: the first letters of every relation word.
_RELATION_TRIGGERS = leading_words(_RELATIVE.pattern)
_LABEL = (
    r"caller|patient(?:'s)?\s+name|patient|pt\s+name|name|full\s+name|member(?:\s+name)?|subscriber"
    r"|guarantor|insured|policy\s*holder|emergency\s+contact|contact|next\s+of\s+kin|nok|parent|guardian"
)
_CAPITALISED = r"\p{Lu}[\p{L}'-]*"
_LABELLED = regex.compile(
    r"(?m)^[ \t]*(?i:" + _LABEL + r")[ \t]*:[ \t]*(?P<words>" + _CAPITALISED + r"(?:[ \t]+" + _CAPITALISED + r"){0,3})"
)
_WORD = regex.compile(_NAME_WORD)
# "wife states", "son called", "daughter visiting": a common verb, inflected.
# (The word list keeps a word that is also a surname, such as "States", out.)
_INFLECTIONS = ("s", "es", "ed", "d", "ing")
# Titles, and short words the word list gives up because someone bears them.
_NOT_NAMES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "via", "re", "per", "vs"})


def _is_name_word(word: str) -> bool:
    word = word.removesuffix("'s").removesuffix("'S")
    low = word.lower()
    return not (
        low in _NOT_NAMES
        or _RELATION_WORD.fullmatch(word) is not None  # "daughter, sister and husband"
        or word.upper() in CLINICAL_SHORTHAND
        or only_common_words(word)
        or any(low.endswith(end) and only_common_words(low[: -len(end)]) for end in _INFLECTIONS)
    )


def relatives(text: str, low: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of the names that follow a relation word (``low``: ``lower_ascii(text)`` when known)."""
    found = []
    low = lower_ascii(text) if low is None else low
    for m in finditer_at_words(_RELATIVE, text, low, _RELATION_TRIGGERS):
        start = end = m.start("words")
        for w in _WORD.finditer(text, m.start("words"), m.end("words")):
            if not _is_name_word(w.group()):
                break
            end = w.end()
        if end > start:
            found.append((start, end))
    return found


def labelled_names(text: str) -> list[tuple[int, int]]:
    """(start, end) of the capitalised words after a person label at a line start."""
    if ":" not in text:
        return []
    found = []
    for m in _LABELLED.finditer(text):
        words = m.group("words")
        if any(_is_name_word(w) for w in _WORD.findall(words)):
            found.append((m.start("words"), m.end("words")))
    return found


class RelativeName(RegexRecognizer):
    id = "relative_name"
    kinds = frozenset({"NAME"})
    detectors = frozenset({"relative_name"})
    description = 'names after a relation word: "son bill called", "wife Barbara Kowalczyk"'
    needs_digit = False

    def find(self, scan: Scan, emit: Emit) -> None:
        for start, end in relatives(scan.text, scan.low):
            emit(start, end, "NAME", "relative_name", CONFIDENCE, cue="relation")


class LabelledName(RegexRecognizer):
    id = "labelled_name"
    kinds = frozenset({"NAME"})
    detectors = frozenset({"labelled_name"})
    description = 'names after a person label at a line start: "Caller: Ngozi Adeyemi"'
    needs_digit = False

    def find(self, scan: Scan, emit: Emit) -> None:
        for start, end in labelled_names(scan.text):
            emit(start, end, "NAME", "labelled_name", CONFIDENCE, cue="person_label")
