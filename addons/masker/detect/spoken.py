"""Spoken-form detection pass: identifiers as speech-to-text writes them.

Voice agents forward transcripts: "my social is one two three forty five sixty
seven eighty nine", "tom dot becker at gmail dot com", "r a g h u". This pass
works on the tokenized digit view from ``masker.detect.numwords`` and reports
spans on the original words. It only reports spans that involve spoken forms
(number words, spelled letters, "at"/"dot"): digits as written are the regex
pass's job. Policy thresholds are applied by the pipeline, not here.

Detectors, in the order they claim items:
- ``spoken_email``: "tom dot becker at gmail dot com"
- ``spoken_date``: "january fifth nineteen eighty", "the fifth of january"
- ``spoken_id`` / ``spoken_spelled``: letter runs, alone (NAME) or mixed
  with digits (MRN, member id ...); letters that spell a word said just
  before or after ("it's Kwame, K W A M E") are that word spelled: a NAME
- ``spoken_<kind>``: digit chains ("five ten, five five five, one two one two")
  classified by the nearest cue word, else by their shape and checksums
- ``spoken_address``, ``spoken_age``: "twelve hundred main street",
  "ninety two years old"

Everything is a single left-to-right walk over the items with bounded
look-back, so the pass is linear in the text length; texts without any
number word, spelled letter or spoken email are skipped after one word scan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from masker.detect.checksums import aba_ok, card_ok, ssn_ok
from masker.detect.numwords import (
    NUMBER_WORDS,
    OH,
    REPEAT,
    SEPARATOR_PUNCT,
    TEENS,
    TENS,
    UNITS,
    Item,
    SpokenView,
    normalize,
    tokenize_items,
)
from masker.detect.spans import Span
from masker.policy.model import Policy
from masker.tokens.scheme import TOKEN_RE

__all__ = ["KINDS", "SpokenPass", "SpokenView", "normalize"]

KINDS: frozenset[str] = frozenset({
    "SSN", "PHONE", "FAX", "ZIP", "DOB", "DATE", "AGE", "ACCOUNT", "CREDIT_CARD",
    "MRN", "HEALTH_PLAN", "LICENSE", "EMAIL", "NAME", "ADDRESS",
})

PASS_NAME = "spoken"

MONTHS = frozenset({
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
})
# Months that are also everyday words need an ordinal day or a year.
_AMBIGUOUS_MONTHS = frozenset({"may", "march", "august"})

_ORDINAL_UNITS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}
ORDINALS: dict[str, int] = {
    **_ORDINAL_UNITS,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})

# Words said between the digits of one number: "five five five uh one two".
_CHAIN_FILLERS = frozenset({"uh", "um", "umm", "er", "erm", "ah", "hmm", "mm", "dash", "hyphen"})
_MAX_GAP_ITEMS = 3
_CUE_WINDOW = 8  # words looked at before a candidate
_LOOKBACK_ITEMS = 40  # items walked back to find them (bounds work on punctuation runs)
_ECHO_ITEMS = 12  # items looked at on each side for the word a letter run spells
_MAX_EMAIL_ITEMS = 64  # items in either part of a spoken email

# Built-in cue phrases per kind (lowercase, space-separated words).
_CUES: dict[str, tuple[str, ...]] = {
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
_CHAIN_CUE_KINDS = tuple(k for k in _CUES if k != "NAME")
# Kinds a spelled alphanumeric id ("x y z one two three") can be, by its cue.
_ID_KINDS = ("HEALTH_PLAN", "MRN", "ACCOUNT", "LICENSE")

_WEAK_CUES = frozenset({("number",)})

# Exact digit counts a cue kind accepts; a longer chain is cut to the longest fitting prefix.
_FIXED_LENGTHS: dict[str, tuple[int, ...]] = {
    "SSN": (9, 4),
    "PHONE": (11, 10, 7),
    "FAX": (11, 10, 7),
    "ZIP": (9, 5),
    "CREDIT_CARD": tuple(range(19, 11, -1)),
}
_OPEN_LENGTH_KINDS = ("ACCOUNT", "MRN", "HEALTH_PLAN", "LICENSE")
_MAX_ID_DIGITS = 24
_MAX_CHAIN_NUMS = 40

_CONNECTORS: dict[str, str] = {
    "dot": ".", "period": ".", ".": ".",
    "underscore": "_", "_": "_",
    "dash": "-", "hyphen": "-", "-": "-",
}
_SPOKEN_CONNECTORS = frozenset({"dot", "period", "underscore", "dash", "hyphen"})
_TLDS = frozenset({
    "com", "org", "net", "edu", "gov", "mil", "io", "co", "us", "uk", "ca", "de",
    "info", "biz", "me", "ai", "app", "health", "care", "au", "in", "fr",
})
# Words that cannot start the local part of a spoken email ("email me at ...").
_EMAIL_STOP = frozenset({
    "is", "me", "my", "email", "e-mail", "address", "was", "it's", "its", "it", "be", "to",
    "us", "at", "the", "and", "or", "send", "reach", "mail", "you", "your", "him", "her", "them",
})

_STREET_SUFFIXES = frozenset({
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "drive", "dr",
    "lane", "ln", "way", "court", "ct", "place", "pl", "terrace", "circle", "parkway",
    "highway", "hwy", "trail", "square", "pike",
})
_UNIT_WORDS = frozenset({"apartment", "apt", "unit", "suite", "ste"})
# Words that show "<number> ... street" is not a street address ("five blocks down the street").
_NOT_STREET_NAME = frozenset({
    "the", "a", "an", "to", "of", "on", "in", "at", "down", "up", "my", "your", "this",
    "that", "across", "from", "by", "blocks", "block", "miles", "mile", "minutes", "and",
    "or", "for", "times", "people", "cars", "houses", "doors", "streets",
})

# Between spelled letters: not "/", which joins clinical shorthand (s/p, d/t, c/o, w/).
_LETTER_SEPARATORS = SEPARATOR_PUNCT - {"/"}
_SCAN_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|[0-9]+")
# Words that can start a detection on their own: numbers of two or more
# digits ("twelve", "ninety", "hundred"), dates, repeats, spoken dots.
_ALONE_TRIGGERS = (
    frozenset(TEENS) | frozenset(TENS) | {"hundred", "thousand"}
    | frozenset(ORDINALS) | MONTHS | frozenset(REPEAT) | {"dot"}
)
_NEAR_WORDS = 4  # a one-digit word joins a chain only with a number this close
_STREET_REACH = 6  # "three <up to 4 names> street"


def _worth_scanning(text: str) -> bool:
    """Cheap, conservative pre-check: could any detector fire on ``text``?

    Every detection holds a spelled letter, an "at"/"dot" of an email, a
    month or ordinal, or a number of two or more digits. A lone one-digit
    word ("three days of pills") is none of these unless another number is
    within a few words (one chain) or a street name follows (an address).
    Punctuation is ignored here, which only ever says "scan" more often.
    """
    words = _SCAN_WORD_RE.findall(text.lower())
    vocab = set(words)
    if not vocab.isdisjoint(_ALONE_TRIGGERS):
        return True
    if any(len(w) == 1 and w.isalpha() for w in vocab) and _spelled(words):
        return True
    if "at" in vocab and not vocab.isdisjoint(_TLDS):
        return True
    if vocab.isdisjoint(UNITS) and vocab.isdisjoint(OH):
        return False
    numeric = [i for i, w in enumerate(words) if w in UNITS or w in OH or w.isdigit()]
    for a, b in zip(numeric, numeric[1:]):
        # Written digits next to written digits are the regex pass's job.
        if b - a <= _NEAR_WORDS and not (words[a].isdigit() and words[b].isdigit()):
            return True
    return any(
        not _STREET_SUFFIXES.isdisjoint(words[i + 1:i + 1 + _STREET_REACH])
        for i in numeric
        if not words[i].isdigit()
    )


def _blank_tokens(text: str) -> str:
    """``text`` with each Masker token made one opaque mark, offsets kept.

    A token's letters and digits ("K", "2B7") are not spoken forms, and a
    digit chain must not run through one.
    """
    return TOKEN_RE.sub(lambda m: "|" + " " * (m.end() - m.start() - 1), text)


def _spelled(words: list[str]) -> bool:
    """A spelled letter: one that is not the word "a" or "I", or one of those next to another letter or number."""
    for i, w in enumerate(words):
        if len(w) != 1 or not w.isalpha():
            continue
        if w not in ("a", "i"):
            return True
        around = words[max(0, i - 1):i] + words[i + 1:i + 2]
        if any(len(x) == 1 or x.isdigit() or x in UNITS or x in OH for x in around):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Found:
    """A detection over items ``[first, last]`` (inclusive)."""

    first: int
    last: int
    kind: str
    detector: str
    confidence: float


class _Cues:
    """Cue phrases by their last word, for nearest-cue look-back."""

    def __init__(self, policy: Policy | None) -> None:
        phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}

        def add(phrase: str, kind: str) -> None:
            words = tuple(re.findall(r"[^\W_]+(?:['’][^\W_]+)*", phrase.lower()))
            if words:
                phrases.setdefault(words[-1], []).append((words, kind))

        for kind, cues in _CUES.items():
            for cue in cues:
                add(cue, kind)
        if policy is not None:
            for kind, rule in policy.entities.items():
                if kind in KINDS:
                    for cue in rule.context:
                        add(cue, kind)
        for entries in phrases.values():
            entries.sort(key=lambda e: -len(e[0]))  # longer phrases first
        self._by_last = phrases

    def before(self, words: Sequence[str], kinds: Sequence[str] | None = None) -> str | None:
        """Kind of the cue nearest to the end of ``words`` (only ``kinds`` if given).

        A weak cue ("number") counts only when no other cue is in the window,
        so "social security number" is an SSN cue, not a phone cue.
        """
        weak = None
        for end in range(len(words) - 1, -1, -1):
            for phrase, kind in self._by_last.get(words[end], ()):
                if kinds is not None and kind not in kinds:
                    continue
                n = len(phrase)
                if end + 1 >= n and tuple(words[end + 1 - n:end + 1]) == phrase:
                    if phrase not in _WEAK_CUES:
                        return kind
                    weak = weak or kind
        return weak


def _nanp_ok(d: str) -> bool:
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789"


def _counting(nums: Sequence[Item]) -> bool:
    """ "one two three four five ...": counting, not an identifier."""
    values = [it.value for it in nums]
    steps = {b - a for a, b in zip(values, values[1:])}
    return steps == {1} or steps == {-1}


def _numeric_date(nums: Sequence[Item], digits: str, birth: bool) -> bool:
    """Whether chain numbers read as month day year ("twelve twelve nineteen seventy")."""
    if len(nums) == 3:
        m, d, y = nums
        year_ok = (len(y.digits) == 4 and 1900 <= y.value <= 2099) or (birth and len(y.digits) == 2)
        if len(m.digits) <= 2 and 1 <= m.value <= 12 and len(d.digits) <= 2 and 1 <= d.value <= 31 and year_ok:
            return True
    if birth and len(digits) in (6, 8):
        mm, dd, yy = int(digits[:2]), int(digits[2:4]), digits[4:]
        return 1 <= mm <= 12 and 1 <= dd <= 31 and (len(yy) == 2 or 1900 <= int(yy) <= 2099)
    return False


class SpokenPass:
    """Finds spoken-form identifiers; see the module docstring."""

    def __init__(self, policy: Policy | None = None) -> None:
        self._cues = _Cues(policy)
        self._blocked: frozenset[str] = frozenset(
            kind for kind, rule in (policy.entities.items() if policy else ())
            if not rule.enabled or not rule.regex
        )

    def detect(self, text: str) -> list[Span]:
        if "MSK" in text:
            text = _blank_tokens(text)
        if not text or not _worth_scanning(text):
            return []
        items = tokenize_items(text)
        scan = _Scan(items, self._cues)
        found = scan.run()
        spans = []
        for f in found:
            if f.kind in self._blocked:
                continue
            spans.append(Span(items[f.first].start, items[f.last].end, f.kind, PASS_NAME, f.detector, f.confidence))
        return sorted(spans, key=lambda s: (s.start, -s.end))


class _Scan:
    """One detection run over the items of one text."""

    def __init__(self, items: list[Item], cues: _Cues) -> None:
        self.items = items
        self.cues = cues
        self.claimed = [False] * len(items)
        self.found: list[_Found] = []

    # -- helpers ---------------------------------------------------------

    def low(self, i: int) -> str:
        return self.items[i].low if 0 <= i < len(self.items) and self.items[i].kind == "word" else ""

    def words_before(self, i: int, n: int = _CUE_WINDOW) -> list[str]:
        """The ``n`` words before item ``i`` (punctuation skipped), oldest first."""
        out: list[str] = []
        j = i - 1
        stop = max(-1, i - 1 - _LOOKBACK_ITEMS)
        while j > stop and len(out) < n:
            it = self.items[j]
            if it.kind == "word":
                out.append(it.low.removesuffix("'s").removesuffix("’s"))
            elif it.kind == "num":
                out.append("#")
            j -= 1
        out.reverse()
        return out

    def cue(self, i: int, kinds: Sequence[str] | None = None) -> str | None:
        return self.cues.before(self.words_before(i), kinds)

    def skip_punct(self, j: int, allowed: frozenset[str] = frozenset({","})) -> int:
        while j < len(self.items) and self.items[j].kind == "punct" and self.items[j].low in allowed:
            j += 1
        return j

    def free(self, first: int, last: int) -> bool:
        return not any(self.claimed[first:last + 1])

    def emit(self, first: int, last: int, kind: str, detector: str, confidence: float) -> None:
        self.found.append(_Found(first, last, kind, detector, confidence))
        for k in range(first, last + 1):
            self.claimed[k] = True

    def is_letter(self, i: int) -> bool:
        it = self.items[i]
        return it.kind == "word" and len(it.low) == 1 and it.low.isalpha()

    # -- run -------------------------------------------------------------

    def run(self) -> list[_Found]:
        n = len(self.items)
        for i in range(n):
            it = self.items[i]
            if (it.kind == "word" and it.low == "at") or (it.kind == "punct" and it.low == "@"):
                self.email(i)
        for i in range(n):
            if not self.claimed[i]:
                self.date(i)
        i = 0
        while i < n:
            i = self.letter_run(i) if not self.claimed[i] else i + 1
        i = 0
        while i < n:
            i = self.chain(i) if self.items[i].is_num and not self.claimed[i] else i + 1
        for i in range(n):
            it = self.items[i]
            if it.is_num and not self.claimed[i]:
                if not (i > 0 and self.items[i - 1].is_num and not self.claimed[i - 1]) and self.address(i):
                    continue
                if it.spoken and not self.claimed[i]:
                    self.age(i)
        return self.found

    # -- email -----------------------------------------------------------

    def connector(self, p: int) -> str:
        """The email connector at item ``p`` ("dot", "underscore", or one attached to both neighbours)."""
        items = self.items
        if not 0 < p < len(items) - 1:
            return ""
        it = items[p]
        if it.kind == "word" and it.low in _SPOKEN_CONNECTORS:
            return it.low
        attached = items[p - 1].end == it.start and it.end == items[p + 1].start
        if it.kind == "punct" and it.low in _CONNECTORS and attached:
            return it.low
        return ""

    def email_unit(self, j: int) -> bool:
        it = self.items[j]
        return it.is_num or (it.kind == "word" and it.low not in _CONNECTORS)

    def email(self, at: int) -> None:
        """ "tom dot becker at gmail dot com", "t o m one two at mail dot org" """
        items = self.items
        spoken = items[at].kind == "word"
        # Domain: label (dot label)+, ending in a known TLD.
        last = -1
        labels = 0
        j = at + 1
        while j < min(len(items), at + _MAX_EMAIL_ITEMS) and self.email_unit(j):
            labels += 1
            last = j
            c = self.connector(j + 1)
            if c and _CONNECTORS[c] in ".-" and self.email_unit(j + 2):
                spoken = spoken or c in _SPOKEN_CONNECTORS
                j += 2
                continue
            break
        if labels < 2 or items[last].kind != "word" or items[last].low not in _TLDS:
            return
        # Local part, backwards. Units join through connectors; without one,
        # only digits and single letters join (said one by one), plus one word
        # right before them ("tom one two").
        first = -1
        j = at - 1
        forced = False
        while j >= max(0, at - _MAX_EMAIL_ITEMS) and self.email_unit(j):
            glue = items[j].is_num or self.is_letter(j)
            if not glue and items[j].low in _EMAIL_STOP and not forced:
                break
            if first >= 0 and not forced and not (items[first].is_num or self.is_letter(first)):
                break
            first = j
            c = self.connector(j - 1)
            if c and j >= 2 and self.email_unit(j - 2):
                spoken = spoken or c in _SPOKEN_CONNECTORS
                j -= 2
                forced = True
                continue
            j -= 1
            forced = False
        if first < 0 or not spoken or not self.free(first, last):
            return
        self.emit(first, last, "EMAIL", "spoken_email", 0.92)

    # -- dates -----------------------------------------------------------

    def day(self, j: int, cardinal: bool) -> tuple[int, int, bool] | None:
        """(day, index after it, spoken) at item ``j``."""
        items = self.items
        if j >= len(items):
            return None
        it = items[j]
        if it.kind == "word" and it.low in ORDINALS and ORDINALS[it.low] <= 31:
            return ORDINALS[it.low], j + 1, True
        if it.spoken and it.form == "tens" and it.value in (20, 30) and j + 1 < len(items):
            nxt = items[j + 1].low if items[j + 1].kind == "word" else ""
            if nxt in _ORDINAL_UNITS and it.value + _ORDINAL_UNITS[nxt] <= 31:
                return it.value + _ORDINAL_UNITS[nxt], j + 2, True
        if it.kind == "num" and it.form == "raw" and len(it.digits) <= 2 and 1 <= it.value <= 31:
            if j + 1 < len(items) and items[j + 1].low in _ORDINAL_SUFFIXES and items[j + 1].start == it.end:
                return it.value, j + 2, False
            if cardinal:
                return it.value, j + 1, False
        if cardinal and it.spoken and it.form in ("unit", "teen", "tens", "compound") and 1 <= it.value <= 31:
            return it.value, j + 1, True
        return None

    def year(self, j: int, two_digit: bool) -> tuple[int, bool] | None:
        """(index after, spoken) of a year at item ``j``."""
        items = self.items
        if j >= len(items) or not items[j].is_num:
            return None
        it = items[j]
        if len(it.digits) == 4 and 1900 <= it.value <= 2099:
            return j + 1, it.spoken
        if two_digit and it.spoken and it.form in ("tens", "compound") and it.value >= 20:
            return j + 1, True
        return None

    def date(self, i: int) -> None:
        items = self.items
        it = items[i]
        birth = None
        end = -1
        spoken = False
        has_day = has_year = False
        if it.kind == "word" and it.low in MONTHS:
            birth = self.cue(i, ("DOB",)) == "DOB"
            j = i + 1
            if self.low(j) == "the":
                j += 1
            d = self.day(j, cardinal=True)
            if d is not None:
                _, j, spoken = d
                has_day = True
                end = j - 1
            k = self.skip_punct(j)
            if self.low(k) == "of":
                k += 1
            y = self.year(k, two_digit=birth and has_day)
            if y is not None:
                end = y[0] - 1
                spoken = spoken or y[1]
                has_year = True
            if it.low in _AMBIGUOUS_MONTHS and not has_year:
                d = self.day(i + 1, cardinal=False) or self.day(i + 2, cardinal=False)
                if d is None:
                    return
        else:
            d = self.day(i, cardinal=False)
            if d is None:
                return
            _, j, spoken = d
            if self.low(j) == "of":
                j += 1
            if self.low(j) not in MONTHS:
                return
            birth = self.cue(i, ("DOB",)) == "DOB"
            has_day = True
            end = j
            k = self.skip_punct(j + 1)
            y = self.year(k, two_digit=birth)
            if y is not None:
                end = y[0] - 1
                spoken = spoken or y[1]
                has_year = True
        if end < 0 or not spoken or not (has_day or has_year) or not self.free(i, end):
            return
        if birth:
            self.emit(i, end, "DOB", "spoken_date", 0.92)
        else:
            self.emit(i, end, "DATE", "spoken_date", 0.8 if has_day and has_year else 0.65)

    # -- spelled letters (names, alphanumeric ids) -------------------------

    def letter_run(self, i: int) -> int:
        """Detect a run of spelled letters (and digits) starting at ``i``; return the next index."""
        items = self.items
        repeat = self.low(i) in ("double", "triple") and i + 1 < len(items) and self.is_letter(i + 1)
        if not (self.is_letter(i) or repeat):
            return i + 1
        members: list[int] = []
        j = i
        n = len(items)
        while j < n and not self.claimed[j]:
            if self.is_letter(j) or (items[j].is_num and len(items[j].digits) <= 4):
                members.append(j)
                j += 1
            elif self.low(j) in ("double", "triple") and j + 1 < n and self.is_letter(j + 1):
                members.extend((j, j + 1))
                j += 2
            else:
                k = j
                while k < n and items[k].kind == "punct" and items[k].low in _LETTER_SEPARATORS and k - j < 2:
                    k += 1
                if k == j or not members or k >= n:
                    break
                j = k
                continue
        if not members:
            return i + 1
        # A lone "a"/"i" before digits is an article or a pronoun ("a five", "i one").
        while len(members) > 1 and items[members[0]].low in ("a", "i") and not self.is_letter(members[1]):
            members.pop(0)
        first, last = members[0], members[-1]
        letters = sum(1 for k in members if self.is_letter(k))
        digits = sum(len(items[k].digits) for k in members if items[k].is_num)
        cue = self.cue(first, (*_ID_KINDS, "NAME"))
        if letters == 0:
            return j
        if digits == 0:
            if cue == "NAME" and letters >= 2:
                self.emit(first, last, "NAME", "spoken_spelled", 0.9)
            elif cue in _ID_KINDS and letters >= 3:
                self.emit(first, last, cue, "spoken_id", 0.8)
            elif letters >= 3 and self.spells_a_word_nearby(members):
                self.emit(first, last, "NAME", "spoken_spelled", 0.9)
            elif cue is None and letters >= 4:
                self.emit(first, last, "NAME", "spoken_spelled", 0.5)
            return j
        total = letters + digits
        if cue in _ID_KINDS and total >= 3:
            self.emit(first, last, cue, "spoken_id", 0.9)
        elif total >= 6 and digits >= 2:
            self.emit(first, last, "ACCOUNT", "spoken_id", 0.5)
        return j

    def spells_a_word_nearby(self, members: list[int]) -> bool:
        """Whether the run's letters spell a word within ``_ECHO_ITEMS`` items of it."""
        items = self.items
        letters: list[str] = []
        repeat = 1
        for k in members:
            low = items[k].low
            if low in ("double", "triple"):
                repeat = 2 if low == "double" else 3
                continue
            letters.append(low * repeat)
            repeat = 1
        spelled = "".join(letters)
        first, last = members[0], members[-1]
        nearby = [*range(max(0, first - _ECHO_ITEMS), first), *range(last + 1, min(len(items), last + 1 + _ECHO_ITEMS))]
        return any(
            items[k].kind == "word" and "".join(c for c in items[k].low if c.isalpha()) == spelled for k in nearby
        )

    # -- digit chains ----------------------------------------------------

    def chain(self, i: int) -> int:
        """Collect the number chain starting at item ``i``, classify it; return the next index."""
        items = self.items
        n = len(items)
        nums = [i]
        j = i + 1
        while j < n:
            k = j
            while k < n and k - j < _MAX_GAP_ITEMS and (
                (items[k].kind == "punct" and items[k].low in SEPARATOR_PUNCT)
                or (items[k].kind == "word" and items[k].low in _CHAIN_FILLERS)
            ):
                k += 1
            if k < n and items[k].is_num and not self.claimed[k]:
                nums.append(k)
                j = k + 1
            else:
                break
        if len(nums) > _MAX_CHAIN_NUMS:
            return nums[-1] + 1  # a recitation, not an identifier
        start = 0
        while start < len(nums):
            used = self.classify(nums[start:], first_cue=start == 0)
            if not used:
                break
            start += used
        return nums[-1] + 1

    def classify(self, idx: list[int], first_cue: bool) -> int:
        """Classify the chain ``idx`` (item indices); emit; return how many numbers it used (0: none)."""
        items = self.items
        nums = [items[k] for k in idx]
        digits_at = []  # cumulative digit counts per prefix
        total = 0
        for it in nums:
            total += len(it.digits)
            digits_at.append(total)
        digits = "".join(it.digits for it in nums)
        cue = self.cue(idx[0], _CHAIN_CUE_KINDS) if first_cue else None

        def spoken(count: int) -> bool:
            return any(it.spoken for it in nums[:count])

        def take(count: int, kind: str, conf: float) -> int:
            if not spoken(count):
                return 0
            self.emit(idx[0], idx[count - 1], kind, "spoken_" + kind.lower(), conf)
            return count

        def prefix(lengths: Sequence[int]) -> int:
            """Numbers making up the whole chain, or a part of it that ends at a pause
            ("nine four one one zero, one two three main street"), with a length in ``lengths``."""
            for length in lengths:
                if length in digits_at:
                    count = digits_at.index(length) + 1
                    if count == len(idx) or idx[count] - idx[count - 1] > 1:
                        return count
            return 0

        if cue in _FIXED_LENGTHS:
            lengths = _FIXED_LENGTHS[cue]
            count = prefix(lengths)
            if not count and min(lengths) - 2 <= len(digits) <= max(lengths) + 2:
                # The cue says what it is; the digit count is off (a misheard or dropped digit).
                return take(len(nums), cue, 0.65)
            if count:
                d = digits[:digits_at[count - 1]]
                if cue == "SSN":
                    conf = 0.95 if ssn_ok(d) else (0.8 if len(d) == 4 else 0.7)
                elif cue in ("PHONE", "FAX"):
                    ok = _nanp_ok(d) or (len(d) == 11 and d[0] == "1" and _nanp_ok(d[1:])) or len(d) == 7
                    conf = 0.95 if ok else 0.75
                elif cue == "CREDIT_CARD":
                    conf = 0.97 if card_ok(d) else 0.7
                else:
                    conf = 0.9
                return take(count, cue, conf)
        elif cue == "DOB":
            if len(nums) >= 3 and _numeric_date(nums[:3], "".join(it.digits for it in nums[:3]), True):
                return take(3, "DOB", 0.9)
            if _numeric_date(nums, digits, True):
                return take(len(nums), "DOB", 0.9)
        elif cue in _OPEN_LENGTH_KINDS and 4 <= len(digits) <= _MAX_ID_DIGITS:
            conf = 0.9 if cue == "ACCOUNT" and aba_ok(digits) else 0.85
            return take(len(nums), cue, conf)

        # No cue, or the cue does not fit: judge by shape and checksums.
        if len(nums) >= 5 and _counting(nums):
            return len(nums)
        d = digits
        if 13 <= len(d) <= 19 and card_ok(d):
            return take(len(nums), "CREDIT_CARD", 0.85)
        if _nanp_ok(d) or (len(d) == 11 and d[0] == "1" and _nanp_ok(d[1:])):
            return take(len(nums), "PHONE", 0.75)
        if len(d) == 9 and ssn_ok(d):
            return take(len(nums), "SSN", 0.6)
        if len(nums) >= 3 and _numeric_date(nums[:3], "", False):
            return take(3, "DATE", 0.6)
        if len(d) == 7 and d[0] in "23456789":
            return take(len(nums), "PHONE", 0.6)
        if 8 <= len(d) <= _MAX_ID_DIGITS:
            return take(len(nums), "ACCOUNT", 0.5)
        return 0

    # -- addresses and ages ----------------------------------------------

    def address(self, i: int) -> bool:
        """ "twelve hundred main street [apartment four b]" (``i``: first number of a run)."""
        items = self.items
        k = i
        while k + 1 < len(items) and items[k + 1].is_num and not self.claimed[k + 1]:
            k += 1
        if not any(items[m].spoken for m in range(i, k + 1)) or items[k].value <= 0:
            return False
        j = k + 1
        names = 0
        while j < len(items) and names <= 4 and items[j].kind == "word":
            w = items[j].low
            if w in _STREET_SUFFIXES and names >= 1:
                end = j
                u = j + 1
                if self.low(u) in _UNIT_WORDS and u + 1 < len(items) and (
                    items[u + 1].is_num or self.is_letter(u + 1)
                ):
                    end = u + 1
                    if end + 1 < len(items) and self.is_letter(end + 1):
                        end += 1
                if not self.free(i, end):
                    return False
                self.emit(i, end, "ADDRESS", "spoken_address", 0.8)
                return True
            if w in _NOT_STREET_NAME or w in NUMBER_WORDS:
                return False
            names += 1
            j += 1
        return False

    def age(self, i: int) -> bool:
        """Ages over 89 (Safe Harbor C): "ninety two years old", "aged ninety five"."""
        value = self.items[i].value
        if not 90 <= value <= 130:
            return False
        after = (self.low(i + 1), self.low(i + 2))
        before = self.words_before(i, 2)
        said_old = after in (("years", "old"), ("year", "old")) or after[0] == "yo"
        if said_old or (before and before[-1] in ("age", "aged")):
            self.emit(i, i, "AGE", "spoken_age", 0.85)
            return True
        return False
