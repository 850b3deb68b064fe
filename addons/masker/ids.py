"""Agent and session ids: the rule every id must pass before it is journaled.

Agent and session ids are journaled and signed into reports as given, so
they must not carry an identifier. Each id must

1. have the shape ``[A-Za-z0-9][A-Za-z0-9._:-]{0,127}`` (ASCII letters,
   digits and ``. _ : -``, 1-128 characters): no ``@`` (e-mail addresses),
   no ``+``, spaces, ``/`` or ``%``;
2. hold no number of 7 or more digits. Digits joined by single ``. _ : -``
   count as one number, and digits glued to letters count too, so
   ``555-123-4567``, ``tel5551234567``, ``123-45-6789``, ``1980-05-12``,
   ``19800512``, an MRN ``MRN-00123456``, a card number or an epoch
   timestamp are refused: phone numbers (7, 10, 11 digits), SSNs and ZIP+4
   (9), NPIs (10), dates (8), most record and member numbers, card numbers
   (12-19). One exception: a single unseparated run of exactly 12 digits;
3. hold no IPv4 address (four dot-separated groups of 1-3 digits) and no MAC
   address (six groups of two hex digits).

Random ids are exempt from rule 2: a canonical UUID (8-4-4-4-12 hex), a ULID,
and any alphanumeric segment made only of hex digits that has a letter a-f
(``uuid4().hex``, digests, ObjectIds). The 12-digit exception exists because
a 48-bit random hex id (``uuid4().hex[:12]``) is all digits about once in
280, and refusing it would make such clients fail at random; of the common
US formats only rare 12-digit card and account numbers have that length.
Use a UUID, or at least 12 random hex characters.

This is a guard against identifiers put into ids by mistake, not a detector:
a name (``jane-doe``) cannot be told from an id without the detection
engine. A refused id is answered with JSON 400 (407 on a CONNECT), code
``invalid_agent_id`` or ``invalid_session_id``; the message names the header
and the rule, never the value.
"""

from __future__ import annotations

import re

INVALID_AGENT_ID = "invalid_agent_id"
INVALID_SESSION_ID = "invalid_session_id"
BAD_IDENTITY = "bad_identity"  # a malformed Proxy-Authorization header

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
_ID_RE = re.compile(ID_PATTERN, re.ASCII)
_UUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_ULID_RE = re.compile(r"(?<![A-Za-z0-9])[0-7][0-9A-HJKMNP-TV-Z]{25}(?![A-Za-z0-9])")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9]+")
_HEX_TOKEN_RE = re.compile(r"(?=[0-9A-Fa-f]*[A-Fa-f])(?=[0-9A-Fa-f]*[0-9])[0-9A-Fa-f]+")
_NUMBER_RE = re.compile(r"[0-9]+(?:[._:-][0-9]+)*")
_IPV4_RE = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])")
_MAC_RE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}(?![0-9A-Fa-f])")
MIN_REFUSED_DIGITS = 7
ALLOWED_PLAIN_RUN = 12  # see the module doc: random 48-bit hex ids

_SHAPE_RULE = "1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"
_CONTENT_RULE = (
    "must not hold an identifier (a number of 7 or more digits such as a phone, SSN,"
    " date, record or card number, or an IP or MAC address); use a random id such as a UUID"
)


class IdentityError(ValueError):
    """An agent or session id was refused; ``code`` is the client-facing error code."""

    def __init__(self, message: str, code: str = BAD_IDENTITY) -> None:
        super().__init__(message)
        self.code = code


def _random_parts_removed(value: str) -> str:
    """``value`` with UUIDs, ULIDs and hex tokens blanked (their digits are random)."""
    blanked = _ULID_RE.sub(" ", _UUID_RE.sub(" ", value))
    return _SEGMENT_RE.sub(lambda m: " " if _HEX_TOKEN_RE.fullmatch(m.group()) else m.group(), blanked)


def id_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable agent or session id, else None (see the module doc)."""
    if not _ID_RE.fullmatch(value):
        return f"must be {_SHAPE_RULE}"
    if _IPV4_RE.search(value) or _MAC_RE.search(value):
        return _CONTENT_RULE
    for m in _NUMBER_RE.finditer(_random_parts_removed(value)):
        number = m.group()
        digits = sum(c.isdigit() for c in number)
        if digits >= MIN_REFUSED_DIGITS and not (digits == ALLOWED_PLAIN_RUN and number.isdigit()):
            return _CONTENT_RULE
    return None


def _checked(value: str, what: str, code: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise IdentityError(f"{what} {problem}", code)
    return value


def check_agent_id(value: str, what: str = "agent id") -> str:
    return _checked(value, what, INVALID_AGENT_ID)


def check_session_id(value: str, what: str = "session id") -> str:
    return _checked(value, what, INVALID_SESSION_ID)
