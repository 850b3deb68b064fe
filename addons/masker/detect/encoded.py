"""Encoded text: escapes decoded into the view, encoded segments decoded and scanned.

Why: an identifier written as "&#52;&#49;&#53;-555-0142", "\\u004a\\u006f..."
or "U1NOIDEyMy00NS02Nzg5" (base64 of "SSN 123-45-6789") matches no detector
pattern, yet the model at the provider reads it as easily as plain text. Two
kinds of encoding are handled differently, by how they line up with the text:

* *escapes* stand one for one for a character (HTML character references
  "&#52;", "&#x34;", "&amp;", named ones with their ";"; "\\uXXXX" (with
  surrogate pairs), "\\U0010FFFF", "\\u{1F600}", runs of "\\xXX" as UTF-8 bytes).
  ``view_of`` decodes them *inside the view*, with the offset map of
  :mod:`masker.detect.normalize`, so the words around them stay context
  ("SSN: &#49;&#50;&#51;...") and a span masks exactly the escapes that
  spell the value; the result is normalized again and decoded again, up to
  ``INLINE_ROUNDS`` times ("&amp;#52;" -> "&#52;" -> "4");
* *segments* do not line up character for character: base64 (three bytes in
  four characters) and percent-encoding (inside a URL, where decoding "%20"
  in place would end the URL the URL detector reads). ``segments`` finds them
  and decodes them; the pipeline scans the decoded text (with the words
  around the segment as context, recursively to a small depth) and a hit
  masks the *whole* encoded segment, as one span of the strongest hit's kind.

Base64 candidates are runs of 12 or more base64 characters (standard or
URL-safe, padding optional) of a mixed shape (lower case with digits or inner
capitals, or capitals with digits: "hypertension", "HYPERTENSION" and long
numbers are never decoded); they must decode to valid UTF-8 of which at least
95% is printable. A run that fails whole is tried again piece by piece
between its "/" ("https://host/<base64>"), up to ``MAX_SPLIT_RUN`` characters;
base64 wrapped over lines (MIME: whole groups of four on each line) is
decoded as one segment. Percent-encoded runs must decode to valid UTF-8
("50%FACE" is no escape). Masker tokens (``TOKEN_RE``) are never decoded: a
token's body is base32, and a token is not PHI.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import regex

from masker.detect.normalize import MapBuilder, View, normalize
from masker.tokens.scheme import TOKEN_MARK, TOKEN_RE

INLINE_ROUNDS = 3
MIN_BASE64_LEN = 12
MIN_PRINTABLE = 0.95
# A longer run that fails whole is binary data (an image), not a path with base64 in it.
MAX_SPLIT_RUN = 1024

_INLINE = regex.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
    r"|\\u(?:[dD][89abAB][0-9A-Fa-f]{2}\\u[dD][c-fC-F][0-9A-Fa-f]{2}|[0-9A-Fa-f]{4}|\{[0-9A-Fa-f]{1,6}\})"
    r"|\\U[0-9A-Fa-f]{8}"
    r"|(?:\\x[0-9A-Fa-f]{2})+"
)
# ``re``, not ``regex``: this scan runs on every text, and ``re`` is twice as fast here.
_BASE64_RUN = re.compile(rf"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{{{MIN_BASE64_LEN},}}(?:={{1,2}})?")
# Lower case with a digit, symbol or inner capital; or capitals with a digit.
_BASE64_SHAPE = re.compile(r"(?=[^a-z]*[a-z])(?=.+[A-Z0-9+/_-])|(?=[^A-Z]*[A-Z])(?=[^0-9]*[0-9])")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# What a URL or form value is made of: percent segments end at spaces, quotes,
# brackets and "&" (between form fields).
_URLISH_RUN = regex.compile(r"[^\s<>\"'`{}|\\^\[\]()&]+")
_TRAILING = ".,;:!?"


@dataclass(frozen=True, slots=True)
class Segment:
    """An encoded segment ``text[start:end]`` and what it decodes to (never logged)."""

    start: int
    end: int
    encoding: str  # "base64" or "percent"
    decoded: str = field(repr=False)


def view_of(text: str) -> View:
    """The view the detectors read: normalized, escapes decoded (see the module docstring).

    ASCII text without "&" or a backslash is its own view.
    """
    view = normalize(text)
    for _ in range(INLINE_ROUNDS):
        current = view.text
        if "&" not in current and "\\" not in current:
            break
        inner = decode_inline(current)
        if inner.identity:
            break
        view = normalize(inner.text).on(inner.on(view))
    return view


def decode_inline(text: str) -> View:
    """``text`` with its escapes decoded, each escape mapped to the characters it stands for."""
    b = MapBuilder()
    pos = 0
    for m in _INLINE.finditer(text):
        pieces = _decode_escape(m.group())
        if pieces is None:
            continue
        b.same(pos, text[pos : m.start()])
        at = m.start()
        for length, out in pieces:
            b.block(at, length, out)
            at += length
        pos = m.end()
    b.same(pos, text[pos:])
    return b.view(text)


def _decode_escape(escape: str) -> list[tuple[int, str]] | None:
    """``(length, decoded)`` per escape in a match; None to leave it as written."""
    if escape[0] == "&":
        out = html.unescape(escape)
        return None if out == escape else [(len(escape), out)]
    kind = escape[1]
    if kind == "x":
        raw = bytes(int(escape[i + 2 : i + 4], 16) for i in range(0, len(escape), 4))
        if raw.isascii():
            return [(4, chr(c)) for c in raw]
        try:
            return [(len(escape), raw.decode("utf-8"))]
        except UnicodeDecodeError:
            return [(4, chr(c)) for c in raw]  # Latin-1 bytes
    if kind == "U" or escape[2] == "{":
        cp = int(escape[2:].strip("{}"), 16)
        return None if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF else [(len(escape), chr(cp))]
    cp = int(escape[2:6], 16)
    if len(escape) == 12:  # surrogate pair
        low = int(escape[8:12], 16)
        return [(12, chr(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)))]
    return None if 0xD800 <= cp <= 0xDFFF else [(6, chr(cp))]


def segments(text: str) -> list[Segment]:
    """Base64 and percent-encoded segments of ``text`` that decode to text, in order.

    Masker tokens are skipped (a base64 run never overlaps one; a percent
    segment stops at one).
    """
    tokens = [m.span() for m in TOKEN_RE.finditer(text)] if TOKEN_MARK in text else []
    found: list[Segment] = []
    if "%" in text and _PERCENT.search(text) is not None:
        found.extend(_percent_segments(text, tokens))
    for lines in _base64_runs(text, tokens):
        if len(lines) > 1:
            start, end = lines[0][0], lines[-1][1]
            joined = "".join(text[a:b] for a, b in lines)
            if (decoded := _base64_text(joined)) is not None:
                found.append(Segment(start, end, "base64", decoded))
                continue
        for start, end in lines:
            found.extend(_base64_segments(text, start, end))
    found.sort(key=lambda s: (s.start, s.end))
    return found


def _base64_runs(text: str, tokens: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Base64-looking runs outside tokens, the lines of a wrapped blob (MIME: full groups of
    four, a line break, the next line) grouped together."""
    runs = [m.span() for m in _BASE64_RUN.finditer(text)]
    if tokens:
        runs = [(s, e) for s, e in runs if not any(a < e and s < b for a, b in tokens)]
    groups: list[list[tuple[int, int]]] = []
    for start, end in runs:
        if groups:
            a, b = groups[-1][-1]
            if (b - a) % 4 == 0 and text[b - 1] != "=" and text[b:start] in ("\n", "\r\n"):
                groups[-1].append((start, end))
                continue
        groups.append([(start, end)])
    return groups


def _base64_segments(text: str, start: int, end: int) -> list[Segment]:
    """The run ``text[start:end]`` if it decodes, else its pieces between "/" that do."""
    run = text[start:end]
    decoded = _base64_text(run)
    if decoded is not None:
        return [Segment(start, end, "base64", decoded)]
    out: list[Segment] = []
    if "/" in run and len(run) <= MAX_SPLIT_RUN:
        at = start
        for piece in run.split("/"):
            if len(piece) >= MIN_BASE64_LEN and (decoded := _base64_text(piece)) is not None:
                out.append(Segment(at, at + len(piece), "base64", decoded))
            at += len(piece) + 1
    return out


def _base64_text(run: str) -> str | None:
    body = run.rstrip("=")
    if len(body) < MIN_BASE64_LEN or len(body) % 4 == 1 or _BASE64_SHAPE.match(body) is None:
        return None
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return None
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if urlsafe else None, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded if _texty(decoded) else None


def _percent_segments(text: str, tokens: list[tuple[int, int]]) -> list[Segment]:
    out: list[Segment] = []
    for m in _URLISH_RUN.finditer(text):
        for start, end in _outside(m.start(), m.end(), tokens):
            while end > start and text[end - 1] in _TRAILING:
                end -= 1
            run = text[start:end]
            if _PERCENT.search(run) is None:
                continue
            try:
                decoded = unquote_to_bytes(run).decode("utf-8")
            except UnicodeDecodeError:
                continue  # "50%FACE" is no escape; Latin-1 percent-encoding is not followed
            if decoded != run and _texty(decoded):
                out.append(Segment(start, end, "percent", decoded))
    return out


def _outside(start: int, end: int, tokens: list[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [(start, end)]
    for a, b in tokens:
        pieces = [p for s, e in pieces for p in ((s, min(e, a)), (max(s, b), e)) if p[0] < p[1]]
    return pieces


def _texty(decoded: str) -> bool:
    """Decoded bytes that read as text: mostly printable, something alphanumeric."""
    if not decoded or not any(c.isalnum() for c in decoded):
        return False
    printable = sum(1 for c in decoded if c.isprintable() or c in "\t\n\r")
    return printable >= MIN_PRINTABLE * len(decoded)
