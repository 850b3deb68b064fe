"""``synthetic`` tokenization: realistic surrogates of the same kind.

A name becomes another name, a phone a fictional 555-01xx number, an SSN a
never-issued 9xx number, a card a Luhn-valid test card, an email an address
at example.com, a date the same date shifted by one offset for the whole
session (so intervals between dates survive). Formatting (separators, case,
zero padding) is kept where the value has one.

Surrogates are stable within the policy's ``token_scope`` and unrelated
outside it: the choice is seeded by HMAC(synthetic subkey, scope binding,
KIND, normalized value), the binding being (agent, session) under
``token_scope: session`` (the default) and the agent alone under ``agent``;
the date shift is seeded by the binding alone, so it is one offset per
session (or per agent). They are not tokens and cannot be rehydrated; the
LLM's answer keeps the surrogates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random

import regex

from masker.detect.checksums import luhn_ok, vin_ok
from masker.scope import DEFAULT_TOKEN_SCOPE, Scope
from masker.tokens import keys as K
from masker.tokens.keys import Keyring
from masker.tokens.normalize import normalize

FIRST_NAMES = (
    "Avery Jordan Riley Morgan Casey Quinn Harper Rowan Emerson Finley Sage Reese Dakota "
    "Elena Mateo Priya Kenji Amara Tomas Leila Nikolai Imani Santiago Mei Omar Ingrid "
    "Lucia Malik Hana Diego Anika Felix Noor Elias Zara Arjun Freya Kofi Naomi"
).split()
LAST_NAMES = (
    "Ashford Bellamy Calloway Delacroix Ellison Fairbanks Galloway Hartwell Ingram Jessup "
    "Kingsley Lockhart Merriweather Northcott Oakley Pemberton Quimby Radcliffe Sutherland "
    "Thornbury Underhill Vance Whitlock Yardley Zeller Okafor Nakamura Castellanos Lindqvist "
    "Haddad Moreau Novak Brennan Ferreira Kowalski Abernathy Chandra Mendez Osei Takeda"
).split()
CITIES = (
    "Springfield Riverton Fairview Lakewood Ashbury Millbrook Cedar Falls Brookhaven "
    "Glenrock Maple Ridge Oakmont Pinecrest"
).split()
STREETS = "Elm Oak Maple Cedar Willow Birch Juniper Chestnut Aspen Sycamore".split()
STREET_TYPES = ("Street", "Avenue", "Lane", "Road", "Court", "Drive")
ORGS = (
    "Northwind Health", "Contoso Clinic", "Fabrikam Medical Group", "Lakeside Family Practice",
    "Blue Heron Pharmacy", "Summit Care Partners", "Riverbend Hospital",
)
AREA_CODES = ("201", "212", "303", "312", "404", "415", "503", "617", "702", "808", "919")
MONTHS = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
_TITLES = regex.compile(r"^((?:dr|mr|mrs|ms|mx|prof)\.?\s+)", regex.IGNORECASE)
_ISO = regex.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_NUMERIC_DATE = regex.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})")
_MONTH_FIRST = regex.compile(
    r"(?P<mon>[A-Za-z]{3,9})(?P<dot>\.?)\s+(?P<d>\d{1,2})(?P<ord>st|nd|rd|th)?(?:(?P<sep>,?\s+)(?P<y>\d{4}))?"
)
_DAY_FIRST = regex.compile(
    r"(?P<d>\d{1,2})(?P<ord>st|nd|rd|th)?\s+(?P<of>of\s+)?(?P<mon>[A-Za-z]{3,9})(?P<dot>\.?)(?:(?P<sep>,?\s+)(?P<y>\d{4}))?"
)
_NUMBER = regex.compile(r"\d+")


class Synthesizer:
    """Surrogates for one kid; ``surrogate`` is pure given (scope, kind, value)."""

    def __init__(self, keyring: Keyring, kid: str, token_scope: str = DEFAULT_TOKEN_SCOPE) -> None:
        self._key = keyring.subkey(kid, K.SYNTHETIC)
        Scope().binding(token_scope)  # an unknown token_scope fails here, not per value
        self._token_scope = token_scope

    def _rng(self, *parts: str) -> random.Random:
        msg = "\x1f".join(parts).encode("utf-8")
        return random.Random(hmac.new(self._key, msg, hashlib.sha256).digest())

    def date_shift(self, scope: Scope) -> int:
        """Days every date of the session (or agent) moves by: +-(30..365), never 0."""
        rng = self._rng("date-shift", scope.binding(self._token_scope))
        return rng.choice((-1, 1)) * rng.randint(30, 365)

    def surrogate(self, scope: Scope, kind: str, value: str) -> str:
        rng = self._rng("value", scope.binding(self._token_scope), kind, normalize(kind, value))
        if kind in ("DATE", "DOB"):
            return shift_date(value, self.date_shift(scope)) or _any_date(rng)
        make = _MAKERS.get(kind, _reshape)
        return make(rng, value)


def _digits_into(template: str, digits: str) -> str:
    """Write ``digits`` over the digits of ``template``, keeping its separators."""
    it = iter(digits)
    return "".join(next(it, c) if c.isdigit() else c for c in template)


def _rand_digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _with_format(value: str, digits: str, default: str) -> str:
    if sum(c.isdigit() for c in value) == len(digits):
        return _digits_into(value, digits)
    return _digits_into(default, digits)


def _phone(rng: random.Random, value: str) -> str:
    line = "55501" + _rand_digits(rng, 2)
    n = sum(c.isdigit() for c in value)
    digits = line if n == 7 else rng.choice(AREA_CODES) + line
    if n == 11:
        digits = "1" + digits
    return _with_format(value, digits, "(000) 000-0000")


def _ssn(rng: random.Random, value: str) -> str:
    digits = f"9{rng.randint(0, 99):02d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    return _with_format(value, digits, "000-00-0000")


def _luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


def _card(rng: random.Random, value: str) -> str:
    n = sum(c.isdigit() for c in value)
    n = n if 13 <= n <= 19 else 16
    digits = _luhn_complete("400000" + _rand_digits(rng, n - 7))
    return _with_format(value, digits, "0000 0000 0000 0000")


def _npi(rng: random.Random, value: str) -> str:
    body = "1" + _rand_digits(rng, 8)
    check = next(d for d in "0123456789" if luhn_ok("80840" + body + d))
    return _with_format(value, body + check, "0000000000")


def _vin(rng: random.Random, value: str) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    chars = [rng.choice(alphabet) for _ in range(17)]
    for check in "0123456789X":
        chars[8] = check
        if vin_ok("".join(chars)):
            break
    return "".join(chars)


def _zip(rng: random.Random, value: str) -> str:
    # 000xx: no such ZIP area (Safe Harbor's own replacement for small areas)
    n = sum(c.isdigit() for c in value)
    digits = "000" + _rand_digits(rng, n - 3 if n >= 5 else 2)
    return _with_format(value, digits, "00000")


def _case_like(value: str, text: str) -> str:
    letters = [c for c in value if c.isalpha()]
    if letters and all(c.islower() for c in letters):
        return text.lower()
    if letters and len(letters) > 1 and all(c.isupper() for c in letters):
        return text.upper()
    return text


def _name(rng: random.Random, value: str) -> str:
    title = _TITLES.match(value)
    rest = value[title.end() :] if title else value
    if len(rest.split()) >= 2:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    else:  # "Dr. Smith" -> a surname, "Jane" -> a given name
        name = rng.choice(LAST_NAMES) if title else rng.choice(FIRST_NAMES)
    return (title.group(1) if title else "") + _case_like(rest, name)


def _email(rng: random.Random, value: str) -> str:
    return f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}{rng.randint(1, 99)}@example.com".lower()


def _address(rng: random.Random, value: str) -> str:
    text = f"{rng.randint(10, 9899)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
    return _case_like(value, text)


def _city(rng: random.Random, value: str) -> str:
    return _case_like(value, rng.choice(CITIES))


def _org(rng: random.Random, value: str) -> str:
    return _case_like(value, rng.choice(ORGS))


def _ip(rng: random.Random, value: str) -> str:
    if ":" in value:
        return f"2001:db8::{rng.randint(1, 0xFFFF):x}"
    net = rng.choice(("192.0.2", "198.51.100", "203.0.113"))  # RFC 5737 documentation nets
    return f"{net}.{rng.randint(1, 254)}"


def _mac(rng: random.Random, value: str) -> str:
    sep = "-" if "-" in value else ":"
    octets = ["02"] + [f"{rng.randint(0, 255):02x}" for _ in range(5)]  # locally administered
    text = sep.join(octets)
    return text.upper() if any(c.isupper() for c in value) else text


def _url(rng: random.Random, value: str) -> str:
    return f"https://example.org/{rng.choice(STREETS).lower()}/{rng.randint(100, 999)}"


def _age(rng: random.Random, value: str) -> str:
    def repl(m: regex.Match) -> str:
        n = int(m.group())
        return "90" if n > 89 else str(max(1, min(89, n + rng.randint(-3, 3))))

    return _NUMBER.sub(repl, value) if _NUMBER.search(value) else str(rng.randint(20, 80))


def _reshape(rng: random.Random, value: str) -> str:
    """Same shape, new characters: digits for digits, letters for letters."""
    out = []
    for c in value:
        if c.isdigit():
            out.append(rng.choice("0123456789"))
        elif c.isalpha() and c.isascii():
            ch = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
            out.append(ch.lower() if c.islower() else ch)
        elif c.isalpha():
            out.append(rng.choice("xyz"))
        else:
            out.append(c)
    return "".join(out)


_MAKERS = {
    "NAME": _name,
    "PHONE": _phone,
    "FAX": _phone,
    "SSN": _ssn,
    "CREDIT_CARD": _card,
    "NPI": _npi,
    "VIN": _vin,
    "ZIP": _zip,
    "EMAIL": _email,
    "ADDRESS": _address,
    "LOCATION": _city,
    "ORGANIZATION": _org,
    "IP_ADDRESS": _ip,
    "MAC_ADDRESS": _mac,
    "URL": _url,
    "AGE": _age,
}


# -- dates ---------------------------------------------------------------------


def _month_index(name: str) -> int | None:
    low = name.lower()
    for i, full in enumerate(MONTHS):
        if full.lower() == low or (len(low) >= 3 and full.lower().startswith(low)):
            return i + 1
    return None


def _pad(n: int, like: str) -> str:
    """``n`` as wide as ``like`` ("05" or "11" -> two digits, "5" -> as is)."""
    return f"{n:0{len(like)}d}"


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _shift(year: int, month: int, day: int, days: int) -> dt.date | None:
    try:
        return dt.date(year, month, day) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None


def shift_date(value: str, days: int) -> str | None:
    """``value`` moved by ``days`` in its own format, or None if it is not a date we read."""
    text = value.strip()
    lead, trail = value[: len(value) - len(value.lstrip())], value[len(value.rstrip()) :]
    if m := _ISO.fullmatch(text):
        y, sep, mo, d = m.groups()
        new = _shift(int(y), int(mo), int(d), days)
        if new is None:
            return None
        return f"{lead}{new.year:04d}{sep}{_pad(new.month, mo)}{sep}{_pad(new.day, d)}{trail}"
    if m := _NUMERIC_DATE.fullmatch(text):
        a, sep, b, y = m.groups()
        month, day = (int(a), int(b)) if int(a) <= 12 else (int(b), int(a))
        year = int(y) if len(y) == 4 else (1900 + int(y) if int(y) > 30 else 2000 + int(y))
        new = _shift(year, month, day, days)
        if new is None:
            return None
        first, second = (new.month, new.day) if int(a) <= 12 else (new.day, new.month)
        yy = f"{new.year:04d}" if len(y) == 4 else f"{new.year % 100:02d}"
        return f"{lead}{_pad(first, a)}{sep}{_pad(second, b)}{sep}{yy}{trail}"
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        m = pattern.fullmatch(text)
        month_no = m and _month_index(m["mon"])
        if not month_no:
            continue
        year = int(m["y"]) if m["y"] else 2000  # a leap year, so Feb 29 shifts
        new = _shift(year, month_no, int(m["d"]), days)
        if new is None:
            return None
        full = MONTHS[new.month - 1]
        abbreviated = m["mon"].lower() != MONTHS[month_no - 1].lower()
        mon = _case_like(m["mon"], full[:3] if abbreviated else full)
        day_text = str(new.day) + (_ordinal(new.day) if m["ord"] else "")
        year_part = f"{m['sep']}{new.year}" if m["y"] else ""
        if pattern is _MONTH_FIRST:
            body = f"{mon}{m['dot']} {day_text}{year_part}"
        else:
            body = f"{day_text} {m['of'] or ''}{mon}{m['dot']}{year_part}"
        return f"{lead}{body}{trail}"
    return None


def _any_date(rng: random.Random) -> str:
    day = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 80))
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
