"""Outside facilities named right after a transfer: "transferred to GH", "went to Lakeview".

Notes name the hospital, rehab or nursing home a patient came from or goes to
by its initials or a short name, and the ward by its building and floor,
right after a movement verb ("transferred", "sent", "admitted",
"med-flighted", "d/c'd") and a preposition. Where that cue stands
immediately before a word, three rules apply:

* ``facility_initials``: an all-caps word of 2-5 letters after the cue is an
  ORGANIZATION unless it is a hospital unit, a clinical abbreviation or an
  English word ("to CCU", "to OR", "to BED" are not facilities).
  Initials shaped like a hospital's, ending in H, MC or HC ("at GH", "in
  BWH", "from VAMC"), need only the preposition; "OH", "NH" (states) and
  "PH" are not taken. In lower case only hospital-shaped initials count,
  and only after the cue ("sent to gh"): "at mech soft" is no hospital;
* ``ward_with_floor``: a word of 4+ letters followed by a floor number
  ("transfer to Whitfield 4", "from HARTWELL 12B") is a LOCATION unless it is a
  unit, a clinical abbreviation or a word such as "floor", "bed", "level";
  a number that is a dose, count or duration ("to dopamine 5 mcg") is no floor.
  A bare preposition is cue enough ("arrest called on BRINDLEMOOR 6") for a
  word no list knows: no English word, medicine or clipped medicine ("on levo 5");
* ``trust_after_movement``: an NER ORGANIZATION or LOCATION span after the cue
  is raised to ``CUE_CONFIDENCE`` when the model gave it at least
  ``MODEL_FLOOR``; the model is often unsure of a short or all-caps name
  ("PINECREST REHAB" at 0.58) that the cue makes plain.

A facility word after a name is the other signal used here, cue or not:
``named_facilities`` finds title-case names ending in one ("Lakeview Hosp",
"Brightwater Adventist", "Greater Pinecrest Med Ctr") and university
hospitals in any case ("UNIVERSITY OF EASTMOOR MEDICAL CENTER"), universities
written as a capital "U" and a US state ("U Maryland scale", "U OF MD"), and an NER place or
organisation right before one ("PINECREST" + "REHAB") takes it in and becomes
an ORGANIZATION (``trust_after_movement``).
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from masker.detect.context import finditer_at_words, leading_words, lower_ascii
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan
from masker.detect.spans import Span
from masker.detect.vocab.lexicon import drug_words, is_drug_prefix, is_english_word, is_misspelling
from masker.detect.vocab.shorthand import CLINICAL_SHORTHAND
from masker.detect.vocab.words import MONTH_NAMES, STATE_ABBREVIATIONS, STATE_NAMES, WEEKDAY_NAMES

CUE_CONFIDENCE = 0.85
MODEL_FLOOR = 0.5

_VERBS = (
    r"transferr?(?:ed|ing)?|trans|xferr?(?:ed|d)?|tx'?d|sent|referr?(?:ed)?|(?:re)?admit(?:ted)?|adm"
    r"|discharged?|d/?c'?d|went|go(?:ing|es)?|came|come|coming|brought|return(?:ed|ing)?|back"
    r"|(?:med-?\s?)?flighted|flown|arrived|presented|followed|screened|seen|evaluated|enroute|en\s+route"
    r"|records|placement|leave|left"
)
# A movement verb, maybe with its object: "transferred", "sent him back".
_MOVEMENT = r"(?<!\p{L})(?:" + _VERBS + r")(?:\s+(?:back|over|him|her|pt|patient))?"
# The cue, anchored to end right before the candidate (searched backwards).
_CUE = regex.compile(
    _MOVEMENT + r"\s+(?:to|from|into|at|in|by)\s+(?:the\s+)?$",
    regex.IGNORECASE,
)
# A preposition, an optional article, then initials in one case (the verb is checked after).
_INITIALS = regex.compile(
    r"(?<!\p{L})(?i:to|from|into|at|in|by)\s+(?:(?i:the)\s+)?(?P<initials>\p{Lu}{2,5}|\p{Ll}{2,5})(?![\p{L}\p{N}&/'-])"
)
# Places inside a hospital and common words that follow "sent to", "went to".
_NOT_FACILITY = frozenset("""
ED ER EW OR EP IR PT OT SLP ICU CCU MICU SICU CSRU NICU PACU TCU SNF VNA CT MRI US LAB CATH
HOME BED BEDS WORK SCHOOL ROOM UNIT FLOOR CHAIR REST HIM HER HIS ITS ME YOU THEM
THE THIS THAT ALL ANY ONE TWO SIX TEN FOR AND BUT NOT NO YES SO UP OUT OFF ON IN AT BY AN MY OUR
SEE GET GO BE DO SAY USE AM PM DR MR MRS MS AF VT VF SB ST NSR EKG HD CRRT HOB
""".split())
# A hospital's initials: "GH", "BWH", "VAMC", "BIDMC" (Hospital, Medical Center, Health Center).
_HOSPITAL_SHAPE = regex.compile(r"\p{Lu}{1,4}(?:H|MC|HC)")
_NOT_HOSPITAL = frozenset({"OH", "NH", "PH"})
_WINDOW = 48
# A ward or building named with its floor after a movement verb ("transfer to Whitfield 4",
# "admitted from HARTWELL 12B") or after a bare preposition ("arrest called on brindlemoor 6":
# the group ``verb`` is then empty). The floor must not be a dose, a count or a time.
_WARD = regex.compile(
    r"(?:(?P<verb>" + _MOVEMENT + r")\s+(?:(?:to|from|into|at|in|on)\s+)?|(?<!\p{L})(?:to|from|into|at|in|on|onto)\s+)"
    r"(?:the\s+)?(?P<ward>\p{L}[\p{L}'-]{3,})\s*(?:[1-9]|1[0-9]|20)[a-d]?"
    r"(?![\p{L}\p{N}/%]|[.,:-]\p{N}|\s*(?:mg|mcg|units?|ml|cc|g|gm|grams?|liters?|l|hours?|hrs?|days?|weeks?"
    r"|x|times|am|pm)(?!\p{L}))",
    regex.IGNORECASE,
)
# Where a ``_WARD`` match can start, read from the pattern: the first letters of every verb and preposition.
_WARD_TRIGGERS = leading_words(_WARD.pattern)
# Words that end a facility's name.
_FACILITY_WORDS = (
    r"Hospital|Hosp\.?|Medical\s+Center|Medical\s+Ctr\.?|Med\.?\s+Ctr\.?|Med\.?\s+Center|Rehab|Rehabilitation"
    r"(?:\s+(?:Center|Hospital))?|Memorial|Clinic|Nursing\s+Home|Nursing\s+Center|Health\s+Center|Infirmary"
    r"|Hospice|Adventist|Campus|Sanatorium|Manor"
)
_FACILITY_SUFFIX = regex.compile(r"\s+(?i:" + _FACILITY_WORDS + r")(?!\p{L})")
_FACILITY_WORD = regex.compile(r"(?<!\p{L})(?i:" + _FACILITY_WORDS + r")(?!\p{L})")
# One to four title-case words (with "of", "St.") before a facility word, all in title case.
_NAMED_FACILITY = regex.compile(
    r"(?<![\p{L}])(?P<first>\p{Lu}\p{Ll}+\.?)(?:\s+(?:of\s+)?(?:\p{Lu}\p{Ll}+'?s?|St\.?)){0,3}\s+(?:"
    + _FACILITY_WORDS + r")(?!\p{L})"
)
# "University of Eastmoor Medical Center", "UNIVERSITY OF EM HOSPITAL", in any case: the
# university's place and the facility word around it make it one name.
_UNIVERSITY_FACILITY = regex.compile(
    r"(?<!\p{L})(?i:univ(?:ersity|\.)?\s+of\s+\p{L}+(?:\s+\p{L}+)?\s+(?:hospitals?|hosp\.?"
    r"|med(?:ical|\.)?\s+(?:center|ctr\.?)|medical|health(?:\s+(?:system|center))?|clinics?))(?!\p{L})"
)
# States a university is named by ("U Maryland", "U of MD"): the fifty, also clipped ("U Penn").
_UNIVERSITY_STATE_NAMES = tuple(n for n in STATE_NAMES if n not in ("district of columbia", "puerto rico"))
_UNIVERSITY_STATE_CLIPPINGS = ("penn", "mass", "conn", "mich", "minn", "wisc", "tenn")
_US_STATES = "|".join(n.replace(" ", r"\s+") for n in _UNIVERSITY_STATE_NAMES + _UNIVERSITY_STATE_CLIPPINGS)
_US_STATE_CODES = "|".join(c for c in STATE_ABBREVIATIONS if c not in ("DC", "PR", "GU", "VI"))
# A university written as "U" and its state: "U Maryland scale", "U OF MD MED CENTER", "U Penn".
# The capital "U" and the state make it one ("10 U of insulin" has a number before it, no state).
_UNIVERSITY_ABBREVIATED = regex.compile(
    r"(?<![\p{L}\p{N}.'-]|\p{N}\s+)U\.?\s+(?:(?:(?i:of)\s+)?(?i:" + _US_STATES + r")"
    r"|(?i:of)\s+(?:" + _US_STATE_CODES + r"))(?![\p{L}\p{N}])"
)
# Title-case words that start a sentence or a plan, not a facility's name.
_NOT_FACILITY_START = frozenset("""
The This That To From At In For And Or Plan Await Awaiting Discharge Transfer Transferred Transfered Sent
Pt Patient Called Call Spoke Will Per Screened Seen Family Wife Husband Son Daughter Consult Going Went
""".split())
# Words that, around a facility word, say what kind of place it is, not which.
_GENERIC_FACILITY = frozenset("""
a an the then and or to at in from his her their another other outside local new same
nursing home homes assisted living facility facilities skilled long term short acute care group
senior retirement rehabs hospitals clinics
""".split())
_NOT_WARD = frozenset("""
floor bed beds room unit ward pod bay level step stage station rehab grade cycle day week month year
baseline sleep line lines dose doses liters units hours times the chair cath home work
sept tues thur thurs
""".split()) | (frozenset(MONTH_NAMES) - {"may"}) | frozenset(WEEKDAY_NAMES)

def has_facility_word(value: str) -> bool:
    """True when ``value`` holds a word that ends facility names ("hospital", "Rehab", "Med Ctr")."""
    return _FACILITY_WORD.search(value) is not None


def is_generic_facility(value: str) -> bool:
    """True when ``value`` names a kind of facility, not one: "nursing home",
    "assisted living facility", "then rehab/nursing homes"."""
    words = regex.findall(r"\p{L}+", _FACILITY_WORD.sub(" ", value).lower())
    return all(word in _GENERIC_FACILITY for word in words)


def _after_cue(text: str, start: int) -> bool:
    return _CUE.search(text, max(0, start - _WINDOW), start) is not None


def facility_initials(text: str) -> list[tuple[int, int]]:
    """(start, end) of all-caps initials right after a movement cue, or shaped like a hospital's;
    of lower-case ones shaped like a hospital's right after a movement cue ("sent to bwh")."""
    found: list[tuple[int, int]] = []
    for m in _INITIALS.finditer(text):
        word = m.group("initials")
        upper = word.upper()
        if upper in _NOT_FACILITY or upper in CLINICAL_SHORTHAND or is_english_word(word):
            continue
        hospital = _HOSPITAL_SHAPE.fullmatch(upper) is not None and upper not in _NOT_HOSPITAL
        cued = _after_cue(text, m.start("initials"))
        if (hospital or cued) if word.isupper() else (hospital and cued):
            found.append((m.start("initials"), m.end("initials")))
    return found


def ward_with_floor(text: str, low: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of a ward or building name followed by its floor, after a movement verb
    or, for a name no word list knows, after a bare preposition ("on brindlemoor 6").

    ``low`` is ``lower_ascii(text)`` when the caller has it.
    """
    found: list[tuple[int, int]] = []
    low = lower_ascii(text) if low is None else low
    for m in finditer_at_words(_WARD, text, low, _WARD_TRIGGERS):
        word = m.group("ward")
        if word.lower() in _NOT_WARD or word.upper() in CLINICAL_SHORTHAND or word.upper() in _NOT_FACILITY:
            continue
        if m.group("verb") is None and not _unknown_name(word):
            continue
        found.append((m.start("ward"), m.end("ward")))
    return found


def _unknown_name(word: str) -> bool:
    """A word written as a name ("Brindlemoor", "BRINDLEMOOR") that is no English word, no
    medicine or a clipping of one ("on levo 5"), and no typo of a word."""
    if not (word.islower() or word.isupper() or word.istitle()):
        return False  # "combiventQ4"
    return not (is_english_word(word) or word.lower() in drug_words() or is_drug_prefix(word) or is_misspelling(word))


def named_facilities(text: str) -> list[tuple[int, int]]:
    """(start, end) of title-case names ending in a facility word ("Lakeview Hosp", "Brightwater
    Adventist"), of university hospitals in any case ("university of eastmoor medical center")
    and of universities written as "U" and a state ("U Maryland", "U of MD")."""
    found = [(m.start(), m.end()) for m in _UNIVERSITY_FACILITY.finditer(text)]
    found += [(m.start(), m.end()) for m in _UNIVERSITY_ABBREVIATED.finditer(text)]
    if _FACILITY_SUFFIX.search(text) is None:
        return found
    titled = [(m.start(), m.end()) for m in _NAMED_FACILITY.finditer(text) if m.group("first") not in _NOT_FACILITY_START]
    return list(dict.fromkeys(found + titled))


def trust_after_movement(text: str, spans: Sequence[Span]) -> list[Span]:
    """NER organisations and places made surer by what stands around them.

    Right after a movement cue the confidence is raised to ``CUE_CONFIDENCE``;
    right before a facility word ("PINECREST" + " REHAB") the span also takes
    in that word and becomes an ORGANIZATION.
    """
    out: list[Span] = []
    for span in spans:
        if span.kind in ("ORGANIZATION", "LOCATION") and span.confidence >= MODEL_FLOOR:
            suffix = _FACILITY_SUFFIX.match(text, span.end)
            if suffix is not None:
                span = Span(span.start, suffix.end(), "ORGANIZATION", span.pass_name, span.detector,
                            max(span.confidence, CUE_CONFIDENCE), span.why)
            elif span.confidence < CUE_CONFIDENCE and _after_cue(text, span.start):
                span = span.with_confidence(CUE_CONFIDENCE)
        out.append(span)
    return out


class Facility(RegexRecognizer):
    id = "facility"
    kinds = frozenset({"ORGANIZATION"})
    detectors = frozenset({"facility_initials", "facility_name"})
    description = 'outside facilities: initials after a transfer cue ("sent to GH"), names ending in a facility word'
    needs_digit = False

    def find(self, scan: Scan, emit: Emit) -> None:
        for start, end in facility_initials(scan.text):
            emit(start, end, "ORGANIZATION", "facility_initials", CUE_CONFIDENCE)
        for start, end in named_facilities(scan.text):
            emit(start, end, "ORGANIZATION", "facility_name", CUE_CONFIDENCE)


class WardFloor(RegexRecognizer):
    id = "ward_floor"
    kinds = frozenset({"LOCATION"})
    detectors = frozenset({"ward_floor"})
    description = 'a ward or building with its floor after a movement cue: "transfer to Whitfield 4"'

    def find(self, scan: Scan, emit: Emit) -> None:
        for start, end in ward_with_floor(scan.text, scan.low):
            emit(start, end, "LOCATION", "ward_floor", CUE_CONFIDENCE)
