"""Cue words: whole-word, case-insensitive context searches near a candidate.

A cue is a regex fragment (``date\\s+of\\s+birth``, ``driver'?s?\\s+licen[cs]e``)
or, for tenant-supplied words, a literal escaped by :func:`literal`. Cues match
as whole words: no letter may touch either end, so ``lic`` does not fire inside
``public``. Digits may touch a cue (``5mg``, ``MRN12345``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import regex

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


def last_cue_end(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int, floor: int = 0) -> int:
    """End of the last cue match inside ``text[max(floor, pos - window):pos]``, else -1."""
    if pattern is None:
        return -1
    lo = max(floor, pos - window, 0)
    end = -1
    for m in pattern.finditer(text, lo, pos):
        end = m.end()
    return end


def cue_before(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int = 40, floor: int = 0) -> bool:
    return last_cue_end(pattern, text, pos, window, floor) >= 0


def cue_after(pattern: regex.Pattern[str] | None, text: str, pos: int, window: int = 12) -> bool:
    """A cue starts within ``window`` characters after ``pos`` (``5 mg``, ``mmHg``)."""
    if pattern is None:
        return False
    # Search a little past the window so a cue is never cut into a shorter one.
    m = pattern.search(text, pos, min(len(text), pos + window + 16))
    return m is not None and m.start() < pos + window


# -- triggers: cheap literal pre-scans that decide where the patterns run -------
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_ascii(text: str) -> str:
    """``text`` with ASCII letters lowered; same length, so offsets stay valid."""
    return text.translate(_ASCII_LOWER)


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
