"""Token grammar: ``{scheme}.{KIND}.{kid}.{body}``.

* ``MSKV1`` vault-deterministic: body = base32(HMAC-SHA256(key, scope binding,
  KIND, value)[:16]), always 26 characters; the value lives encrypted in the
  vault (see ``masker.tokens.vault.mint``; the policy's ``token_scope`` picks
  the binding: session or agent).
* ``MSK1`` reversible-aead: body = base32(AES-256-GCM-SIV(value)), variable
  length; no vault needed; not scope-bound (the same in every scope).

This module is the single place that knows what a token looks like: no
other module spells a scheme out. The rehydrator finds tokens with
``TOKEN_RE``, the byte guard with ``TOKEN_BYTES_RE``; ``might_hold_token`` and
``TOKEN_MARK`` are the cheap pre-checks before either; stream rehydrators use
``pending_token_start`` to hold back only what could still become a token.
"""

from __future__ import annotations

import base64
import re

import regex

TOKEN_MARK = "MSK"
"""What every token starts with: the cheap pre-check (``TOKEN_MARK in text``,
one substring search) before any token work; text without it holds no token
and no beginning of one."""
VAULT_SCHEME = "MSKV1"
AEAD_SCHEME = "MSK1"
SCHEMES = (VAULT_SCHEME, AEAD_SCHEME)
assert all(s.startswith(TOKEN_MARK) for s in SCHEMES), "every scheme starts with TOKEN_MARK"
# A scheme and its dot: every token holds one (what a token field of an event starts with).
VAULT_PREFIX = VAULT_SCHEME + "."
AEAD_PREFIX = AEAD_SCHEME + "."
PREFIXES = (VAULT_PREFIX, AEAD_PREFIX)
_BYTE_PREFIXES = tuple(p.encode("ascii") for p in PREFIXES)
_BYTE_MARK = TOKEN_MARK.encode("ascii")

VAULT_BODY_LEN = 26  # 16 bytes, unpadded base32
MIN_AEAD_BODY_LEN = 16  # also the shortest body of any token
MAX_AEAD_BODY_LEN = 1600  # values over ~980 bytes are never AEAD-tokenized
KIND_RE = r"[A-Z][A-Z_]{0,23}"
KID_RE = r"[A-Za-z0-9_]{1,32}"
# Either scheme, the common mark factored out (a literal prefix the stdlib ``re`` scans for fast).
SCHEME_RE = f"{TOKEN_MARK}(?:{'|'.join(re.escape(s[len(TOKEN_MARK):]) for s in SCHEMES)})"

TOKEN_RE = regex.compile(
    rf"(?P<scheme>{VAULT_SCHEME})\.(?P<kind>{KIND_RE})\.(?P<kid>{KID_RE})\.(?P<body>[A-Z2-7]{{{VAULT_BODY_LEN}}})"
    rf"|(?P<scheme>{AEAD_SCHEME})\.(?P<kind>{KIND_RE})\.(?P<kid>{KID_RE})\.(?P<body>[A-Z2-7]{{{MIN_AEAD_BODY_LEN},{MAX_AEAD_BODY_LEN}}})"
)
# The same grammar over raw bytes (stdlib ``re``), for the byte guard (``masker.stream.guard``).
_KIND_KID = f"(?:{KIND_RE})\\.(?:{KID_RE})\\."
TOKEN_BYTES_RE = re.compile(
    (
        f"{TOKEN_MARK}(?:{re.escape(VAULT_SCHEME[len(TOKEN_MARK):])}\\.{_KIND_KID}[A-Z2-7]{{{VAULT_BODY_LEN}}}"
        f"|{re.escape(AEAD_SCHEME[len(TOKEN_MARK):])}\\.{_KIND_KID}[A-Z2-7]{{{MIN_AEAD_BODY_LEN},{MAX_AEAD_BODY_LEN}}})"
    ).encode("ascii")
)
# Anything that could be the beginning of a token, for stream hold-back.
_TOKEN_PREFIX_RE = regex.compile(
    rf"(?:{VAULT_SCHEME}\.{KIND_RE}\.{KID_RE}\.[A-Z2-7]{{0,{VAULT_BODY_LEN}}}"
    rf"|{AEAD_SCHEME}\.{KIND_RE}\.{KID_RE}\.[A-Z2-7]{{0,{MAX_AEAD_BODY_LEN}}})"
)
MAX_TOKEN_LEN = len(AEAD_SCHEME) + 24 + 32 + MAX_AEAD_BODY_LEN + 3


def might_hold_token(data: bytes | bytearray | str) -> bool:
    """False when ``data`` cannot hold a token (no scheme and dot): nothing to scan."""
    if isinstance(data, str):
        return TOKEN_MARK in data and any(p in data for p in PREFIXES)
    return _BYTE_MARK in data and any(p in data for p in _BYTE_PREFIXES)  # one scan when there is no mark


def is_token(text: str) -> bool:
    """Whether ``text`` is exactly one token (of either scheme)."""
    return TOKEN_RE.fullmatch(text) is not None


def b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def b32decode(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def format_token(scheme: str, kind: str, kid: str, body: str) -> str:
    return f"{scheme}.{kind}.{kid}.{body}"


def pending_token_start(text: str) -> int | None:
    """Index where a possible token begins at the end of ``text``, else None.

    The tail ``text[i:]`` is held back by a stream rehydrator when it is a
    proper prefix of a token, or a complete AEAD token that might still grow.
    A complete vault token (fixed length) is never held back, and an ``M``
    inside a complete token (a body may contain ``M``) starts nothing.
    """
    start = max(0, len(text) - MAX_TOKEN_LEN)
    complete = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text, start)]
    i = text.find("M", start)
    while i != -1:
        inside = next((end for s, end in complete if s < i < end), None)
        if inside is not None:
            i = text.find("M", inside)
            continue
        m = _TOKEN_PREFIX_RE.fullmatch(text, pos=i, partial=True)
        if m is not None:
            tail = text[i:]
            complete_vault = (
                not m.partial
                and tail.startswith(VAULT_SCHEME + ".")
                and TOKEN_RE.fullmatch(tail) is not None
            )
            if not complete_vault:
                return i
        i = text.find("M", i + 1)
    return None
