"""Clinicians named the way notes name them: "E. KOWALSKI AWARE", "per NP Lindqvist", "Dan Holloway, RRT".

Notes refer to staff by an initial and surname, by a credential and surname,
or sign with a name and a credential. The model misses many of these in
capitals and shorthand. Each rule below needs two signals, never a
capitalised word alone:

* an initial with a dot and a surname, in any case, then a credential or a
  word of the form "aware", "notified", "paged" (``Z. MILLER AWARE``,
  ``K. Nakashima PA``, ``t. haverkamp rrt``),
  or after "per", "by", "w/", "called", "paged" (``AS PER E. KOWALSKI``);
* a credential or "Dr" and a surname, then such a word (``NP Lindqvist aware``,
  ``MD HALVORSEN NOTIFIED``), or after "per"/"by"/"w/" (``per NP Greta``);
* two or three title-case words, then a comma and a credential
  (``Arthur Vandermeer, MD``), or two or three capitalised words and a
  credential ending the line (a signature: ``BERNARD OKAFOR, CRT``).

A "name" made only of common English words ("S. FAMILY MADE AWARE") is not
one (``masker.detect.vocab.lexicon``).
"""

from __future__ import annotations

import regex

from masker.detect.context import finditer_at_words, leading_words, lower_ascii
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan
from masker.detect.vocab.lexicon import only_common_words
from masker.detect.vocab.shorthand import CLINICAL_SHORTHAND

CONFIDENCE = 0.85

_CREDENTIAL = r"(?:MD|M\.D\.|NP|PA|PA-C|RN|RRT|CRT|CNS|RPh|PharmD|LICSW|LCSW|MSW|PT|OT|SLP)"
_AFTER = r"(?:aware|notified|informed|paged|called|updated|in\s+to|into|at\s+(?:the\s+)?bedside|ordered|placed|here|made\s+aware)"
_BEFORE = r"(?:per|by|w/|with|called|paged|notified|informed|d/w|discussed\s+with|spoke\s+(?:with|to))"
# A surname: a capitalised word (or all caps), hyphen or apostrophe inside.
_SURNAME = r"\p{Lu}[\p{L}'-]*\p{L}"
# Initial and surname in any case ("t. haverkamp rrt"): the surname must not be a
# common word (checked below), which is what keeps "l. unable" out.
_INITIAL_AND_SURNAME = r"\p{L}\.\s?\p{L}[\p{L}'-]*\p{L}"
_WORD = regex.compile(r"\p{L}[\p{L}'-]*")

_INITIAL_NAME = regex.compile(
    r"(?<![\p{L}\p{N}.'/])(?P<name>" + _INITIAL_AND_SURNAME + r")"
    r"(?=\s*,?\s*(?i:" + _CREDENTIAL + r")(?!\p{L})|\s+(?i:" + _AFTER + r")(?!\p{L}))"
)
_CUED_INITIAL_NAME = regex.compile(
    r"(?<!\p{L})(?i:" + _BEFORE + r")\s*(?:(?i:dr)\.?\s+)?(?P<name>" + _INITIAL_AND_SURNAME + r")(?!\p{L}|\.\p{L})"
)
_TITLED_NAME = regex.compile(
    r"(?<!\p{L})(?i:" + _CREDENTIAL + r"|dr)\.?\s+(?P<name>" + _SURNAME + r")"
    r"(?=\s+(?i:" + _AFTER + r")(?!\p{L}))"
)
_CUED_TITLED_NAME = regex.compile(
    r"(?<!\p{L})(?i:" + _BEFORE + r")\s*(?i:" + _CREDENTIAL + r"|dr)\.?\s+(?P<name>\p{Lu}\p{Ll}[\p{L}'-]*)(?!\p{L})"
)
_FULL_NAME = r"\p{Lu}[\p{L}'-]+(?:\s+\p{Lu}\.?)?(?:\s+\p{Lu}[\p{L}'-]+){1,2}"
_TITLE_CASE_NAME = r"\p{Lu}\p{Ll}[\p{L}'-]*(?:\s+\p{Lu}\.?)?(?:\s+\p{Lu}\p{Ll}[\p{L}'-]*){1,2}"
_SIGNATURE = regex.compile(
    r"(?m)(?<![\p{L}])(?:(?P<name>" + _TITLE_CASE_NAME + r"),\s*" + _CREDENTIAL + r"(?!\p{L})"
    r"|(?P<name>" + _FULL_NAME + r"),?\s+" + _CREDENTIAL + r"[ \t]*(?:$|\|))"
)
# A cheap test that spares most texts the credential patterns.
_ANY_CREDENTIAL = regex.compile(r"(?<!\p{L})(?i:" + _CREDENTIAL + r"|dr)(?!\p{L})")
# Where matches of the patterns led by a cue word or a credential can start, read from the patterns.
_BEFORE_TRIGGERS = leading_words(_CUED_INITIAL_NAME.pattern)
_CREDENTIAL_TRIGGERS = leading_words(_ANY_CREDENTIAL.pattern)
# Each pattern with the words its matches start with (None: any position).
_Patterns = tuple[tuple[regex.Pattern[str], tuple[str, ...] | None], ...]
_INITIAL_PATTERNS: _Patterns = ((_INITIAL_NAME, None), (_CUED_INITIAL_NAME, _BEFORE_TRIGGERS))
_CREDENTIAL_PATTERNS: _Patterns = (
    (_TITLED_NAME, leading_words(_TITLED_NAME.pattern)),
    (_CUED_TITLED_NAME, leading_words(_CUED_TITLED_NAME.pattern)),
    (_SIGNATURE, None),
)
# Words that follow a credential or an initial but name nobody.
_NOT_NAME = frozenset("""
AWARE NOTIFIED INFORMED PAGED CALLED UPDATED ORDERED PLACED HERE TEAM STAFF ON CALL NURSE NURSING
RESIDENT INTERN FELLOW ATTENDING SERVICE THE THIS THAT AND OR TO IN AT OF FOR WITH FROM PT PATIENT
LINE LINES HO
""".split()) | frozenset(  # species after a genus initial: "E. coli", "S. aureus"
    """COLI AUREUS DIFF DIFFICILE PYLORI AERUGINOSA PNEUMONIAE EPIDERMIDIS FAECALIS FAECIUM ALBICANS
    GLABRATA MARCESCENS CLOACAE FRAGILIS INFLUENZAE MIRABILIS MALTOPHILIA BAUMANNII AEROGENES OXYTOCA
    MENINGITIDIS GONORRHOEAE TRACHOMATIS JIROVECII CARINII NEOFORMANS FUMIGATUS MONOCYTOGENES
    PERFRINGENS AGALACTIAE PYOGENES VIRIDANS BOVIS HAEMOLYTICUS LUGDUNENSIS SAPROPHYTICUS""".split()
)


def staff_names(text: str, low: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of clinician names found by the rules in the module docstring.

    ``low`` is ``lower_ascii(text)`` when the caller has it.
    """
    found: set[tuple[int, int]] = set()
    low = lower_ascii(text) if low is None else low
    patterns = _INITIAL_PATTERNS
    if next(finditer_at_words(_ANY_CREDENTIAL, text, low, _CREDENTIAL_TRIGGERS), None) is not None:
        patterns += _CREDENTIAL_PATTERNS
    for pattern, triggers in patterns:
        matches = pattern.finditer(text) if triggers is None else finditer_at_words(pattern, text, low, triggers)
        for m in matches:
            name = m.group("name")
            words = _WORD.findall(name)
            if any(w.upper() in _NOT_NAME or w.upper() in CLINICAL_SHORTHAND for w in words if len(w) > 1):
                continue
            if only_common_words(name):  # "S. FAMILY", "PT INITIALLY PLACED"
                continue
            found.add((m.start("name"), m.end("name")))
    # one span per name: drop those inside another ("A. HOLLOWAY-ITO" in "DAN A. HOLLOWAY-ITO")
    return sorted(s for s in found if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in found))


class StaffName(RegexRecognizer):
    id = "staff_name"
    kinds = frozenset({"NAME"})
    detectors = frozenset({"staff_name"})
    description = 'clinicians by initial, credential or signature: "Z. MILLER AWARE", "per NP Lindqvist"'
    needs_digit = False

    def find(self, scan: Scan, emit: Emit) -> None:
        for start, end in staff_names(scan.text, scan.low):
            emit(start, end, "NAME", "staff_name", CONFIDENCE)
