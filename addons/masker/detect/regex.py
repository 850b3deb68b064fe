"""The regex detection pass: structured identifiers found by pattern, checksum and context.

Every pattern is compiled once (module level, or at ``RegexPass`` construction
for a policy's tenant patterns and extra cue words). ``detect`` reports raw
candidates with a confidence; it neither filters by policy nor merges (the
pipeline does both, see :mod:`masker.detect.merge`).

Confidence model: each detector starts from a base that reflects how
structured its match is (a checksum or a strict format scores high), a cue word
before the candidate raises it (and is *required* for ambiguous shapes such as
nine bare digits for an SSN), and a negative cue (``mg``, ``room``,
``order #``...) lowers it. Cue words are whole-word matches
(:mod:`masker.detect.context`).

Digit-based detectors are skipped on text without any ASCII digit.
"""

from __future__ import annotations

from collections.abc import Callable

import regex

from masker.detect import regex_patterns as P
from masker.detect.checksums import aba_ok, card_ok, dea_ok, npi_ok, ssn_ok, vin_ok
from masker.detect.context import (
    compile_cues,
    compile_named_cues,
    cue_after,
    cue_before,
    find_words,
    group_key,
    last_cue_end,
    literal,
    lower_ascii,
    windows,
)
from masker.detect.cued_names import CONFIDENCE as CUED_NAME_CONFIDENCE
from masker.detect.cued_names import labelled_names, relatives
from masker.detect.facility import CUE_CONFIDENCE as FACILITY_CONFIDENCE
from masker.detect.facility import facility_initials, named_facilities, ward_with_floor
from masker.detect.spans import Span
from masker.detect.staff import CONFIDENCE as STAFF_CONFIDENCE
from masker.detect.staff import staff_names
from masker.policy.model import Policy

KINDS: frozenset[str] = frozenset(
    {
        "PHONE", "FAX", "EMAIL", "SSN", "ZIP", "ADDRESS", "DATE", "DOB", "AGE", "MRN",
        "ACCOUNT", "CREDIT_CARD", "VIN", "IP_ADDRESS", "URL", "MAC_ADDRESS", "DEVICE",
        "HEALTH_PLAN", "LICENSE", "VEHICLE", "NPI", "ORGANIZATION", "LOCATION", "NAME",
    }
)

PASS = "regex"
CUE_WINDOW = 40  # characters before a candidate searched for a cue word
NEG_PENALTY = 0.3
TENANT_TIMEOUT_S = 1.0  # a pathological tenant regex raises TimeoutError (fail closed)

# Cue families a policy's ``context`` words can extend, by kind.
_FAMILY_CUES: dict[str, tuple[tuple[str, ...], regex.Pattern[str] | None]] = {
    "SSN": (P.SSN_CUES, P.SSN_RE),
    "DOB": (P.DOB_CUES, P.DOB_RE),
    "DATE": (P.DATE_CUES, P.DATE_CUE_RE),
    "ZIP": (P.ZIP_CUES, P.ZIP_RE),
    "CREDIT_CARD": (P.CARD_CUES, P.CARD_RE),
    "NPI": (P.NPI_CUES, P.NPI_RE),
}
_ID_DETECTOR = {
    "MRN": "mrn",
    "ACCOUNT": "account_number",
    "HEALTH_PLAN": "member_id",
    "LICENSE": "license_number",
    "DEVICE": "device_serial",
    "VEHICLE": "license_plate",
}
# Two-letter state codes that are also English words: weak evidence in ALL CAPS text.
_AMBIGUOUS_STATES = frozenset("IN OR ME HI OK OH DE AL LA PA CO MO NE ID MD MS MT GA".split())
_LOWER_MONTH_WORDS = frozenset({"may", "mar", "march"})

Add = Callable[[int, int, str, str, float], None]


# Clinical-note and cued-name rules: (finder, kind, detector name, confidence).
_NOTE_RULES: tuple[tuple[Callable[[str], list[tuple[int, int]]], str, str, float], ...] = (
    (facility_initials, "ORGANIZATION", "facility_initials", FACILITY_CONFIDENCE),
    (named_facilities, "ORGANIZATION", "facility_name", FACILITY_CONFIDENCE),
    (staff_names, "NAME", "staff_name", STAFF_CONFIDENCE),
    (relatives, "NAME", "relative_name", CUED_NAME_CONFIDENCE),
    (labelled_names, "NAME", "labelled_name", CUED_NAME_CONFIDENCE),
)


class RegexPass:
    """Pattern-based detector. ``detect(text)`` -> candidate spans (pass ``regex``)."""

    def __init__(self, policy: Policy | None = None) -> None:
        extras: dict[str, tuple[str, ...]] = {}
        self._tenant: list[tuple[str, regex.Pattern[str]]] = []
        if policy is not None:
            for kind, rule in policy.entities.items():
                words = tuple(literal(w) for w in rule.context if w.strip())
                if words:
                    extras[kind] = words
                for pattern in rule.patterns:
                    self._tenant.append((kind, regex.compile(pattern)))

        self._cues = {
            kind: (compile_cues(frags + extras[kind]) if kind in extras else default)
            for kind, (frags, default) in _FAMILY_CUES.items()
        }
        # Triggers of extra words: their ASCII-lowered first three characters.
        def first(kinds: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(
                lower_ascii(w.strip())[:3] for k in kinds if policy is not None and k in policy.entities
                for w in policy.entities[k].context if w.strip()
            )

        self._id_triggers = P.ID_TRIGGERS + first(tuple(P.ID_CUES))
        self._phone_triggers = P.PHONE_TRIGGERS + first(("PHONE", "FAX"))
        if any(k in extras for k in P.ID_CUES):
            id_re = compile_named_cues(P.id_cue_groups(extras))
        else:
            id_re = P.ID_CUE_RE
        if "PHONE" in extras or "FAX" in extras:
            phone_re = compile_named_cues(
                {"PHONE": P.PHONE_CUES + extras.get("PHONE", ()), "FAX": P.FAX_CUES + extras.get("FAX", ())}
            )
        else:
            phone_re = P.PHONE_FAX_RE
        # The built-in cue groups are never empty, so both alternations exist.
        assert id_re is not None and phone_re is not None
        self._id_re, self._phone_re = id_re, phone_re
        # Any kind's extra words also raise the confidence of spans of that kind.
        self._boost = {kind: compile_cues(words) for kind, words in extras.items()}
        self.kinds: frozenset[str] = KINDS | {kind for kind, _ in self._tenant}

    # -- public ------------------------------------------------------------------
    def detect(self, text: str) -> list[Span]:
        if not text:
            return []
        spans: list[Span] = []

        def add(start: int, end: int, kind: str, detector: str, confidence: float) -> None:
            if end > start:
                spans.append(Span(start, end, kind, PASS, detector, min(1.0, max(0.0, confidence))))

        low = lower_ascii(text)
        if "@" in text:
            self._emails(text, add)
        self._urls(text, low, add)
        self._ipv6_mac(text, add)
        if P.DIGIT.search(text) is not None:
            self._ipv4(text, add)
            self._phones(text, low, add)
            self._ssn(text, add)
            self._cards(text, add)
            self._nine_ten(text, add)
            self._alnum_ids(text, add)
            self._cue_values(text, low, add)
            self._dates(text, low, add)
            self._ages(text, low, add)
            self._zips(text, add)
            self._addresses(text, low, add)
            for start, end in ward_with_floor(text):
                add(start, end, "LOCATION", "ward_floor", FACILITY_CONFIDENCE)
        for find, kind, detector, confidence in _NOTE_RULES:
            for start, end in find(text):
                add(start, end, kind, detector, confidence)
        self._tenant_patterns(text, add)
        if self._boost:
            spans = [self._boosted(text, s) for s in spans]
        return spans

    # -- helpers -------------------------------------------------------------------
    def _negative(self, text: str, start: int, end: int) -> bool:
        return cue_before(P.NEGATIVE_RE, text, start, 16) or cue_after(P.NEGATIVE_RE, text, end, 8)

    def _phone_kind(self, text: str, start: int) -> tuple[str, bool]:
        """(PHONE or FAX, whether a phone/fax cue precedes): the nearest cue decides."""
        last = None
        for m in self._phone_re.finditer(text, max(0, start - CUE_WINDOW), start):
            last = m
        if last is None:
            return "PHONE", False
        return ("FAX" if group_key(last) == "FAX" else "PHONE"), True

    def _id_cue_before(self, text: str, start: int, window: int = CUE_WINDOW) -> tuple[str, bool, int] | None:
        """(kind, weak, end) of the last ID cue word within ``window`` before ``start``."""
        last = None
        for m in self._id_re.finditer(text, max(0, start - window), start):
            last = m
        if last is None:
            return None
        kind, weak = _id_key(last)
        return kind, weak, last.end()

    def _id_kind_before(self, text: str, start: int) -> str | None:
        cue = self._id_cue_before(text, start)
        return cue[0] if cue is not None else None

    def _other_id_cue(self, own: regex.Pattern[str] | None, text: str, start: int) -> str | None:
        """Kind of a *strong* ID cue ("MRN", "member id") nearer to ``start`` than any ``own`` cue.

        A checksum-valid SSN or NPI shape after "MRN:" is that record number,
        not an SSN/NPI: the nearest cue names the value.
        """
        cue = self._id_cue_before(text, start)
        if cue is None or cue[1]:
            return None
        if last_cue_end(own, text, start, CUE_WINDOW) >= cue[2]:
            return None
        return cue[0]

    def _boosted(self, text: str, span: Span) -> Span:
        pattern = self._boost.get(span.kind)
        if pattern is None or span.confidence >= 1.0 or not cue_before(pattern, text, span.start, CUE_WINDOW):
            return span
        conf = min(1.0, span.confidence + 0.15)
        return Span(span.start, span.end, span.kind, span.pass_name, span.detector, conf)

    # -- detectors -------------------------------------------------------------------
    def _emails(self, text: str, add: Add) -> None:
        for m in P.EMAIL.finditer(text):
            add(m.start(), m.end(), "EMAIL", "email", 0.95)

    def _urls(self, text: str, low: str, add: Add) -> None:
        for pos in find_words(low, P.URL_TRIGGERS):
            m = P.URL.match(text, pos)
            if m is not None:
                add(m.start(), _url_end(text, m.start(), m.end()), "URL", "url", 0.95)
        tlds = [p for p in find_words(low, P.TLD_TRIGGERS, left=False) if p > 0 and low[p - 1].isalnum()]
        for lo, hi in windows(text, tlds, 64, 16):
            for m in P.BARE_DOMAIN.finditer(text, lo, hi):
                add(m.start(), _url_end(text, m.start(), m.end()), "URL", "domain", 0.7)

    def _ipv6_mac(self, text: str, add: Add) -> None:
        spots = _hex_separator_spots(text)
        if not spots:
            return
        regions = windows(text, spots, 40, 48)
        for m in _finditer_in(P.IPV6, text, regions):
            value = m.group()
            groups = [g for g in value.split(":") if g]
            has_digit = any(c.isdigit() for c in value)
            has_hex_letter = any(c in "abcdefABCDEF" for c in value)
            if len(groups) >= 3 or (has_digit and has_hex_letter):
                add(m.start(), m.end(), "IP_ADDRESS", "ipv6", 0.85)
        for m in _finditer_in(P.MAC, text, regions):
            add(m.start(), m.end(), "MAC_ADDRESS", "mac", 0.7 if "." in m.group() else 0.9)

    def _ipv4(self, text: str, add: Add) -> None:
        for m in P.IPV4.finditer(text):
            conf = 0.5 if cue_before(P.VERSION_RE, text, m.start(), 12) else 0.9
            add(m.start(), m.end(), "IP_ADDRESS", "ipv4", conf)

    def _phones(self, text: str, low: str, add: Add) -> None:
        for m in P.PHONE_NANP.finditer(text):
            if (m.group("s1") == "/") != (m.group("s2") == "/"):
                continue  # "555/123-4567" mixes a slash in: no phone format does
            kind, cue = self._phone_kind(text, m.start())
            area = m.group("a1") or m.group("a2")
            bare = not m.group("a1") and not m.group("s1") and not m.group("s2")
            valid = area[0] in "23456789" and m.group("x")[0] in "23456789"
            if bare:
                conf = 0.85 if cue else 0.35
            elif cue:
                conf = 0.95 if valid else 0.85
            elif valid:
                conf = 0.9 if m.group("cc") else 0.85
            else:
                conf = 0.6
            if self._negative(text, m.start(), m.end()):
                conf -= NEG_PENALTY
            add(m.start(), m.end(), kind, "fax" if kind == "FAX" else "phone_nanp", conf)
        for m in P.PHONE_INTL.finditer(text):
            digits = sum(c.isdigit() for c in m.group())
            if not 8 <= digits <= 15:
                continue
            kind, cue = self._phone_kind(text, m.start())
            conf = 0.95 if cue else 0.85
            add(m.start(), m.end(), kind, "fax" if kind == "FAX" else "phone_intl", conf)
        for m in P.PHONE_LOCAL.finditer(text):
            kind, cue = self._phone_kind(text, m.start())
            conf = 0.8 if cue else 0.45
            if self._negative(text, m.start(), m.end()):
                conf -= NEG_PENALTY
            add(m.start(), m.end(), kind, "fax" if kind == "FAX" else "phone_local", conf)
        # A phone-shaped value right after a cue: national formats of other countries.
        for pos in find_words(low, self._phone_triggers):
            cue = self._phone_re.match(text, pos)
            if cue is None:
                continue
            v = P.PHONE_CUE_VALUE.match(text, cue.end())
            if v is None or v.start("v") - cue.end() > 12:
                continue
            # Pagers and beepers are reached by 4-6 digit numbers ("pager #41234").
            pager = low.startswith(_PAGER_WORDS, cue.start())
            start, end = _trim_phone(text, v.start("v"), v.end("v"), 4 if pager else 7)
            if end <= start:
                continue
            kind = "FAX" if group_key(cue) == "FAX" else "PHONE"
            add(start, end, kind, "fax" if kind == "FAX" else "phone_cue", 0.8)

    def _ssn(self, text: str, add: Add) -> None:
        """3-2-4 digit numbers: SSNs, and identifiers either way when the SSA rules fail.

        Numbers that break the SSA rules (area 000/666/9xx, group 00, serial
        0000: ITINs, test and surrogate data) are still masked after an SSN cue,
        and as a generic identifier (MRN) when dash-formatted without one: a
        3-2-4 number is somebody's identifier whatever its ranges.
        """
        cues = self._cues["SSN"]
        for m in P.SSN.finditer(text):
            start, end = m.span()
            valid = ssn_ok(m.group("a") + m.group("g") + m.group("n"))
            sep = m.group("s")
            ssn_cue = cue_before(cues, text, start, CUE_WINDOW)
            if not sep and not ssn_cue:
                continue  # nine bare digits are an SSN only next to a cue
            other = self._other_id_cue(cues, text, start)
            if other is not None:
                add(start, end, other, _ID_DETECTOR.get(other, "id_cue"), 0.9)
                continue
            kind, detector = "SSN", "ssn"
            if ssn_cue:
                conf = 0.98 if valid else (0.9 if sep else 0.8)
            elif valid:
                conf = 0.85 if sep == "-" else 0.7
            elif sep == "-":
                kind, detector, conf = "MRN", "id_shape", 0.7
            else:
                continue
            if self._negative(text, start, end):
                conf -= NEG_PENALTY
            add(start, end, kind, detector, conf)

    def _cards(self, text: str, add: Add) -> None:
        """12-19 digits passing Luhn, written whole or in card-like groups.

        A run of digit groups is searched for the best card-shaped sub-run, so
        that a neighbouring group ("4111 1111 1111 1111 1234") is not glued on
        and an SSN-like "123-45-6789 ..." sequence never forms a card.
        """
        cues = self._cues["CREDIT_CARD"]
        for run in P.DIGIT_RUN.finditer(text):
            groups = [(g.start(), g.end()) for g in _DIGITS.finditer(text, run.start(), run.end())]
            i = 0
            while i < len(groups):
                best = _best_card(text, groups, i)
                if best is None:
                    i += 1
                    continue
                j, branded = best
                start, end = groups[i][0], groups[j][1]
                cue = cue_before(cues, text, start, CUE_WINDOW)
                conf = (0.99 if cue else 0.95) if branded else (0.9 if cue else 0.75)
                if cue_before(P.CARD_NEGATIVE_RE, text, start, 16) or cue_after(P.NEGATIVE_RE, text, end, 8):
                    conf -= 0.5
                add(start, end, "CREDIT_CARD", "card", conf)
                i = j + 1

    def _nine_ten(self, text: str, add: Add) -> None:
        """ABA routing numbers (kind ACCOUNT) and NPIs: bare digits with a checksum."""
        for m in P.NINE.finditer(text):
            if aba_ok(m.group()):
                conf = 0.9 if cue_before(P.ROUTING_RE, text, m.start(), CUE_WINDOW) else 0.45
                add(m.start(), m.end(), "ACCOUNT", "aba_routing", conf)
        npi_cues = self._cues["NPI"]
        for m in P.TEN.finditer(text):
            if not npi_ok(m.group()):
                continue
            other = self._other_id_cue(npi_cues, text, m.start())
            if other is not None:
                add(m.start(), m.end(), other, _ID_DETECTOR.get(other, "id_cue"), 0.9)
                continue
            if cue_before(npi_cues, text, m.start(), CUE_WINDOW):
                conf = 0.97
            elif self._phone_kind(text, m.start())[1]:
                conf = 0.4
            else:
                conf = 0.65
            add(m.start(), m.end(), "NPI", "npi", conf)

    def _alnum_ids(self, text: str, add: Add) -> None:
        """Self-validating alphanumeric identifiers: VIN, DEA number, Medicare MBI."""
        for m in P.VIN.finditer(text):
            value = m.group()
            if any(c.isalpha() for c in value) and any(c.isdigit() for c in value) and vin_ok(value):
                add(m.start(), m.end(), "VIN", "vin", 0.95)
        for m in P.DEA.finditer(text):
            if dea_ok(m.group()):
                conf = 0.97 if cue_before(P.DEA_RE, text, m.start(), CUE_WINDOW) else 0.8
                add(m.start(), m.end(), "LICENSE", "dea", conf)
        for m in P.MBI.finditer(text):
            conf = 0.95 if self._id_kind_before(text, m.start()) == "HEALTH_PLAN" else 0.8
            add(m.start(), m.end(), "HEALTH_PLAN", "medicare_mbi", conf)
        for m in P.IBAN.finditer(text):
            if _iban_ok(m.group()):
                add(m.start(), m.end(), "ACCOUNT", "iban", 0.95)
        self._prefixed_codes(text, add)

    def _prefixed_codes(self, text: str, add: Add) -> None:
        """Letter-prefixed codes ("AB-123456"): identifiers, typed by the nearest ID cue.

        Without a cue the shape alone is reported as a generic identifier (MRN)
        when it has 6+ digits or a leading "#"; five digits need a cue.
        """
        for m in P.PREFIXED_DIGITS.finditer(text):
            prefix_end = m.start() - 1 if text[m.start() - 1] == "-" else m.start()
            start = prefix_end
            while start > 0 and prefix_end - start < P.PREFIX_MAX + 1 and "A" <= text[start - 1] <= "Z":
                start -= 1
            before = text[start - 1] if start > 0 else " "
            hashed = before == "#" or (before == " " and text[max(0, start - 2) : start] == "# ")
            edge = start - (2 if hashed and before == " " else 1 if hashed else 0)
            if prefix_end - start > P.PREFIX_MAX or (edge > 0 and (text[edge - 1].isalnum() or text[edge - 1] in "_#-")):
                continue  # five capitals or glued into a longer token
            if text[start:prefix_end] in P.PUBLIC_CODE_PREFIXES:
                continue
            end = m.end()
            cue = self._id_cue_before(text, start)
            if cue is not None:
                kind, conf = cue[0], (0.8 if cue[1] else 0.85)
            else:
                kind, conf = "MRN", (0.7 if hashed or end - m.start() >= 6 else 0.5)
            if self._negative(text, start, end):
                conf -= NEG_PENALTY
            add(start, end, kind, _ID_DETECTOR.get(kind, "id_cue") if cue else "id_shape", conf)

    def _cue_values(self, text: str, low: str, add: Add) -> None:
        """MRN, account, member id, license, device serial, plate: the value after a cue word."""
        cue_end = 0
        for pos in find_words(low, self._id_triggers):
            if pos < cue_end:
                continue  # "id" inside "member id" is part of the cue already matched
            cue = self._id_re.match(text, pos)
            if cue is None:
                continue
            cue_end = cue.end()
            v = P.ID_VALUE.match(text, cue.end())
            if v is None or v.start("v") - cue.end() > 20:
                continue
            value = v.group("v")
            digits = sum(c.isdigit() for c in value)
            kind, weak = _id_key(cue)
            if weak:
                # "ID consult", "plan: 2 weeks", "insurance 2024": only ID-shaped values,
                # in the same sentence ("COVERAGE. BS 176-211"), not led by a short word
                # ("PLAN: OR 0930": the operating room at 09:30).
                if len(value) < 5 or digits < 4 or ". " in text[cue.end() : v.start("v")]:
                    continue
                if P.SHORT_WORD_LEAD.match(value):
                    continue
                conf = 0.8
            elif len(value) < 3 or digits < 2:
                continue
            else:
                conf = 0.9 if kind == "MRN" else 0.85
            # The cue itself says what the value is: only units after it count against.
            if cue_after(P.NEGATIVE_RE, text, v.end("v"), 8):
                conf -= NEG_PENALTY
            add(v.start("v"), v.end("v"), kind, _ID_DETECTOR.get(kind, "id_cue"), conf)

    def _dates(self, text: str, low: str, add: Add) -> None:
        found: list[tuple[int, int, str, float]] = []
        for m in P.DATE_ISO.finditer(text):
            if 1 <= int(m.group("m")) <= 12 and 1 <= int(m.group("d")) <= 31:
                found.append((m.start(), m.end(), "date_iso", 0.95))
        for m in P.DATE_NUMERIC.finditer(text):
            a, b, y = int(m.group("p1")), int(m.group("p2")), m.group("y")
            if not ((1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)):
                continue
            if len(y) == 4 and not 1800 <= int(y) <= 2199:
                continue
            if len(y) == 2 and self._slash_negative(text, m.start(), m.end()):
                continue  # "AC 14/5/50": ventilator settings
            if m.group("s") == ".":
                conf = 0.85 if len(y) == 4 else 0.5
            else:
                conf = 0.9 if len(y) == 4 else 0.75
            found.append((m.start(), m.end(), "date_numeric", conf))
        date_cues = self._cues["DATE"]
        for m in P.DATE_MD.finditer(text):
            month, day = int(m.group("m")), int(m.group("d"))
            if not 1 <= month <= 12 or self._slash_negative(text, m.start(), m.end()):
                continue
            if day > 31:
                # "MI 3/98": month and two-digit year, a date element all the same.
                found.append((m.start(), m.end(), "date_numeric", 0.62))
            elif day == 0:
                continue
            elif cue_before(date_cues, text, m.start(), 20):
                found.append((m.start(), m.end(), "date_numeric", 0.65))
            elif len(m.group("d")) == 2 and day != 10:
                # "seen 3/14", "11/02": two digits after the slash are rarely a score
                # ("/10" is: pain scales), a ratio or a setting.
                found.append((m.start(), m.end(), "date_numeric", 0.62))
            elif not _fraction_like(month, day) and not cue_after(P.MD_AFTER_NEGATIVE_RE, text, m.end(), 8):
                # "extubated 7/2", "LBM 11/4": notes date events by month/day alone.
                found.append((m.start(), m.end(), "date_numeric", 0.6))
        months = windows(text, find_words(low, P.MONTH_TRIGGERS), 16, 24)
        for m in _finditer_in(P.DATE_WRITTEN, text, months):
            day, year = m.group("d"), m.group("y")
            if day and not 1 <= int(day) <= 31:
                continue
            if day is None:
                conf = 0.7  # month and year
            elif year:
                conf = 0.95
            else:
                # "may 2" / "march 3" in lower case may be a verb; "march 3rd" is a date.
                ordinal = low[m.end("d") : m.end("d") + 2] in ("st", "nd", "rd", "th")
                conf = 0.55 if m.group("mon") in _LOWER_MONTH_WORDS and not ordinal else 0.8
            end = m.end()
            if text[end - 1] == "." and len(m.group("mon")) > 4:
                end -= 1  # a full month name's "." ends the sentence
            found.append((m.start(), end, "date_written", conf))

        found.sort()
        dob_cues = self._cues["DOB"]
        prev_end = 0
        for start, end, detector, conf in found:
            if cue_before(dob_cues, text, start, CUE_WINDOW, floor=prev_end):
                add(start, end, "DOB", "dob", max(conf, 0.95))
            else:
                add(start, end, "DATE", detector, conf)
            prev_end = max(prev_end, end)

    def _slash_negative(self, text: str, start: int, end: int) -> bool:
        """Numbers with slashes that are ventilator settings, scores, strengths, fluids or fractions."""
        if end < len(text) and text[end] == "%":
            return True  # "10/5/50%": pressures and FiO2
        if P.WHOLE_BEFORE_FRACTION.search(text, max(0, start - 8), start):
            return True  # "3 1/2 hours", "600x12/5"
        return cue_before(P.SLASH_NEGATIVE_RE, text, start, 16) or cue_after(P.SLASH_AFTER_NEGATIVE_RE, text, end, 6)

    def _ages(self, text: str, low: str, add: Add) -> None:
        for m in _finditer_in(P.AGE, text, windows(text, find_words(low, P.AGE_TRIGGERS), 12, 16)):
            if 90 <= int(m.group("n")) <= 125:
                add(m.start("n"), m.end("n"), "AGE", "age_over_89", 0.9)

    def _zips(self, text: str, add: Add) -> None:
        cues = self._cues["ZIP"]
        for m in P.ZIP.finditer(text):
            start = m.start()
            state = P.STATE_BEFORE.search(text, max(0, start - 30), start)
            if state is not None:
                abbr = state.group().strip(" \t.,")
                city_comma = text[max(0, state.start() - 2) : state.start()].rstrip(" ").endswith(",")
                conf = 0.65 if abbr in _AMBIGUOUS_STATES and not city_comma else 0.9
            elif cue_before(cues, text, start, 25):
                conf = 0.9
            elif m.group("p4"):
                conf = 0.6
            else:
                continue
            add(start, m.end(), "ZIP", "zip", conf)

    def _addresses(self, text: str, low: str, add: Add) -> None:
        suffixes = find_words(low, P.SUFFIX_TRIGGERS, whole=True)
        for m in _finditer_in(P.ADDRESS, text, windows(text, suffixes, 72, 24)):
            suffix = m.group("suf")
            if not _street_name_ok(m.group("name").split(), suffix):
                continue
            conf = 0.85 if m.group("unit") else 0.8
            if suffix.isupper() and suffix.lower() in P.CLINICAL_SUFFIXES and len(m.group("num")) < 2:
                conf = 0.5  # "2 DEG AV", "1 PM CT": one digit and a clinical abbreviation
            add(m.start(), m.end(), "ADDRESS", "street_address", conf)
        for m in _finditer_in(P.PO_BOX, text, windows(text, find_words(low, ("box",), whole=True), 8, 12)):
            add(m.start(), m.end(), "ADDRESS", "po_box", 0.85)

    def _tenant_patterns(self, text: str, add: Add) -> None:
        for kind, pattern in self._tenant:
            use_group = "value" in pattern.groupindex
            for m in pattern.finditer(text, timeout=TENANT_TIMEOUT_S):
                start, end = m.span("value") if use_group else m.span()
                if end <= start:
                    continue
                conf = 0.95 if self._id_kind_before(text, start) == kind else 0.85
                add(start, end, kind, "tenant_pattern", conf)


_DIGITS = regex.compile(r"[0-9]+")
_PAGER_WORDS = ("pager", "beeper", "pg", "bpr")
_ORDINAL = regex.compile(r"[0-9]+(?:st|nd|rd|th)", regex.I)
_MIXED = regex.compile(r"[0-9]\p{L}|\p{L}[0-9]")  # a letter touching a digit


def _id_key(cue: regex.Match[str]) -> tuple[str, bool]:
    """(kind, weak) of a match of the combined ID cue pattern (:func:`P.id_cue_groups`)."""
    key = group_key(cue)
    if key.endswith(P.WEAK):
        return key[: -len(P.WEAK)], True
    return key, False


def _iban_ok(value: str) -> bool:
    """ISO 13616 check: the rearranged IBAN, letters as 10-35, is 1 mod 97."""
    iban = value.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
_HEX = frozenset("0123456789abcdefABCDEF")


def _fraction_like(numerator: int, denominator: int) -> bool:
    """"1/2", "2/3", "3/4" (fractions) and "2/2", "5/5" (counts, strengths) rather than dates."""
    return numerator < denominator <= 4 or numerator == denominator <= 5


def _finditer_in(pattern: regex.Pattern[str], text: str, regions: list[tuple[int, int]]):
    """Matches of ``pattern`` inside each (disjoint, sorted) region."""
    for lo, hi in regions:
        yield from pattern.finditer(text, lo, hi)


def _hex_separator_spots(text: str) -> list[int]:
    """Positions that may belong to an IPv6 or MAC address: ``h:h``, ``::``, ``hh-hh-``, ``hhhh.hhhh.``."""
    spots: list[int] = []
    n = len(text)
    i = text.find(":")
    while i != -1:
        if 0 < i < n - 1 and (text[i - 1] in _HEX or text[i - 1] == ":") and (
            text[i + 1] in _HEX or text[i + 1] == ":"
        ):
            spots.append(i)
        i = text.find(":", i + 1)
    i = text.find("-")
    while i != -1:
        if i >= 2 and i + 6 <= n and text[i + 3] == "-" and all(c in _HEX for c in text[i - 2 : i] + text[i + 1 : i + 3]):
            spots.append(i)
        i = text.find("-", i + 1)
    i = text.find(".")
    while i != -1:
        if i >= 4 and i + 10 <= n and text[i + 5] == "." and all(c in _HEX for c in text[i - 4 : i] + text[i + 1 : i + 5]):
            spots.append(i)
        i = text.find(".", i + 1)
    spots.sort()
    return spots


def _url_end(text: str, start: int, end: int) -> int:
    """Drop trailing sentence punctuation and an unbalanced closing bracket."""
    while end > start:
        ch = text[end - 1]
        if ch in ".,;:!?'\"" or (ch == ")" and text.count("(", start, end) < text.count(")", start, end)):
            end -= 1
        else:
            break
    return end


def _trim_phone(text: str, start: int, end: int, min_digits: int = 7) -> tuple[int, int]:
    """Shorten a cue-introduced phone value to <= 15 digits, dropping stray trailing groups.

    Returns an empty range when fewer than ``min_digits`` digits remain.
    """
    groups = [(g.start(), g.end()) for g in _DIGITS.finditer(text, start, end)]
    while groups and (
        sum(e - s for s, e in groups) > 15 or (len(groups) > 1 and groups[-1][1] - groups[-1][0] == 1)
    ):
        groups.pop()
    digits = sum(e - s for s, e in groups)
    if not min_digits <= digits <= 15:
        return start, start
    end = groups[-1][1]
    if text.count("(", start, end) > text.count(")", start, end) and text.startswith(")", end):
        end += 1
    return start, end


def _best_card(text: str, groups: list[tuple[int, int]], i: int) -> tuple[int, bool] | None:
    """(last group index, branded) of the best card starting at group ``i``, or None.

    Separated cards use one separator kind and groups of 4-6 digits (the last
    may have 3, for 19-digit "4-4-4-4-3"). Preference: a known network's
    prefix and length, then the usual 15/16 digits, then length.
    """
    best: tuple[tuple[bool, bool, int], int] | None = None
    digits = ""
    sep = None
    for j in range(i, len(groups)):
        s, e = groups[j]
        if j > i:
            this_sep = text[groups[j - 1][1]]
            if sep is not None and this_sep != sep:
                break
            sep = this_sep
            if not 4 <= groups[j - 1][1] - groups[j - 1][0] <= 6 or not 3 <= e - s <= 6:
                break
        digits += text[s:e]
        if len(digits) > 19:
            break
        if len(digits) >= 12 and card_ok(digits):
            key = (_brand_ok(digits), len(digits) in (15, 16), len(digits))
            if best is None or key > best[0]:
                best = (key, j)
    if best is None:
        return None
    return best[1], best[0][0]


def _brand_ok(digits: str) -> bool:
    """Prefix and length of a known card network (Visa, Mastercard, Amex, Discover, JCB, ...)."""
    n = len(digits)
    p2, p4 = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if digits.startswith("6011") or p2 == 65 or 644 <= int(digits[:3]) <= 649:
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if 300 <= int(digits[:3]) <= 305 or p2 in (36, 38):
        return 14 <= n <= 19
    if p2 == 62:
        return 16 <= n <= 19
    return False


def _street_name_ok(words: list[str], suffix: str) -> bool:
    """A street name is no function word, and its case matches the suffix's.

    ``Main St`` / ``MAIN ST`` / ``main street`` (ASR) pass; ``3 times by Dr`` does not.
    """
    if not words or any(w.lower().strip(".") in P.ADDRESS_STOPWORDS for w in words):
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
