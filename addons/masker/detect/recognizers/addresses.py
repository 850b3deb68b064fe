"""Postal addresses: ZIP codes (after a state or a ZIP cue), street addresses and PO boxes."""

from __future__ import annotations

import regex

from masker.detect.context import find_words, windows
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan, finditer_in
from masker.detect.vocab.words import STATE_ABBREVIATIONS, STATE_NAMES, STREET_SUFFIXES, UNIT_WORDS

ZIP_AFTER_STATE_CONFIDENCE = 0.9  # "Springfield, IL 62704"
ZIP_AFTER_AMBIGUOUS_STATE_CONFIDENCE = 0.65  # "... OR 97201" without "City," before the state
ZIP_CUED_CONFIDENCE = 0.9
ZIP_PLUS4_CONFIDENCE = 0.6  # "62704-1234" alone
STREET_CONFIDENCE = 0.8
STREET_WITH_UNIT_CONFIDENCE = 0.85
STREET_CLINICAL_CONFIDENCE = 0.5  # "2 DEG AV", "1 PM CT": one digit and a clinical abbreviation
PO_BOX_CONFIDENCE = 0.85
STATE_WINDOW = 30  # characters before a ZIP searched for a state
ZIP_CUE_WINDOW = 25
# Characters scanned (before, after) around a street suffix and around "box".
STREET_REGION = (72, 24)
PO_BOX_REGION = (8, 12)

ZIP = regex.compile(r"(?<![0-9]|[0-9][./-])(?P<z>[0-9]{5})(?:-(?P<p4>[0-9]{4}))?(?![0-9]|-[0-9])")
# Searched in the few characters before a ZIP candidate; must end right before it.
STATE_BEFORE = regex.compile(
    r"(?:(?<!\p{L})(?:" + "|".join(STATE_ABBREVIATIONS) + r")|(?i:(?<!\p{L})(?:" + "|".join(STATE_NAMES) + r")))"
    r"\.?,?[ \t]*$"
)
# Two-letter state codes that are also English words: weak evidence in ALL CAPS text.
_AMBIGUOUS_STATES = frozenset("IN OR ME HI OK OH DE AL LA PA CO MO NE ID MD MS MT GA".split())

ADDRESS = regex.compile(
    r"(?<![\w.,/-])(?P<num>[0-9]{1,6}(?:-?[A-Z](?![\w]))?)[ ]+"
    r"(?P<name>(?:[\w'.-]+[ ]+){1,4}?)(?P<suf>" + "|".join(STREET_SUFFIXES) + r")(?!\p{L})\.?"
    r"(?P<unit>,?[ ]*(?:" + "|".join(UNIT_WORDS) + r"|\#)\.?[ ]*\#?[ ]*"
    r"[A-Z0-9][A-Z0-9-]{0,5}(?![\w]))?",
    regex.I,
)
PO_BOX = regex.compile(r"(?<!\p{L})p\.?[ ]?o\.?[ ]?box[ ]+[0-9]{1,6}(?![0-9])", regex.I)
# Words that never occur inside a street name but often between a number and "Dr"/"St".
ADDRESS_STOPWORDS = frozenset(
    "a an the by with to of and or for per at in on from is was are be been times tablets tablet "
    "pills pill caps capsules mg mcg ml units days weeks months hours minutes years patients "
    "visits doses see seen saw called said".split()
    # clinical abbreviations that sit between a number and "ST" (sinus tach), "SQ",
    # "AV" (block), "CT" in nursing notes: "10 U NPH SQ", "1 DEG AV BLOCK"
    + "u iv po pr sl im sc sq nph reg hr sr st am pm md rn np nc lpm deg degree bp map cvp "
    "ci pad pap abg bs".split()
)
# Street suffixes that are also clinical abbreviations: in upper case they need
# more evidence (a house number of two digits or more).
CLINICAL_SUFFIXES = frozenset("av sq st ct dr ln pl cir ter rte".split())
_ORDINAL = regex.compile(r"[0-9]+(?:st|nd|rd|th)", regex.I)
_MIXED = regex.compile(r"[0-9]\p{L}|\p{L}[0-9]")  # a letter touching a digit


class Zip(RegexRecognizer):
    id = "zip"
    kinds = frozenset({"ZIP"})
    detectors = frozenset({"zip"})
    description = "US ZIP codes after a state or a ZIP cue, and ZIP+4"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in ZIP.finditer(text):
            start = m.start()
            cue = None
            state = STATE_BEFORE.search(text, max(0, start - STATE_WINDOW), start)
            if state is not None:
                abbr = state.group().strip(" \t.,")
                city_comma = text[max(0, state.start() - 2) : state.start()].rstrip(" ").endswith(",")
                ambiguous = abbr in _AMBIGUOUS_STATES and not city_comma
                conf = ZIP_AFTER_AMBIGUOUS_STATE_CONFIDENCE if ambiguous else ZIP_AFTER_STATE_CONFIDENCE
            elif cue := context.before("ZIP", text, start, ZIP_CUE_WINDOW):
                conf = ZIP_CUED_CONFIDENCE
            elif m.group("p4"):
                conf = ZIP_PLUS4_CONFIDENCE
            else:
                continue
            emit(start, m.end(), "ZIP", "zip", conf, cue=cue)


class StreetAddress(RegexRecognizer):
    id = "street_address"
    kinds = frozenset({"ADDRESS"})
    detectors = frozenset({"street_address", "po_box"})
    description = "street addresses (number, name, street suffix, unit) and PO boxes"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, low = scan.text, scan.low
        suffixes = find_words(low, STREET_SUFFIXES, whole=True)
        for m in finditer_in(ADDRESS, text, windows(text, suffixes, *STREET_REGION)):
            suffix = m.group("suf")
            if not street_name_ok(m.group("name").split(), suffix):
                continue
            conf = STREET_WITH_UNIT_CONFIDENCE if m.group("unit") else STREET_CONFIDENCE
            if suffix.isupper() and suffix.lower() in CLINICAL_SUFFIXES and len(m.group("num")) < 2:
                conf = STREET_CLINICAL_CONFIDENCE
            emit(m.start(), m.end(), "ADDRESS", "street_address", conf)
        for m in finditer_in(PO_BOX, text, windows(text, find_words(low, ("box",), whole=True), *PO_BOX_REGION)):
            emit(m.start(), m.end(), "ADDRESS", "po_box", PO_BOX_CONFIDENCE)


def street_name_ok(words: list[str], suffix: str) -> bool:
    """A street name is no function word, and its case matches the suffix's.

    ``Main St`` / ``MAIN ST`` / ``main street`` (ASR) pass; ``3 times by Dr`` does not.
    """
    if not words or any(w.lower().strip(".") in ADDRESS_STOPWORDS for w in words):
        return False
    if not any(c.isalpha() for w in words for c in w):
        return False  # "1515 373. DR JONES": no name at all
    for w in words:
        if not any(c.isalnum() for c in w):
            return False  # "44 - CHEST CT"
        if w.endswith(".") and (w[:-1].isdigit() or len(w) > 4):
            return False  # a sentence ends inside: "2L LR. 3 UPRBCS. CT"
    if any(_MIXED.search(w) and not _ORDINAL.fullmatch(w) for w in words):
        return False  # "42nd" names a street, "5MG" or "O2." do not
    if suffix.islower():
        return True
    if suffix.isupper() and len(suffix) > 1:
        return all(not any(c.islower() for c in w) for w in words)
    return all(w[0].isupper() or w[0].isdigit() for w in words)
