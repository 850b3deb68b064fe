"""Cue words: whole-word, case-insensitive context searches near a candidate, and the scorer built on them.

A cue is a regex fragment (``date\\s+of\\s+birth``, ``driver'?s?\\s+licen[cs]e``)
or, for tenant-supplied words, a literal escaped by :func:`literal`. Cues match
as whole words: no letter may touch either end, so ``lic`` does not fire inside
``public``. Digits may touch a cue (``5mg``, ``MRN12345``).

:class:`ContextScorer` is the one place the written-form recognizers look for
cues: built once per policy, it holds every cue list of
``masker.detect.vocab.cues`` compiled (with the policy's ``context`` words
added to the lists of their kind), answers "which cue list fired before this
value", applies the negative-cue penalty and raises the confidence of spans
of a kind whose tenant words stand before them.

The module also holds the cheap literal pre-scans (:func:`find_words`,
:func:`windows`) that decide where the recognizers' patterns run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import regex

from masker.detect.recognizer import Explanation
from masker.detect.spans import Span
from masker.detect.vocab import cues as C
from masker.policy.model import Policy

# No letter immediately before / after the cue.
_LEFT = r"(?<!\p{L})"
_RIGHT = r"(?!\p{L})"


def literal(word: str) -> str:
    """Regex fragment for a plain cue word; inner whitespace matches any run."""
    parts = word.strip().split()
    return r"\s+".join(regex.escape(p) for p in parts)


def compile_cues(fragments: Iterable[str]) -> regex.Pattern[str] | None:
    """One whole-word alternation of ``fragments`` (longest first), or None if empty."""
    frags = sorted({f for f in fragments if f}, key=len, reverse=True)
    if not frags:
        return None
    return regex.compile(_LEFT + "(?:" + "|".join(frags) + ")" + _RIGHT, regex.I)


def compile_named_cues(groups: Mapping[str, Iterable[str]]) -> regex.Pattern[str] | None:
    """Whole-word alternation whose named group (``m.lastgroup``) says which key matched.

    Within the alternation longer fragments come first, so ``license plate``
    (a vehicle cue) is preferred to ``license`` (a license cue).
    """
    items = [(len(f), key, f) for key, frags in groups.items() for f in set(frags) if f]
    if not items:
        return None
    items.sort(key=lambda t: -t[0])
    # An empty marker group after each fragment names the key that matched.
    alts = [f"(?:{frag})(?P<{key}__{i}>)" for i, (_, key, frag) in enumerate(items)]
    return regex.compile(_LEFT + "(?:" + "|".join(alts) + ")" + _RIGHT, regex.I)


def group_key(m: regex.Match[str]) -> str:
    """The ``groups`` key of a match from :func:`compile_named_cues`."""
    return (m.lastgroup or "").rsplit("__", 1)[0]


def last_cue(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int, floor: int = 0) -> regex.Match[str] | None:
    """The last cue match inside ``text[max(floor, pos - window):pos]``, else None."""
    if pattern is None:
        return None
    last = None
    for m in pattern.finditer(text, max(floor, pos - window, 0), pos):
        last = m
    return last


def last_cue_end(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int, floor: int = 0) -> int:
    """End of the last cue match inside ``text[max(floor, pos - window):pos]``, else -1."""
    m = last_cue(pattern, text, pos, window, floor)
    return -1 if m is None else m.end()


def cue_before(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int = 40, floor: int = 0) -> bool:
    """A cue matches inside ``text[max(floor, pos - window):pos]`` (the first match found will do)."""
    return pattern is not None and pattern.search(text, max(floor, pos - window, 0), pos) is not None


def cue_after(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int = 12) -> bool:
    """A cue starts within ``window`` characters after ``pos`` (``5 mg``, ``mmHg``)."""
    if pattern is None:
        return False
    # Search a little past the window so a cue is never cut into a shorter one.
    m = pattern.search(text, pos, min(len(text), pos + window + 16))
    return m is not None and m.start() < pos + window


# -- triggers: cheap literal pre-scans that decide where the patterns run -------
_NON_ASCII_RUN = regex.compile(r"([^\x00-\x7f]+)")


def lower_ascii(text: str) -> str:
    """``text`` with ASCII letters lowered; same length, so offsets stay valid.

    ``str.lower`` does exactly that to ASCII, and is far faster than
    ``str.translate``, which a single non-ASCII character in a long body
    sends down its slow path: the ASCII runs are lowered, the others kept.
    """
    if text.isascii():
        return text.lower()
    parts = _NON_ASCII_RUN.split(text)  # [ascii, non-ascii, ascii, ..., ascii]
    parts[::2] = [p.lower() for p in parts[::2]]
    return "".join(parts)


def find_words(low: str, words: Iterable[str], *, whole: bool = False, left: bool = True) -> list[int]:
    """Sorted positions in ``low`` (see :func:`lower_ascii`) where a word starts.

    With ``left`` no letter may precede it; with ``whole`` no letter may follow
    it either. ``str.find`` is far faster than a regex alternation tried at
    every position.
    """
    found: set[int] = set()
    n = len(low)
    for word in words:
        size = len(word)
        i = low.find(word)
        while i != -1:
            if (not left or i == 0 or not low[i - 1].isalpha()) and (
                not whole or i + size >= n or not low[i + size].isalpha()
            ):
                found.add(i)
            i = low.find(word, i + size)
    return sorted(found)


# Characters that the regex module's IGNORECASE matches to an ASCII letter ("İ" to "i",
# "ſ" to "s", the Kelvin sign to "k"); ASCII lowering leaves them, so words starting
# with one are not found in ``lower_ascii`` text.
_FOLDING_TO_ASCII = ("\u0130", "\u017f", "\u212a")


def finditer_at_words(
    pattern: regex.Pattern[str], text: str, low: str, words: Iterable[str]
) -> Iterator[regex.Match[str]]:
    """The matches ``pattern.finditer(text)`` gives, tried only where one of ``words`` starts.

    For a pattern whose every match begins with one of ``words`` (ASCII,
    lower case) and with no letter before it, as a leading cue alternation
    does: the regex module tries such an alternation at every position of a
    long text, slowly, while the words are found by :func:`find_words`.
    Matches do not overlap, as with ``finditer``. A text holding a character
    the pattern's case folding takes for an ASCII letter is scanned in full.
    """
    if any(c in text for c in _FOLDING_TO_ASCII):
        yield from pattern.finditer(text)
        return
    end = 0
    for pos in find_words(low, words):
        if pos >= end and (m := pattern.match(text, pos)) is not None:
            end = m.end()
            yield m


def leading_words(pattern: str) -> tuple[str, ...]:
    r"""Lower-case texts one of which begins every match of ``pattern``: the ``words``
    of :func:`finditer_at_words`, read from the pattern itself so they cannot fall
    behind it when an alternative is added.

    Reads alternations, groups (plain, named, inline-flag), optional groups,
    literal characters (an optional one both with and without it) and escaped
    punctuation; lookarounds and flag groups take no characters and are skipped;
    anything else (a class, ``\s``, ``\p{L}``, a repeated character) ends the
    literal there. A shorter text is always safe
    (more positions are tried). An alternative that begins with no literal at all
    raises ValueError, at import, instead of losing its matches.
    """
    found = _leading(pattern)
    if "" in found:
        raise ValueError("an alternative of the pattern begins with no literal text")
    return prefix_free(sorted(w.lower() for w in found))


_ESCAPED_LITERALS = frozenset(".-/'&")


def _leading(pattern: str) -> set[str]:
    return {w for alternative in _alternatives(pattern) for w in _sequence(alternative, 0, "")}


def _alternatives(pattern: str) -> list[str]:
    """``pattern`` split at its top-level ``|``."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class opening at ``pattern[i]``."""
    j = i + 2 if pattern[i + 1 : i + 2] in ("]", "^") else i + 1
    while pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _group_end(pattern: str, i: int) -> int:
    """Index just past the group opening at ``pattern[i]``."""
    depth = 0
    while True:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def _sequence(pattern: str, i: int, prefix: str) -> set[str]:
    """The literal beginnings of ``pattern[i:]`` (one alternative), each after ``prefix``."""
    while i < len(pattern):
        c = pattern[i]
        nxt = pattern[i + 1 : i + 2]
        if c == "(":
            end = _group_end(pattern, i)
            if pattern.startswith(("(?<!", "(?<=", "(?=", "(?!"), i):
                i = end  # a lookaround takes no characters
                continue
            if pattern.startswith("(?P<", i):
                inner = pattern[pattern.index(">", i) + 1 : end - 1]
            elif nxt == "?":
                colon, close = pattern.find(":", i), pattern.find(")", i)
                if colon < 0 or close < colon:
                    i = end  # "(?m)": flags only
                    continue
                inner = pattern[colon + 1 : end - 1]
            else:
                inner = pattern[i + 1 : end - 1]
            heads = {prefix + w for w in _leading(inner)}
            quantifier = pattern[end : end + 1]
            if quantifier in ("?", "*") or pattern.startswith("{0", end):
                after = end + 1 if quantifier != "{" else pattern.index("}", end) + 1
                return heads | _sequence(pattern, after, prefix)
            return heads
        if c == "\\":
            if nxt not in _ESCAPED_LITERALS:
                return {prefix}
            c, i = nxt, i + 1
        elif c in "[.^$?*+{":
            return {prefix}
        quantifier = pattern[i + 1 : i + 2]
        if quantifier == "?":
            return _sequence(pattern, i + 2, prefix + c) | _sequence(pattern, i + 2, prefix)
        if quantifier in ("*", "{"):
            return {prefix}
        if quantifier == "+":
            return {prefix + c}
        prefix += c
        i += 1
    return {prefix}


def prefix_free(words: Iterable[str]) -> tuple[str, ...]:
    """``words`` without repeats and without those another one begins ("id" finds every "identifier").

    :func:`find_words` without ``whole`` gives the same positions for both
    lists, with fewer scans of the text.
    """
    unique = tuple(dict.fromkeys(words))
    return tuple(w for w in unique if not any(o != w and w.startswith(o) for o in unique))


def windows(text: str, positions: Iterable[int], before: int, after: int) -> list[tuple[int, int]]:
    """Merged ranges ``[p - before, p + after)`` widened to whitespace, so no token is cut.

    A pattern run with ``finditer(text, lo, hi)`` on such a range sees the same
    token boundaries as on the whole text (widening stops after 64 characters).
    ``positions`` must be sorted.
    """
    n = len(text)
    raw: list[list[int]] = []
    for p in positions:
        lo, hi = max(0, p - before), min(n, p + after)
        if raw and lo <= raw[-1][1]:
            raw[-1][1] = max(raw[-1][1], hi)
        else:
            raw.append([lo, hi])
    out: list[tuple[int, int]] = []
    for lo, hi in raw:
        lo, hi = _widen_back(text, lo), _widen_forward(text, hi)
        if out and lo <= out[-1][1]:
            out[-1] = (min(out[-1][0], lo), max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


_SPACE = regex.compile(r"\s")
_SPACE_BACKWARD = regex.compile(r"(?r)\s")


def _widen_back(text: str, i: int) -> int:
    m = _SPACE_BACKWARD.search(text, max(0, i - 64), i)
    if m is not None:
        return m.end()
    return 0 if i <= 64 else i - 64


def _widen_forward(text: str, i: int) -> int:
    m = _SPACE.search(text, i, min(len(text), i + 64))
    if m is not None:
        return m.start()
    return min(len(text), i + 64)


# -- the context scorer ---------------------------------------------------------------
CUE_WINDOW = 40  # characters before a candidate searched for a cue word
NEGATIVE_BEFORE = 16  # characters before a candidate searched for a negative cue
NEGATIVE_AFTER = 8  # characters after it
NEG_PENALTY = 0.3  # confidence taken off a candidate next to a negative cue
TENANT_BOOST = 0.15  # confidence added when one of the policy's words for the kind stands before a span
TENANT = "tenant:"  # cue-id prefix of a cue that fired only by the policy's words
WEAK = "_weak"  # key suffix of the WEAK_ID_CUES groups in the combined ID cue pattern

# Cue lists a policy's ``context`` words extend, by kind (the kind is the cue id).
_KIND_CUES: dict[str, tuple[str, ...]] = {
    "SSN": C.SSN_CUES,
    "DOB": C.DOB_CUES,
    "DATE": C.DATE_CUES,
    "ZIP": C.ZIP_CUES,
    "CREDIT_CARD": C.CARD_CUES,
    "NPI": C.NPI_CUES,
}
# Cue lists no policy changes, by cue id.
_FIXED_CUES: dict[str, tuple[str, ...]] = {
    "ROUTING": C.ROUTING_CUES,
    "DEA": C.DEA_CUES,
    "VERSION": C.VERSION_CUES,
    "NEGATIVE": C.NEGATIVE_CUES,
    "CARD_NEGATIVE": C.CARD_NEGATIVE_CUES,
    "SLASH_NEGATIVE": C.SLASH_NEGATIVE_CUES,
    "SLASH_AFTER_NEGATIVE": C.SLASH_AFTER_NEGATIVE_CUES,
    "MD_AFTER_NEGATIVE": C.MD_AFTER_NEGATIVE_CUES,
}


def id_cue_groups(extra: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]]:
    """ID_CUES (plus ``extra`` words) and WEAK_ID_CUES under ``<kind>_weak`` keys, for one pattern."""
    extra = extra or {}
    groups = {k: v + extra.get(k, ()) for k, v in C.ID_CUES.items()}
    groups.update({k + WEAK: v for k, v in C.WEAK_ID_CUES.items()})
    return groups


def _compiled(pattern: regex.Pattern[str] | None) -> regex.Pattern[str]:
    """A cue pattern built from a non-empty list (the built-in lists never are empty)."""
    assert pattern is not None
    return pattern


_BUILTIN: dict[str, regex.Pattern[str]] = {
    cue: _compiled(compile_cues(frags)) for cue, frags in {**_KIND_CUES, **_FIXED_CUES}.items()
}
_ID_CUE_RE = _compiled(compile_named_cues(id_cue_groups()))
_PHONE_FAX_RE = _compiled(compile_named_cues({"PHONE": C.PHONE_CUES, "FAX": C.FAX_CUES}))


def _same_match(pattern: regex.Pattern[str], text: str, m: regex.Match[str]) -> bool:
    """Whether ``pattern`` alone matches what ``m`` matched (a built-in list, not a tenant word)."""
    own = pattern.match(text, m.start())
    return own is not None and own.end() == m.end()


class ContextScorer:
    """Every cue the written-form recognizers read, for one policy.

    Cue ids (what ``before`` takes and ``Explanation.cue`` reports): the kinds
    of ``_KIND_CUES`` and the ids of ``_FIXED_CUES``; ``id:<KIND>`` and
    ``weak_id:<KIND>`` for the ID cues, ``PHONE`` and ``FAX`` for the phone
    cues; ``tenant:<id>`` when only the policy's words made the cue fire.
    """

    def __init__(self, policy: Policy | None = None) -> None:
        extras: dict[str, tuple[str, ...]] = {}
        entities = policy.entities if policy is not None else {}
        for kind, rule in entities.items():
            words = tuple(literal(w) for w in rule.context if w.strip())
            if words:
                extras[kind] = words
        self._cues = dict(_BUILTIN)
        self._negative = self._cues["NEGATIVE"]
        # Built-in patterns of the lists the policy extends: they tell a tenant word's match.
        self._extended: dict[str, regex.Pattern[str]] = {}
        for kind, frags in _KIND_CUES.items():
            if kind in extras:
                self._extended[kind] = self._cues[kind]
                self._cues[kind] = _compiled(compile_cues(frags + extras[kind]))

        def first(kinds: Iterable[str]) -> tuple[str, ...]:
            """Triggers of the policy's words: their ASCII-lowered first three characters."""
            return tuple(
                lower_ascii(w.strip())[:3] for k in kinds if k in entities for w in entities[k].context if w.strip()
            )

        self.id_triggers = prefix_free(C.ID_TRIGGERS + first(C.ID_CUES))
        self.phone_triggers = prefix_free(C.PHONE_TRIGGERS + first(("PHONE", "FAX")))
        self._id_extended = any(k in extras for k in C.ID_CUES)
        self._id_re = _compiled(compile_named_cues(id_cue_groups(extras))) if self._id_extended else _ID_CUE_RE
        self._phone_extended = "PHONE" in extras or "FAX" in extras
        if self._phone_extended:
            self._phone_re = _compiled(compile_named_cues({
                "PHONE": C.PHONE_CUES + extras.get("PHONE", ()), "FAX": C.FAX_CUES + extras.get("FAX", ()),
            }))
        else:
            self._phone_re = _PHONE_FAX_RE
        # Any kind's words also raise the confidence of spans of that kind.
        self._boost = {kind: _compiled(compile_cues(words)) for kind, words in extras.items()}

    # -- cue lists by id --------------------------------------------------------------
    def before(self, cue: str, text: str, pos: int, window: int = CUE_WINDOW, floor: int = 0) -> str | None:
        """The id of cue list ``cue`` when one of its words ends within ``window`` before ``pos``, else None."""
        builtin = self._extended.get(cue)
        if builtin is None:  # whichever word fired, it is one of the list's own
            return cue if self._cues[cue].search(text, max(floor, pos - window, 0), pos) is not None else None
        m = last_cue(self._cues[cue], text, pos, window, floor)
        if m is None:
            return None
        return cue if _same_match(builtin, text, m) else TENANT + cue

    def last_end(self, cue: str, text: str, pos: int, window: int = CUE_WINDOW) -> int:
        """End of the last word of cue list ``cue`` within ``window`` before ``pos``, else -1."""
        return last_cue_end(self._cues[cue], text, pos, window)

    def after(self, cue: str, text: str, pos: int, window: int) -> bool:
        """A word of cue list ``cue`` starts within ``window`` characters after ``pos``."""
        return cue_after(self._cues[cue], text, pos, window)

    def negative(self, text: str, start: int, end: int) -> bool:
        """A dose, unit, room or order word right before or after ``text[start:end]``."""
        pattern = self._negative
        return pattern.search(text, max(0, start - NEGATIVE_BEFORE), start) is not None or cue_after(
            pattern, text, end, NEGATIVE_AFTER
        )

    def penalized(self, confidence: float, text: str, start: int, end: int) -> float:
        """``confidence``, less ``NEG_PENALTY`` next to a negative cue."""
        return confidence - NEG_PENALTY if self.negative(text, start, end) else confidence

    # -- ID cues ("MRN", "member id", "plan") -------------------------------------------
    def id_cue(self, text: str, pos: int, window: int = CUE_WINDOW) -> regex.Match[str] | None:
        """The last ID cue within ``window`` before ``pos``."""
        return last_cue(self._id_re, text, pos, window)

    def id_cue_at(self, text: str, pos: int) -> regex.Match[str] | None:
        """An ID cue starting at ``pos``."""
        return self._id_re.match(text, pos)

    def other_id_cue(self, own: str, text: str, pos: int) -> regex.Match[str] | None:
        """A *strong* ID cue ("MRN", "member id") nearer to ``pos`` than any word of cue list ``own``.

        A checksum-valid SSN or NPI shape after "MRN:" is that record number,
        not an SSN/NPI: the nearest cue names the value.
        """
        m = self.id_cue(text, pos)
        if m is None or id_kind(m)[1]:
            return None
        if self.last_end(own, text, pos) >= m.end():
            return None
        return m

    def id_label(self, text: str, m: regex.Match[str]) -> str:
        """The cue id of an ID cue match: ``id:MRN``, ``weak_id:ACCOUNT``, ``tenant:MRN``."""
        kind, weak = id_kind(m)
        if self._id_extended and not _same_match(_ID_CUE_RE, text, m):
            return TENANT + kind
        return ("weak_id:" if weak else "id:") + kind

    # -- phone and fax cues -------------------------------------------------------------
    def phone_cue(self, text: str, pos: int) -> regex.Match[str] | None:
        """The last phone or fax cue within ``CUE_WINDOW`` before ``pos``: the nearest decides."""
        return last_cue(self._phone_re, text, pos, CUE_WINDOW)

    def phone_cue_at(self, text: str, pos: int) -> regex.Match[str] | None:
        """A phone or fax cue starting at ``pos``."""
        return self._phone_re.match(text, pos)

    def phone_label(self, text: str, m: regex.Match[str]) -> str:
        """The cue id of a phone cue match: ``PHONE``, ``FAX``, ``tenant:PHONE``."""
        kind = phone_kind(m)
        if self._phone_extended and not _same_match(_PHONE_FAX_RE, text, m):
            return TENANT + kind
        return kind

    # -- the policy's words ---------------------------------------------------------------
    @property
    def boosts(self) -> bool:
        """Whether the policy gave cue words for any kind."""
        return bool(self._boost)

    def boosted(self, text: str, spans: list[Span]) -> list[Span]:
        """``spans``, each raised by ``TENANT_BOOST`` when a policy word for its kind stands before it."""
        return [self._boosted(text, s) for s in spans]

    def _boosted(self, text: str, span: Span) -> Span:
        pattern = self._boost.get(span.kind)
        if pattern is None or span.confidence >= 1.0 or not cue_before(pattern, text, span.start, CUE_WINDOW):
            return span
        why = span.why
        if why is not None:
            why = Explanation(why.recognizer, TENANT + span.kind, why.validator)
        conf = min(1.0, span.confidence + TENANT_BOOST)
        return Span(span.start, span.end, span.kind, span.pass_name, span.detector, conf, why)


def id_kind(m: regex.Match[str]) -> tuple[str, bool]:
    """(kind, weak) of a match of the combined ID cue pattern (:func:`id_cue_groups`)."""
    key = group_key(m)
    if key.endswith(WEAK):
        return key[: -len(WEAK)], True
    return key, False


def phone_kind(m: regex.Match[str]) -> str:
    """``FAX`` or ``PHONE``: the kind a phone/fax cue match names."""
    return "FAX" if group_key(m) == "FAX" else "PHONE"
