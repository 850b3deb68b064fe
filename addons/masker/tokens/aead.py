"""``MSK1`` reversible-aead tokens: AES-256-GCM-SIV, no vault needed.

The body is base32(AES-256-GCM-SIV(value)) under the kid's ``aead`` subkey,
with a fixed nonce derived from the same key (``aead-nonce`` subkey). The
fixed nonce makes the token deterministic per (kid, value): the same value
always gives the same token, which is what lets an LLM see "the same
patient" twice. GCM-SIV is nonce-misuse resistant, so this leaks only
equality of values, never the values or the key.

``scheme|KIND|kid`` is the associated data: a token relabelled to another
kind or kid, or with any body character changed, fails authentication.

MSK1 tokens are *not* bound to an (agent, session) scope: whoever holds the
key can open them anywhere. That is the point of the scheme (stateless, no
vault); use ``vault-deterministic`` where tokens must only rehydrate in the
session that minted them. For the same reason the policy's ``token_scope``
does not apply: the same value gives the same MSK1 token in every session and
every agent, so a provider that sees many calls can link that value across
them (binding the scope into the nonce or AAD would make MSK1 scope-bound,
which it is not meant to be). Use ``vault-deterministic`` for tokens that are
unlinkable across sessions.
"""

from __future__ import annotations

import binascii
import functools

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from masker.tokens import keys as K
from masker.tokens.keys import Keyring
from masker.tokens.scheme import AEAD_SCHEME, MAX_AEAD_BODY_LEN, b32decode, b32encode, format_token

TAG_LEN = 16
NONCE_LEN = 12
MIN_BODY_LEN = 26  # an empty value: the tag alone
# Longest UTF-8 value whose token body still fits the grammar.
MAX_VALUE_BYTES = MAX_AEAD_BODY_LEN * 5 // 8 - TAG_LEN


class ValueTooLong(ValueError):
    """A value too long for an MSK1 token: refused, never truncated."""

    def __init__(self, kind: str, size: int) -> None:
        super().__init__(
            f"{kind} value of {size} bytes exceeds the {AEAD_SCHEME} limit of {MAX_VALUE_BYTES} bytes"
        )
        self.kind = kind
        self.size = size


class Undecryptable(ValueError):
    """The body is not a token this keyring made for this kind and kid."""


@functools.lru_cache(maxsize=64)
def cipher(key: bytes) -> AESGCMSIV:
    return AESGCMSIV(key)


def _aad(kind: str, kid: str) -> bytes:
    return f"{AEAD_SCHEME}|{kind}|{kid}".encode()


def _nonce(keyring: Keyring, kid: str, index: int) -> bytes:
    return keyring.subkeys(kid, K.AEAD_NONCE)[index][:NONCE_LEN]


def seal(keyring: Keyring, kind: str, kid: str, value: str) -> str:
    """The MSK1 token of ``value`` under the current key of ``kid``."""
    raw = value.encode("utf-8")
    if len(raw) > MAX_VALUE_BYTES:
        raise ValueTooLong(kind, len(raw))
    key = keyring.subkey(kid, K.AEAD)
    body = b32encode(cipher(key).encrypt(_nonce(keyring, kid, 0), raw, _aad(kind, kid)))
    return format_token(AEAD_SCHEME, kind, kid, body)


def canonical_bytes(body: str) -> bytes | None:
    """Decoded body, or None unless ``body`` is the exact base32 of those bytes.

    Base32 leaves unused low bits in the last character; without this check
    a flipped last character could decode to the same bytes and pass.
    """
    try:
        raw = b32decode(body)
    except (binascii.Error, ValueError):
        return None
    return raw if b32encode(raw) == body else None


def open_body(keyring: Keyring, kind: str, kid: str, body: str) -> str:
    """The value inside an MSK1 token body; tries the current key, then ``_OLD``.

    Raises ``MissingKey`` when no key of ``kid`` is configured and
    ``Undecryptable`` when no key authenticates it.
    """
    keys = keyring.subkeys(kid, K.AEAD)
    raw = canonical_bytes(body)
    if raw is None or len(raw) < TAG_LEN:
        raise Undecryptable("malformed body")
    aad = _aad(kind, kid)
    for i, key in enumerate(keys):
        try:
            plain = cipher(key).decrypt(_nonce(keyring, kid, i), raw, aad)
        except InvalidTag:
            continue
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            break
    raise Undecryptable("authentication failed")
