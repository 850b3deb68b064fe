"""Value normalization before hashing, so that one entity gets one token.

"555-123-4567", "(555) 123 4567" and "+1 555.123.4567" are one phone number;
"Jane  DOE" and "jane doe" are one name. A reformatting of a value must not
create a second pseudonym, but two different values must never share one:
every rule only drops characters that carry no identity (separators, case,
Unicode compatibility forms), and a value that does not fit its kind's shape
(a phone written in words) falls back to the generic text rule instead of
being reduced to its digits.
"""

from __future__ import annotations

import unicodedata

import regex

# Kinds whose identity is their digit sequence.
NUMERIC_KINDS = frozenset({"PHONE", "FAX", "SSN", "CREDIT_CARD", "ACCOUNT", "ZIP", "NPI"})
# Identifier kinds: letters and digits matter, separators and case do not.
ID_KINDS = frozenset(
    {"MRN", "HEALTH_PLAN", "LICENSE", "VIN", "VEHICLE", "DEVICE", "MAC_ADDRESS", "ACCOUNT"}
)
# Free-text kinds compared without regard to case.
CASELESS_KINDS = frozenset({"NAME", "ORGANIZATION", "LOCATION", "ADDRESS", "EMAIL", "IP_ADDRESS"})
_PHONE_KINDS = frozenset({"PHONE", "FAX"})

_SEPARATORS = r"\s\-./:()+#"
_NUMERIC_SHAPE = regex.compile(rf"[\d{_SEPARATORS}]*\d[\d{_SEPARATORS}]*")
_ID_SHAPE = regex.compile(rf"[\p{{L}}\p{{N}}{_SEPARATORS}]*[\p{{L}}\p{{N}}][\p{{L}}\p{{N}}{_SEPARATORS}]*")
_NOT_DIGIT = regex.compile(r"\D+")
_NOT_ALNUM = regex.compile(r"[^\p{L}\p{N}]+")
_SPACES = regex.compile(r"\s+")


def _plain(value: str) -> str:
    """NFKC, every Unicode decimal digit as ASCII ("٤١٥" is 415), invisible
    format characters (zero-width space, soft hyphen, bidi marks) dropped: the
    forms the detector's normalized view reads as the same value."""
    text = unicodedata.normalize("NFKC", value)
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c
                   for c in text if unicodedata.category(c) != "Cf")


def normalize(kind: str, value: str) -> str:
    """Canonical form of ``value`` for ``kind`` (the HMAC input, never stored)."""
    text = _plain(value)
    if kind in NUMERIC_KINDS and _NUMERIC_SHAPE.fullmatch(text):
        digits = _NOT_DIGIT.sub("", text)
        if kind in _PHONE_KINDS and len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]  # NANP country code
        return digits
    if kind in ID_KINDS and _ID_SHAPE.fullmatch(text):
        return _NOT_ALNUM.sub("", text).upper()
    text = _SPACES.sub(" ", text).strip()
    if kind in CASELESS_KINDS:
        text = text.casefold()
    return text
