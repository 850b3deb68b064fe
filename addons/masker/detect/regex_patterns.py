"""Compiled patterns and cue-word lists of the regex pass (compiled once, at import).

Patterns are written to be linear: no nested unbounded quantifiers, digit
boundaries by lookaround, possessive/atomic groups where alternatives could
otherwise be retried. Validation (checksums, month/day ranges) happens in
Python after a match, in :mod:`masker.detect.regex`.
"""

from __future__ import annotations

import regex

from masker.detect.context import compile_cues, compile_named_cues

I = regex.I  # noqa: E741 - the regex flag's own name, passed to every pattern below

# -- cheap triggers ----------------------------------------------------------
DIGIT = regex.compile(r"[0-9]")

# -- email / url / network ---------------------------------------------------
EMAIL = regex.compile(
    r"(?<![\w.%+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
URL = regex.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`{}|\\^\[\]]+", I)
_TLDS = "com|org|net|edu|gov|mil|io|us|info|health|care|biz|me|uk|ca|ai|app|dev|co|clinic|hospital"
BARE_DOMAIN = regex.compile(
    r"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r")(?![\w-])"
    r"(?:/[^\s<>\"'`{}|\\^\[\]]*)?",
    I,
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = regex.compile(r"(?<![0-9.])(?:" + _OCTET + r"\.){3}" + _OCTET + r"(?![0-9]|\.[0-9])")
_H = r"[0-9a-f]{1,4}"
IPV6 = regex.compile(
    r"(?<![0-9a-f:.])(?>"
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,6}}:{_H}(?::{_H}){{0,5}}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|::{_H}(?::{_H}){{1,6}}"
    rf")(?![0-9a-f:])",
    I,
)
MAC = regex.compile(
    r"(?<![0-9a-f:-])(?:[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}"
    r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?![0-9a-f]|[:.-][0-9a-f])",
    I,
)

# -- numbers with structure ----------------------------------------------------
_NB = r"(?<![0-9]|[0-9][./-])"  # not inside a longer number / date
SSN = regex.compile(
    _NB + r"(?<![0-9][ ])(?P<a>[0-9]{3})(?P<s>[- .]?)(?P<g>[0-9]{2})(?P=s)(?P<n>[0-9]{4})"
    r"(?![0-9]|[ .-][0-9])"
)
PHONE_NANP = regex.compile(
    # The leading lookahead lets the engine skip positions that cannot start a phone.
    r"(?=[0-9(+])(?<![0-9+]|[0-9][./-])(?:(?P<cc>\+?1)(?P<s0>[ .-]?))?"
    r"(?:\((?P<a1>[0-9]{3})\)[ ]?|(?P<a2>[0-9]{3})(?P<s1>[ ./-]?))"
    r"(?P<x>[0-9]{3})(?P<s2>[ ./-]?)(?P<l>[0-9]{4})(?![0-9]|[./-][0-9])"
    r"(?P<ext>[ ]*(?i:x|ext\.?|extension)[ ]*[0-9]{1,6}(?![0-9]))?"
)
PHONE_LOCAL = regex.compile(r"(?<![0-9]|[0-9][ ./)-]|\)[ ])[0-9]{3}[-.][0-9]{4}(?![0-9]|[.-][0-9])")
PHONE_INTL = regex.compile(r"(?<![\w+])\+(?>[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,5}\)?){1,6})(?![0-9])")
# A phone-shaped value right after a phone/fax cue ("tel: 020 7946 0958").
_PHONE_VALUE = r"\+?\(?[0-9]++\)?(?:[ .-]?\(?[0-9]++\)?){0,7}+"
# Maximal runs of digit groups with single space/dash separators, >= 12 digits.
DIGIT_RUN = regex.compile(r"(?<![0-9]|[0-9][ -])(?=(?:[0-9][ -]?){12})[0-9]+(?:[ -][0-9]+)*+")
NINE = regex.compile(r"(?<![0-9]|[0-9][ -])[0-9]{9}(?![0-9]|[ -][0-9])")
TEN = regex.compile(r"(?<![0-9]|[0-9][ -])[12][0-9]{9}(?![0-9]|[ -][0-9])")
VIN = regex.compile(r"\b[A-HJ-NPR-Za-hj-npr-z0-9]{17}\b")
# Upper case only: DEA numbers are written, not spoken; lower case costs a full scan.
DEA = regex.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z9][0-9]{7}(?![A-Za-z0-9])")
_MBI_L = "[AC-HJKMNP-RT-Y]"
MBI = regex.compile(
    rf"(?<![A-Z0-9-])[1-9]{_MBI_L}(?:{_MBI_L}|[0-9])[0-9]-?"
    rf"{_MBI_L}(?:{_MBI_L}|[0-9])[0-9]-?{_MBI_L}{{2}}[0-9]{{2}}(?![A-Z0-9]|-[A-Z0-9])",
    I,
)

# Letter-prefixed codes ("AB-123456", "#XY-1234567", "QZ12345678"): the shape of
# member, policy and record numbers. Upper case only; 5-12 digits keep drug,
# gene, vertebra and billing codes ("HER2", "L4-L5", "J1100", "E11.9") out.
# Matched digits first (fast: digit runs are rare); the letter prefix is read
# backwards by ``regex._prefixed_codes``.
PREFIXED_DIGITS = regex.compile(r"(?<=[A-Z]-?)[0-9]{5,12}(?![\w-]|[.,/][0-9A-Za-z])")
PREFIX_MAX = 4
# Public registry ids that share the shape but identify no person.
PUBLIC_CODE_PREFIXES = frozenset({"NCT", "PMC", "PMID", "ISBN", "ISSN", "NDC", "CPT", "ICD", "DOI"})
# IBAN: country, check digits, 11-30 alphanumerics, optionally in groups of four.
IBAN = regex.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?"
    r"(?![A-Za-z0-9]|[ ][A-Z0-9]{1,4}(?![A-Za-z0-9]))"
)

# -- dates and ages --------------------------------------------------------------
DATE_NUMERIC = regex.compile(
    _NB + r"(?P<p1>[0-9]{1,2})(?P<s>[/.-])(?P<p2>[0-9]{1,2})(?P=s)(?P<y>[0-9]{4}|[0-9]{2})"
    r"(?![0-9]|[./-][0-9])"
)
DATE_ISO = regex.compile(
    _NB + r"(?P<y>1[89][0-9]{2}|2[01][0-9]{2})(?P<s>[-/.])(?P<m>[0-9]{1,2})(?P=s)(?P<d>[0-9]{1,2})"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?(?![0-9]|[./-][0-9])"
)
# Month/day without a year ("on 3/14"): only reported next to a date cue.
DATE_MD = regex.compile(_NB + r"(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})(?![0-9]|[./-][0-9])")
_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?!\p{L})\.?"
)
_DAY = r"(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?(?![0-9\p{L}])"
_YEAR = r"(?P<y>(?:1[89]|2[01])[0-9]{2}(?![0-9])|'[0-9]{2}(?![0-9]))"
# "Jan 5, 1980" / "January 5th 1980" / "Jan. 5" / "5 January 1980" / "5th of January"
# / "05-Jan-1980" / "January 1980". Group names repeat across alternatives (the
# regex module gives equal names one group); an unmatched ``d`` means month + year.
DATE_WRITTEN = regex.compile(
    r"(?<![\p{L}0-9])(?:"
    + _MONTH + r"[ ]*(?:-|[ ]|(?<=\.))[ ]*" + _DAY + r"(?:(?:,[ ]*|[ ]+|-)" + _YEAR + r")?"
    + r"|" + _DAY + r"(?:[ ]+(?:of[ ]+)?|-)" + _MONTH + r"(?:(?:,[ ]*|[ ]+|-)" + _YEAR
    + r"|-(?P<y>[0-9]{2})(?![0-9]))?"
    + r"|" + _MONTH + r",?[ ]+" + _YEAR
    + r")",
    I,
)
AGE = regex.compile(
    r"(?<![0-9])(?P<n>[0-9]{2,3})(?:[ -]?(?:years?|yrs?)[ -]?old(?!\p{L})|[ ]?(?:y/o|y\.o\.|yo(?!\p{L}))"
    r"|[ ]?(?:years?|yrs?)[ ]of[ ]age(?!\p{L}))"
    r"|(?<!\p{L})(?:age[ds]?|aged)[ ]*[:=]?[ ]*(?P<n>[0-9]{2,3})(?![0-9])",
    I,
)

# -- geography --------------------------------------------------------------------
ZIP = regex.compile(_NB + r"(?P<z>[0-9]{5})(?:-(?P<p4>[0-9]{4}))?(?![0-9]|-[0-9])")
_STATE_ABBR = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ"
    "|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI"
)
_STATE_NAMES = (
    "alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|district of columbia"
    "|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland"
    "|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|new hampshire"
    "|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma|oregon|pennsylvania"
    "|rhode island|south carolina|south dakota|tennessee|texas|utah|vermont|virginia|washington"
    "|west virginia|wisconsin|wyoming|puerto rico"
)
# Searched in the few characters before a ZIP candidate; must end right before it.
STATE_BEFORE = regex.compile(
    r"(?:(?<!\p{L})(?:" + _STATE_ABBR + r")|(?i:(?<!\p{L})(?:" + _STATE_NAMES + r")))\.?,?[ \t]*$"
)
_SUFFIX = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace"
    "|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|plaza|plz|alley|aly|route|rte"
    "|pike|row|loop|crescent|cres|freeway|fwy|expressway|expy"
)
ADDRESS = regex.compile(
    r"(?<![\w.,/-])(?P<num>[0-9]{1,6}(?:-?[A-Z](?![\w]))?)[ ]+"
    r"(?P<name>(?:[\w'.-]+[ ]+){1,4}?)(?P<suf>" + _SUFFIX + r")(?!\p{L})\.?"
    r"(?P<unit>,?[ ]*(?:apt|apartment|suite|ste|unit|fl|floor|rm|bldg|building|\#)\.?[ ]*\#?[ ]*"
    r"[A-Z0-9][A-Z0-9-]{0,5}(?![\w]))?",
    I,
)
PO_BOX = regex.compile(r"(?<!\p{L})p\.?[ ]?o\.?[ ]?box[ ]+[0-9]{1,6}(?![0-9])", I)
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

# -- value after a cue ("MRN: 00123456") ------------------------------------------
# Connectors between a cue and its value; possessive so they are never retried.
_CONNECT = (
    r"[ \t]*(?:(?:[:#=.\-(]|(?:number|nbr|num|no|id|is|was|of|on[ ]file)(?![\p{L}\p{N}]))[ \t]*)*+"
)
SHORT_WORD_LEAD = regex.compile(r"[A-Za-z]{1,2} ")  # a value that starts with a short word
ID_VALUE = regex.compile(
    _CONNECT + r"(?P<v>[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){1,29}(?:[ ](?=[0-9]{3})[0-9]+(?:-[0-9]+)*){0,4})"
    r"(?![A-Z0-9])",
    I,
)
PHONE_CUE_VALUE = regex.compile(
    r"[ \t]*(?:(?:[:#=.\-]|(?:number|no|is|at|of)(?![\p{L}\p{N}]))[ \t]*)*+(?P<v>" + _PHONE_VALUE + ")",
    I,
)

# -- triggers: literal (ASCII-lowered) prefixes located with str.find before any
# pattern runs; every cue / month / suffix below starts with one of them.
ID_TRIGGERS = (
    "mr", "med", "chart", "patient", "pt", "hospital", "record", "bank", "billing", "checking",
    "savings", "account", "acct", "a/c", "iban", "member", "subscriber", "policy", "group",
    "insurance", "plan", "beneficiary", "mbi", "hicn", "driv", "lic", "dl", "dea", "passport",
    "cert", "serial", "s/n", "sn", "device", "imei", "meid", "udi", "esn", "plate", "tag", "vin",
    "vehicle", "registration", "emr", "ehr", "case", "ref", "emp", "staff", "badge", "student",
    "visit", "encounter", "unique", "identifier", "id", "claim", "ins", "health", "hbn", "coverage",
)
PHONE_TRIGGERS = (
    "ph", "tel", "cell", "mobile", "call", "text", "reach", "pager", "beeper", "pg", "bpr", "contact",
    "fax", "facsimile",
    "p:", "t:", "m:", "c:", "h:", "f:",
)
MONTH_TRIGGERS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
AGE_TRIGGERS = ("age", "year", "yr", "yo", "y/o", "y.o")
SUFFIX_TRIGGERS = tuple(_SUFFIX.split("|"))
URL_TRIGGERS = ("http", "ftp", "www.")
TLD_TRIGGERS = tuple("." + t for t in _TLDS.split("|"))

# -- cue words (regex fragments, case-insensitive, whole word) ---------------------
_NUM = r"(?:\s*(?:number|no\.?|num|nbr|\#|id))?"
ID_CUES: dict[str, tuple[str, ...]] = {
    "MRN": (
        r"mrn",
        r"mr\s*\#",
        r"medical\s+record" + _NUM,
        r"med(?:ical)?\s*rec(?:ord)?" + _NUM,
        r"emr" + _NUM,
        r"ehr" + _NUM,
        r"chart\s*(?:number|no\.?|\#|id)",
        r"patient\s*(?:id|number|no\.?|\#)",
        r"pt\s*(?:id|\#)",
        r"hospital\s*(?:number|no\.?|\#)",
        r"record\s*(?:number|no\.?|\#|id)",
        r"case\s*(?:number|no\.?|\#|id)",
        r"ref(?:erence)?\s*(?:number|no\.?|\#|id|code)",
        r"(?:emp(?:loyee)?|staff|badge|student|visit|encounter|unique)\s*(?:id|number|no\.?|\#)",
        r"identifier",
        r"id\s*(?:number|no\.?|\#)",
    ),
    "ACCOUNT": (
        r"(?:bank\s+|billing\s+|checking\s+|savings\s+)?account" + _NUM,
        r"acct\.?" + _NUM,
        r"a/c\s*(?:number|no\.?|\#)",
        r"iban",
        r"claim" + _NUM,
    ),
    "HEALTH_PLAN": (
        r"member\s*(?:id|number|no\.?|\#)",
        r"subscriber\s*(?:id|number|no\.?|\#)",
        r"policy\s*(?:id|number|no\.?|\#)",
        r"group\s*(?:id|number|no\.?|\#)",
        r"(?:health\s+)?(?:insurance|insurer|insur|ins)\.?(?:\s+(?:plan|policy|member|card|subscriber))?"
        r"\s*(?:id|number|no\.?|\#|nbr)",
        r"health\s+(?:plan\s+)?(?:id|number|no\.?|\#)",
        r"plan\s*(?:id|number|no\.?|\#)",
        r"hbn",
        r"beneficiary\s*(?:id|number|\#)",
        r"medicare" + _NUM,
        r"medicaid" + _NUM,
        r"mbi",
        r"hicn",
    ),
    "LICENSE": (
        r"driver'?s?\s+licen[cs]e" + _NUM,
        r"driving\s+licen[cs]e" + _NUM,
        r"licen[cs]e" + _NUM,
        r"lic\.?" + _NUM,
        r"(?-i:DL)\s*\#?",
        r"dea" + _NUM,
        r"dea\s+registration" + _NUM,
        r"passport" + _NUM,
        r"certificate\s*(?:number|no\.?|\#)",
        r"cert\.?\s*(?:number|no\.?|\#)",
    ),
    "DEVICE": (
        r"serial" + _NUM,
        r"s/n",
        r"(?-i:SN)",
        r"device\s*(?:id|identifier|serial|number|no\.?|\#)",
        r"imei",
        r"meid",
        r"udi",
        r"esn",
    ),
    "VEHICLE": (
        r"licen[cs]e\s+plate" + _NUM,
        r"plate" + _NUM,
        r"tag\s*(?:number|no\.?|\#)",
        r"vin",
        r"vehicle\s+id(?:entification\s+number)?",
        r"registration\s*(?:number|no\.?|\#)",
    ),
}
# Bare words that introduce an identifier only sometimes ("ID consult", "plan: rest"):
# their value must look like one (see ``regex._id_like``).
WEAK_ID_CUES: dict[str, tuple[str, ...]] = {
    "MRN": (r"id", r"record", r"case", r"ref(?:erence)?"),
    "ACCOUNT": (r"account", r"billing", r"claim"),
    "HEALTH_PLAN": (
        r"(?:health\s+)?(?:insurance|insurer|insur|ins)\.?(?:\s+(?:plan|policy|card|carrier|member))?",
        r"health\s+plan",
        r"policy",
        r"plan",
        r"coverage",
        r"member",
        r"subscriber",
    ),
}
WEAK = "_weak"  # key suffix of WEAK_ID_CUES groups in the combined cue pattern


def id_cue_groups(extra: dict[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]]:
    """ID_CUES (plus ``extra`` words) and WEAK_ID_CUES under ``<kind>_weak`` keys, for one pattern."""
    extra = extra or {}
    groups = {k: v + extra.get(k, ()) for k, v in ID_CUES.items()}
    groups.update({k + WEAK: v for k, v in WEAK_ID_CUES.items()})
    return groups


PHONE_CUES = (
    r"phone" + _NUM,
    r"ph\.?",
    r"tel\.?",
    r"telephone",
    r"cell(?:phone)?",
    r"mobile",
    r"call(?:\s+back)?(?:\s+(?:me|us|him|her|them))?(?:\s+at)?",
    r"callback",
    r"text(?:\s+me)?(?:\s+at)?",
    r"reach(?:ed)?(?:\s+(?:me|us|him|her|them))?\s+at",
    r"pager" + _NUM,
    r"beeper" + _NUM,
    r"(?:pg|bpr)\.?\s*\#?",
    r"contact\s*(?:number|no\.?|\#)",
    r"(?-i:[PTMCH])(?=\s*:)",
)
FAX_CUES = (r"fax" + _NUM, r"facsimile", r"(?-i:F)(?=\s*:)")
SSN_CUES = (r"ssn", r"ss\s*\#", r"social(?:\s+security)?" + _NUM, r"soc\.?\s+sec\.?" + _NUM)
DOB_CUES = (
    r"dob",
    r"d\.o\.b\.?",
    r"date\s+of\s+birth",
    r"birth\s*date",
    r"birthday",
    r"born(?:\s+on)?",
    r"b-?day",
)
DATE_CUES = (
    r"on", r"since", r"from", r"until", r"till", r"dated?", r"seen", r"admitted", r"admission",
    r"discharged?", r"dos", r"visit", r"appointment", r"appt", r"scheduled", r"surgery", r"due",
) + DOB_CUES
ZIP_CUES = (r"zip(?:\s*code)?", r"zipcode", r"postal\s+code", r"post\s*code")
CARD_CUES = (
    r"(?:credit|debit)?\s*card" + _NUM, r"cc\s*\#?", r"visa", r"master\s*card", r"amex",
    r"american\s+express", r"discover", r"pan",
)
ROUTING_CUES = (r"routing" + _NUM, r"aba" + _NUM, r"rtn", r"transit" + _NUM, r"ach", r"wire", r"bank")
NPI_CUES = (r"npi" + _NUM, r"national\s+provider(?:\s+identifier)?")
DEA_CUES = (r"dea" + _NUM,)
VERSION_CUES = (r"version", r"ver\.?", r"v", r"build", r"release")
# Bare numbers near these are doses, vitals, rooms or orders, not identifiers.
NEGATIVE_CUES = (
    r"mg", r"mcg", r"ml", r"mmhg", r"mm", r"cm", r"kg", r"lbs?", r"units?", r"tabs?", r"tablets?",
    r"caps?", r"order\s*(?:number|no\.?|\#)?", r"invoice" + _NUM, r"tracking" + _NUM, r"room",
    r"rm\.?", r"bed", r"confirmation" + _NUM, r"ticket" + _NUM,
)
# Slash pairs after these are ventilator settings, scores or fluids, not dates
# ("PSV 10/5", "CPAP 5/5", "pain 3/10", "D5 1/2 NS", "strength 4/5").
SLASH_NEGATIVE_CUES = (
    r"ps", r"psv", r"cpap", r"bi-?\s*pap", r"peep", r"ac", r"a/c", r"simv", r"imv", r"prvc", r"ips",
    r"ipap", r"epap", r"vent(?:ilat(?:or|ion|ed))?", r"pap", r"flow-?by", r"settings?", r"d5", r"d10",
    r"pain", r"cp", r"score", r"scale", r"rated?", r"rates", r"strength", r"power", r"motor", r"grade",
    r"gcs", r"reflexes", r"ratio",
)
SLASH_AFTER_NEGATIVE_CUES = (
    r"ns", r"nss", r"normal\s+saline", r"murmur", r"sem", r"pain", r"strength", r"scale", r"score",
    # ventilator modes and oxygen after the numbers: "10/5 BIPAP", "12/5/65% FIO2"
    r"bi-?\s*pap", r"c-?pap", r"peep", r"ps", r"psv", r"fio2",
)
# After a month/day with a one-digit day: chest pain scores, culture bottles, "1/2 way up"
# (crackles), "1/2 amp", "3/4 strength", doses, rates and hours.
MD_AFTER_NEGATIVE_CUES = (
    r"cp", r"angina", r"bottles?", r"sets?", r"bl", r"b?cx", r"up", r"way", r"amps?", r"str(?:ength)?",
    r"tabs?", r"dose", r"rate", r"hrs?", r"hours?", r"liters?",
)
# Luhn-valid numbers that are something else: IMEIs, serials, NPIs, orders.
CARD_NEGATIVE_CUES = NEGATIVE_CUES + (r"imei", r"meid", r"serial" + _NUM, r"s/n", r"device", r"npi")

ID_CUE_RE = compile_named_cues(id_cue_groups())
PHONE_FAX_RE = compile_named_cues({"PHONE": PHONE_CUES, "FAX": FAX_CUES})
SSN_RE = compile_cues(SSN_CUES)
DOB_RE = compile_cues(DOB_CUES)
DATE_CUE_RE = compile_cues(DATE_CUES)
ZIP_RE = compile_cues(ZIP_CUES)
CARD_RE = compile_cues(CARD_CUES)
ROUTING_RE = compile_cues(ROUTING_CUES)
NPI_RE = compile_cues(NPI_CUES)
DEA_RE = compile_cues(DEA_CUES)
VERSION_RE = compile_cues(VERSION_CUES)
NEGATIVE_RE = compile_cues(NEGATIVE_CUES)
SLASH_NEGATIVE_RE = compile_cues(SLASH_NEGATIVE_CUES)
# A whole number right before "n/n" makes it a fraction or a product: "3 1/2", "600x12/5".
WHOLE_BEFORE_FRACTION = regex.compile(r"(?:[0-9]\s|[0-9]\s*[x×]\s*)$", regex.IGNORECASE)
SLASH_AFTER_NEGATIVE_RE = compile_cues(SLASH_AFTER_NEGATIVE_CUES)
MD_AFTER_NEGATIVE_RE = compile_cues(SLASH_AFTER_NEGATIVE_CUES + MD_AFTER_NEGATIVE_CUES)
CARD_NEGATIVE_RE = compile_cues(CARD_NEGATIVE_CUES)
