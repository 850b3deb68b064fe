"""The spoken-form cues: the words around a value said aloud that tell what it is.

Read by the spoken-form recognizers (``masker.detect.spoken``). The
written-form cues live in ``masker.detect.vocab.cues``; the closed word
classes both kinds of rule share (months, ordinals, street suffixes, unit
words, top-level domains, fillers) in ``masker.detect.vocab.words``.
"""

from __future__ import annotations

from masker.detect.vocab.words import FILLERS

# Cue phrases per kind (lowercase, space-separated words), looked for before a value.
# The keys are also the cue ids an ``Explanation`` reports.
CUES: dict[str, tuple[str, ...]] = {
    "SSN": ("social", "socials", "ssn", "social security", "ss number"),
    "PHONE": (
        "phone", "phones", "call", "callback", "call back", "cell", "mobile", "telephone",
        "reach", "text me", "area code", "number", "phone number", "contact number",
    ),
    "FAX": ("fax",),
    "ZIP": ("zip", "zipcode", "zip code", "postal", "postal code"),
    "DOB": ("birth", "born", "dob", "birthday", "birthdate", "bday"),
    "ACCOUNT": ("account", "acct", "routing", "routing number", "account number", "bank account"),
    "CREDIT_CARD": ("card", "credit", "debit", "visa", "mastercard", "amex", "card number"),
    "MRN": ("mrn", "medical record", "record number", "chart number", "patient id", "patient number"),
    "HEALTH_PLAN": (
        "member", "member id", "member number", "policy", "policy number", "insurance",
        "insurance id", "subscriber", "medicare", "medicaid", "beneficiary", "group number",
        "plan id", "insurance card", "insurance card number", "member card",
    ),
    "LICENSE": ("license", "licence", "license number", "drivers license"),
    "NAME": ("spelled", "spell", "spelling", "spells", "that's", "thats", "letters", "name"),
}
# Cues that count only when no other cue is in the window, so "social
# security number" is an SSN cue, not a phone cue.
WEAK_CUES: frozenset[tuple[str, ...]] = frozenset({("number",)})

# Said right after an age ("ninety two years old", "ninety yo") or right before one
# ("aged ninety five"): the "AGE" cue.
AGE_AFTER: tuple[tuple[str, ...], ...] = (("years", "old"), ("year", "old"), ("yo",))
AGE_BEFORE: frozenset[str] = frozenset({"age", "aged"})

# Words said between the digits of one number: "five five five uh one two", "five dash one".
CHAIN_FILLERS: frozenset[str] = FILLERS | {"dash", "hyphen"}

# What joins the parts of a spoken email, said or written, and the character it stands for.
EMAIL_CONNECTORS: dict[str, str] = {
    "dot": ".", "period": ".", ".": ".",
    "underscore": "_", "_": "_",
    "dash": "-", "hyphen": "-", "-": "-",
}
# The connectors said as words ("dot"): what makes an address spoken, not typed.
SPOKEN_CONNECTORS: frozenset[str] = frozenset(c for c in EMAIL_CONNECTORS if c.isalpha())
# Words that cannot start the local part of a spoken email ("email me at ...").
EMAIL_STOP: frozenset[str] = frozenset({
    "is", "me", "my", "email", "e-mail", "address", "was", "it's", "its", "it", "be", "to",
    "us", "at", "the", "and", "or", "send", "reach", "mail", "you", "your", "him", "her", "them",
})

# Words that show "<number> ... street" is not a street address ("five blocks down the street").
NOT_STREET_NAME: frozenset[str] = frozenset({
    "the", "a", "an", "to", "of", "on", "in", "at", "down", "up", "my", "your", "this",
    "that", "across", "from", "by", "blocks", "block", "miles", "mile", "minutes", "and",
    "or", "for", "times", "people", "cars", "houses", "doors", "streets",
})

# Months that are also everyday words ("may", "march") are a date only with an ordinal day or a year.
AMBIGUOUS_MONTHS: frozenset[str] = frozenset({"may", "march", "august"})

# One-letter words: "a"/"i" before a number ("a five", "i one") are an article
# and a pronoun, not a spelled letter.
LETTER_WORDS: frozenset[str] = frozenset({"a", "i"})
