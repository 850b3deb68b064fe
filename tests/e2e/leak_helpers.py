"""Leak checks for the LEAK-MATRIX and property suites: did any planted value
reach the (recording) upstream, in any byte, in plain or in an encoded form?

Failures name the kind of the value, where it was found (path, header,
body, JSON-decoded body) and whether it was there as written or only after
normalization; never the value itself, so no test output carries test PHI.

"Normalized" means the upstream's text after undoing what a client (or an
attacker) may have done to hide a value from a scanner: JSON ``\\u`` escapes
(the JSON-decoded body, JSON inside JSON strings included), percent-encoding,
HTML entities, base64 (any substring that decodes), base32 token bodies
(a fake ``MSK1``-shaped token whose body is the value), Unicode
compatibility forms (NFKC: fullwidth digits), other decimal digits
(Arabic-Indic), format characters (zero-width spaces, soft hyphens),
Cyrillic/Greek homoglyphs of Latin letters, and case. A value is found when
its letters or digits appear in order with at most three separator
characters between consecutive ones ("123 45 6789", "maria_lopez").
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import json
import re
import unicodedata
import zlib
from typing import Iterable, Iterator
from urllib.parse import unquote, unquote_plus

import httpx

from tests.e2e.phi import PHI

# Every value the suites plant (and a few more the engine masks): kind -> value.
PLANTED: dict[str, str] = {kind: value for value, kind in PHI.items()}
PLANTED["PHONE_NUMBER_LEAF"] = "415-555-0142"  # planted as the JSON number 4155550142

# Cyrillic and Greek letters that look like Latin ones.
HOMOGLYPHS = {
    **dict(zip("АВЕКМНОРСТХУІЈЅԁаеорсухіјѕӏԛԝ", "ABEKMHOPCTXYIJSdaeopcyxijslqw")),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαοριτυνκ", "ABEZHIKMNOPTYXaopitvvk")),
}
_SEP = r"[\W_]{0,3}"
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# A vault token as the shipped scheme writes it (to replay a genuine one).
TOKEN_RE_TEXT = re.compile(r"MSKV1\.[A-Z][A-Z_]{0,23}\.[A-Za-z0-9_]{1,32}\.[A-Z2-7]{26}")
_TOKEN_BODY = re.compile(r"MSK(?:V1|1)\.[A-Za-z0-9_]{1,40}\.[A-Za-z0-9_]{1,40}\.([A-Z2-7]{8,})")


def fold(text: str) -> str:
    """NFKC, decimal digits of any script as ASCII, format characters dropped,
    homoglyphs as Latin, case folded."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        cat = unicodedata.category(ch)
        if cat == "Cf":
            continue
        if cat == "Nd":
            ch = str(unicodedata.digit(ch))
        out.append(HOMOGLYPHS.get(ch, ch))
    return "".join(out).casefold()


def _pattern(value: str) -> re.Pattern[str]:
    if re.fullmatch(r"[\d\W]+", value):
        units = re.findall(r"\d", value)  # digits, one by one
    else:
        units = re.findall(r"[^\W_]+", fold(value))  # words
    return re.compile(_SEP.join(re.escape(u) for u in units))


PATTERNS = {kind: _pattern(value) for kind, value in PLANTED.items()}


def _b64_decodes(text: str) -> Iterator[str]:
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    for m in _B64_RUN.finditer(text):
        run = m.group(0).rstrip("=")
        for start in range(4):
            part = run[start:]
            part = part[: len(part) - len(part) % 4] if len(part) % 4 == 1 else part
            for alt in (None, b"-_"):
                try:
                    raw = base64.b64decode(part + "=" * (-len(part) % 4), altchars=alt)
                except (binascii.Error, ValueError):
                    continue
                yield raw.decode("utf-8", "ignore")


def _b32_token_bodies(text: str) -> Iterator[str]:
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    for m in _TOKEN_BODY.finditer(text):
        body = m.group(1)
        try:
            yield base64.b32decode(body + "=" * (-len(body) % 8)).decode("utf-8", "ignore")
        except (binascii.Error, ValueError):
            continue


def decoded_forms(text: str) -> dict[str, str]:
    """``text`` and what it says once each encoding above is undone (one level
    each, combined), by a label naming the decoding (for failure messages)."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    forms: dict[str, str] = {}

    def add(label: str, form: str) -> None:
        if form not in forms.values():
            forms[label] = form

    for pre, b in (("", text), ("u-escape+", _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))):
        add(pre + "as-is", b)
        add(pre + "percent", unquote(b))
        add(pre + "percent-plus", unquote_plus(b))
        add(pre + "html", html.unescape(b))
        add(pre + "percent+html", html.unescape(unquote(b)))
        add(pre + "html+percent", unquote(html.unescape(b)))
    for label, f in list(forms.items()):
        for name, decoder in (("base64", _b64_decodes), ("base32-token-body", _b32_token_bodies)):
            for i, extra in enumerate(decoder(f)):
                add(f"{label}+{name}#{i}", extra)
                add(f"{label}+{name}#{i}+percent", unquote(extra))
                add(f"{label}+{name}#{i}+html", html.unescape(extra))
    return forms


def planted_in(text: str) -> set[tuple[str, str]]:
    """(kind, how) of every planted value ``text`` carries: how is "plain" (as
    written) or "normalized:<decoding>" (found after undoing that decoding and
    folding, see ``fold``)."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    found: set[tuple[str, str]] = set()
    for kind, value in PLANTED.items():
        if value in text:
            found.add((kind, "plain"))
    folded = {label: fold(f) for label, f in decoded_forms(text).items()}
    for kind, pattern in PATTERNS.items():
        if (kind, "plain") in found:
            continue
        hit = next((label for label, f in folded.items() if pattern.search(f)), None)
        if hit is not None:
            found.add((kind, "normalized:" + re.sub(r"#\d+", "", hit)))
    return found


def kinds_in(text: str) -> list[str]:
    """Kinds (never values) of the planted values in ``text``, plain or normalized."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    return sorted({kind for kind, _ in planted_in(text)})


def _json_strings(node: object) -> Iterator[str]:
    """Every key and leaf of a decoded JSON document (duplicate keys kept), JSON
    inside string leaves decoded too."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    if isinstance(node, _Pairs):
        for key, value in node:
            yield key
            yield from _json_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _json_strings(item)
    elif isinstance(node, str):
        yield node
        stripped = node.strip()
        if stripped[:1] in ("{", "[") and len(stripped) < 100_000:
            doc = loads_pairs(stripped)
            if doc is not None:
                yield from _json_strings(doc)
    elif node is not None:
        yield json.dumps(node)


class _Pairs(list):
    """A JSON object as its (key, value) pairs, duplicates included."""


def loads_pairs(text: str | bytes) -> object | None:
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    try:
        return json.loads(text, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return None


def _decompressed(body: bytes, encoding: str) -> list[bytes]:
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    out = []
    for enc in {e.strip().lower() for e in encoding.split(",") if e.strip()} | ({"gzip"} if body[:2] == b"\x1f\x8b" else set()):
        try:
            if enc in ("gzip", "x-gzip"):
                out.append(gzip.decompress(body))
            elif enc == "deflate":
                out.append(zlib.decompress(body))
            elif enc == "br":
                import brotli

                out.append(brotli.decompress(body))
            elif enc == "zstd":
                import zstandard

                out.append(zstandard.ZstdDecompressor().decompressobj().decompress(body))
        except Exception:  # noqa: BLE001 - not that encoding after all
            continue
    return out


def _places(rec) -> Iterator[tuple[str, str]]:
    """(where, text) of everything one upstream record holds."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    yield "path", rec.path
    for name, value in rec.headers.items():
        yield "header-name", name
        safe = name.lower() if not planted_in(name) else "?"
        yield f"header-value[{safe}]", value
    encoding = next((v for k, v in rec.headers.items() if k.lower() == "content-encoding"), "")
    for i, body in enumerate([rec.body, *_decompressed(rec.body, encoding)]):
        where = "body" if i == 0 else "body-decompressed"
        text = body.decode("utf-8", "replace")
        yield where, text
        doc = loads_pairs(body)
        if doc is not None:
            yield where + "-json", "\n".join(_json_strings(doc))


def leaks(records: Iterable) -> list[str]:
    """``KIND@where#record(form)`` for every planted value in what the upstream received."""
    __tracebackhide__ = True  # pytest must not print its arguments (test PHI)
    found = set()
    for n, rec in enumerate(records):
        for where, text in _places(rec):
            for kind, form in planted_in(text):
                found.add(f"{kind}@{where}#{n}({form})")
    return sorted(found)


def assert_no_leak(upstream, planted: Iterable[str] | None = None) -> None:
    """No planted value (of the kinds in ``planted``, default all) in any byte the
    upstream received: path and query, header names and values, raw body,
    decompressed body, JSON-decoded body; plain or normalized."""
    kinds = set(planted) if planted is not None else set(PLANTED)
    got = [x for x in leaks(list(upstream.received)) if x.split("@", 1)[0] in kinds]
    assert not got, f"planted values reached upstream: {got}"


def error_shape(resp: httpx.Response) -> str | None:
    """Why ``resp`` is not Masker's JSON error ({"error": {"type", "code", "message"}}), or None."""
    if not resp.headers.get("content-type", "").startswith("application/json"):
        return "not JSON (content-type %s)" % resp.headers.get("content-type", "-").split(";")[0]
    try:
        err = resp.json()["error"]
    except (ValueError, KeyError, TypeError):
        return "JSON without an error object"
    if not isinstance(err, dict) or not all(isinstance(err.get(k), str) for k in ("type", "code", "message")):
        return "error object without type/code/message strings"
    return None


def assert_json_answer(resp: httpx.Response, upstream) -> None:
    """The client got the upstream's 200 JSON/SSE passed back, or Masker's JSON
    error with a 4xx/5xx status; never an HTML page, never anything else."""
    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
    if resp.status_code == 200:
        assert ctype in ("application/json", "text/event-stream"), f"200 with content-type {ctype or '-'}"
        assert upstream.received, "a 200 the fake upstream never saw a request for"
        if ctype == "application/json":
            assert loads_pairs(resp.content) is not None, "200 whose body is not JSON"
        return
    assert 400 <= resp.status_code < 600, f"status {resp.status_code}"
    problem = error_shape(resp)
    code = resp.headers.get("x-masker-error", "-")
    assert problem is None, f"status {resp.status_code} (x-masker-error {code}): {problem}"
