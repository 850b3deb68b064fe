"""The written-form cues: words before (or after) a typed value that tell what it is, or what it is not.

Read by the regex pass through its context scorer (``masker.detect.context``),
which compiles each list once into a whole-word, case-insensitive pattern and
adds a policy's ``context`` words to the list of their kind. Every entry is a
regex fragment (``date\\s+of\\s+birth``); the dict keys and list names are the
cue ids an ``Explanation`` reports. The spoken-form cues ("social", "area
code") live in ``masker.detect.vocab.spoken_cues``; closed word classes
(months, states, street suffixes, TLDs) in ``masker.detect.vocab.words``.
"""

from __future__ import annotations

# An optional "number", "no.", "#", "id" after a cue noun.
_NUM = r"(?:\s*(?:number|no\.?|num|nbr|\#|id))?"

# -- identifiers introduced by a cue ("MRN: 00123456"), by the kind they name ------
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
# the value after them must look like one (see ``recognizers.record_ids``).
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

# -- phone and fax -------------------------------------------------------------------
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

# -- triggers: literal (ASCII-lowered) prefixes located with str.find before the ID
# and phone cue patterns run; every cue above starts with one of them.
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

# -- other kinds -------------------------------------------------------------------
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
# Before a dotted quad: a version number, not an IPv4 address.
VERSION_CUES = (r"version", r"ver\.?", r"v", r"build", r"release")

# -- negative cues: what a number near them is instead ---------------------------------
# Bare numbers near these are doses, vitals, rooms or orders, not identifiers.
NEGATIVE_CUES = (
    r"mg", r"mcg", r"ml", r"mmhg", r"mm", r"cm", r"kg", r"lbs?", r"units?", r"tabs?", r"tablets?",
    r"caps?", r"order\s*(?:number|no\.?|\#)?", r"invoice" + _NUM, r"tracking" + _NUM, r"room",
    r"rm\.?", r"bed", r"confirmation" + _NUM, r"ticket" + _NUM,
)
# Luhn-valid numbers that are something else: IMEIs, serials, NPIs, orders.
CARD_NEGATIVE_CUES = NEGATIVE_CUES + (r"imei", r"meid", r"serial" + _NUM, r"s/n", r"device", r"npi")
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
# After a month/day with a one-digit day (besides SLASH_AFTER_NEGATIVE_CUES): chest pain
# scores, culture bottles, "1/2 way up" (crackles), "1/2 amp", "3/4 strength", doses, rates, hours.
MD_AFTER_NEGATIVE_CUES = SLASH_AFTER_NEGATIVE_CUES + (
    r"cp", r"angina", r"bottles?", r"sets?", r"bl", r"b?cx", r"up", r"way", r"amps?", r"str(?:ength)?",
    r"tabs?", r"dose", r"rate", r"hrs?", r"hours?", r"liters?",
)
