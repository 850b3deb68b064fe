"""Byte-level token guard: the fallback and the final pass over what a client gets.

The parsed paths (JSON leaves and keys, SSE events per choice / block /
item) restore tokens where they know the structure. Whatever they did not
look at (bytes that are not JSON, ``event:``/``id:``/comment lines, invalid
UTF-8, binary bodies, anything a provider shape skips) goes through
``guard_bytes``: every token-shaped run of bytes is handed to the rehydrate
function, which restores a token of the caller's scope and redacts any
other. A token is ASCII, so the grammar is matched on the raw bytes
(``TOKEN_BYTES_RE``, the same grammar as ``scheme.TOKEN_RE``); bytes around
it, valid UTF-8 or not, are never decoded or changed.

How a restored value is written depends on where it lands (``mode``):

* ``JSON``: inside a JSON string (a JSON body, an SSE data line holding
  JSON): JSON-escaped (quotes, backslashes, control characters).
* ``LINE``: an SSE line that is not JSON (or an HTTP header): as is, but a
  line break in the value becomes a space (it would end the line / field).
* ``MARKUP``: HTML/XML: ``html.escape``.
* ``RAW``: any other body (text, no content type, binary): as is (UTF-8).

A token cut off at the end of a text (a stream or body that ends in
``MSKV1.NAME.K_X.ABC``: the model hit its token limit, the upstream went
away) is never sent as it is: ``cut_token_start`` finds it and it is
replaced by ``[REDACTED:KIND]`` (``[REDACTED:TOKEN]`` when the kind itself
was cut); for bytes, a line end after it does not matter. Shorter tails (``M``, ``MSK``, ``MSKV1``) hold nothing of a token
and stay text ("5 PM").

Cheap when there is nothing to do: ``might_hold_token`` (two substring
searches) runs before any regex work.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from masker.tokens.scheme import (
    KIND_RE,
    MAX_TOKEN_LEN,
    PREFIXES,
    TOKEN_BYTES_RE,
    TOKEN_RE,
    might_hold_token,
    pending_token_start,
)

Rehydrate = Callable[..., str]  # (text, *, json_escape=False) -> text; providers.base.RehydrateFn

RAW, JSON, LINE, MARKUP = "raw", "json", "line", "markup"
MODES = (RAW, JSON, LINE, MARKUP)

# Characters a token is made of: what follows a match up to the first other
# byte goes to the rehydrator with it (an MSK1 body that opens shorter leaves
# letters over, and a token may start right after them, as in the text scan).
_RUN_RE = re.compile(rb"[A-Za-z0-9_.]*")
_KIND_FULL = re.compile(KIND_RE)
_BREAKS = re.compile(r"\r\n|\r|\n")
# A JSON escape of M, S or K: a token in parsed JSON text whose bytes hold no "MSK".
ESCAPED_MARK_RE = re.compile(rb"\\u00(?:4[bBdD]|53)")
ESCAPED_MARK_STR_RE = re.compile(r"\\u00(?:4[bBdD]|53)")


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact_all(text: str, *, json_escape: bool = False) -> str:
    """A rehydrate function that restores nothing: every token redacted (fail closed)."""
    return TOKEN_RE.sub(lambda m: placeholder(m["kind"]), text)


def cut_token_start(text: str) -> tuple[int, str] | None:
    """(index, kind) of a token cut off at the end of ``text``, else None.

    A cut token is a proper prefix of a token that already holds its scheme
    and dot; a complete token (an MSK1 one that could still have grown) is
    not cut: the rehydrator decides about it.
    """
    if not might_hold_token(text[-MAX_TOKEN_LEN:]):
        return None
    i = pending_token_start(text)
    if i is None:
        return None
    tail = text[i:]
    if not tail.startswith(PREFIXES) or TOKEN_RE.fullmatch(tail) is not None:
        return None
    parts = tail.split(".")
    kind = parts[1] if len(parts) >= 3 and _KIND_FULL.fullmatch(parts[1]) else "TOKEN"
    return i, kind


def rehydrate_text_end(text: str, rehydrate: Rehydrate, *, json_escape: bool = False) -> str:
    """``rehydrate(text)``, where a token cut off at the end of the result is redacted.

    Looked for after rehydration: what the rehydrator restored is never
    taken for a cut token, only what it left as it was.
    """
    out = rehydrate(text, json_escape=json_escape)
    cut = cut_token_start(out)
    if cut is None:
        return out
    return out[: cut[0]] + placeholder(cut[1])


def _fit(restored: str, mode: str) -> str:
    if mode == LINE:
        return _BREAKS.sub(" ", restored)
    if mode == MARKUP:
        return html.escape(restored, quote=True)
    return restored


def _cut_bytes_start(data: bytes) -> tuple[int, str] | None:
    """``cut_token_start`` for bytes (one character per byte: offsets carry over)."""
    tail = data[-MAX_TOKEN_LEN:]
    if not might_hold_token(tail):
        return None
    found = cut_token_start(tail.decode("ascii", "surrogateescape"))
    if found is None:
        return None
    return len(data) - len(tail) + found[0], found[1]


def guard_bytes(data: bytes, rehydrate: Rehydrate, mode: str = RAW, *, at_end: bool = False) -> bytes:
    """``data`` with every token-shaped run restored or redacted (written for ``mode``).

    ``at_end``: ``data`` is the end of the body / stream: a token cut off at
    its end (before a last line end, if any) is redacted too.
    """
    if not might_hold_token(data):
        return data
    cut, eol = None, b""
    if at_end:
        text = data.rstrip(b"\r\n")
        cut = _cut_bytes_start(text)
        eol = data[len(text) :]
    body = data if cut is None else data[: cut[0]]
    out: list[bytes] = []
    pos = 0
    json_escape = mode == JSON
    while (m := TOKEN_BYTES_RE.search(body, pos)) is not None:
        run_end = _RUN_RE.match(body, m.end()).end()  # type: ignore[union-attr]
        restored = rehydrate(body[m.start() : run_end].decode("ascii"), json_escape=json_escape)
        out.append(body[pos : m.start()])
        out.append(_fit(restored, mode).encode("utf-8", "replace"))
        pos = run_end
    if not out and cut is None:
        return data
    out.append(body[pos:])
    if cut is not None:
        out.append(placeholder(cut[1]).encode() + eol)
    return b"".join(out)


def guard_lines(data: bytes, rehydrate: Rehydrate, mode_of: Callable[[bytes], str], *, at_end: bool = False) -> bytes:
    """``guard_bytes`` line by line (a token never spans a line end), each line
    in the mode ``mode_of(line)`` gives it."""
    if not might_hold_token(data):
        return data
    lines = data.splitlines(keepends=True)  # bytes: at \r\n, \n and \r only
    out = []
    # at_end: the last line that is not blank (an event cut off after a line end)
    last_text = max((n for n, line in enumerate(lines) if line.strip(b"\r\n")), default=-1)
    for n, line in enumerate(lines):
        last = n == last_text
        out.append(guard_bytes(line, rehydrate, mode_of(line), at_end=at_end and last) if might_hold_token(line) else line)
    return b"".join(out)
