"""Audit keys: loading them from the environment, naming them, and sealing
opt-in payloads (``log_payloads: true``) so that the journal never holds one
in clear.

Keys are base64 of 32 random bytes (standard or urlsafe alphabet, padding
optional): ``MASKER_AUDIT_KEY`` (journal HMAC) and ``MASKER_SIGNING_KEY``
(Ed25519 seed for checkpoints and reports).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.signing import SigningKey, VerifyKey

AUDIT_KEY_ENV = "MASKER_AUDIT_KEY"
SIGNING_KEY_ENV = "MASKER_SIGNING_KEY"
KEY_BYTES = 32
# SubjectPublicKeyInfo prefix for an Ed25519 key (RFC 8410): what openssl reads.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PAYLOAD_INFO = b"masker audit payload v1"
_PAYLOAD_PREFIX = "v1."


class KeyConfigError(ValueError):
    """A key is missing or malformed (the message names the variable, never the value)."""


def decode_key(text: str, name: str = "key") -> bytes:
    """32 bytes from base64 (either alphabet, padding optional)."""
    s = text.strip()
    s += "=" * (-len(s) % 4)
    try:
        raw = base64.b64decode(s.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{name} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(f"{name} must decode to {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def audit_key_from_env(env: Mapping[str, str] | None = None) -> bytes:
    env = os.environ if env is None else env
    value = env.get(AUDIT_KEY_ENV)
    if not value:
        raise KeyConfigError(f"{AUDIT_KEY_ENV} is not set")
    return decode_key(value, AUDIT_KEY_ENV)


def signing_key_from_env(env: Mapping[str, str] | None = None) -> SigningKey:
    env = os.environ if env is None else env
    value = env.get(SIGNING_KEY_ENV)
    if not value:
        raise KeyConfigError(f"{SIGNING_KEY_ENV} is not set")
    return SigningKey(decode_key(value, SIGNING_KEY_ENV))


def public_key_pem(key: VerifyKey) -> str:
    """SPKI PEM, readable by ``openssl pkeyutl -pubin``."""
    der = _ED25519_SPKI_PREFIX + bytes(key)
    b64 = base64.b64encode(der).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"


def fingerprint(key: VerifyKey) -> str:
    """``SHA256:<hex>`` of the raw 32-byte public key."""
    return "SHA256:" + hashlib.sha256(bytes(key)).hexdigest()


def load_verify_key(spec: str) -> VerifyKey:
    """A public key from a PEM file path, or from base64 / hex of the raw 32 bytes."""
    path = Path(spec)
    if path.is_file():
        text = path.read_text(encoding="ascii", errors="replace")
        if "BEGIN PUBLIC KEY" in text:
            body = "".join(
                line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----")
            )
            der = base64.b64decode(body)
            if len(der) != len(_ED25519_SPKI_PREFIX) + KEY_BYTES or not der.startswith(_ED25519_SPKI_PREFIX):
                raise KeyConfigError(f"{spec} is not an Ed25519 public key")
            return VerifyKey(der[len(_ED25519_SPKI_PREFIX):])
        spec = text.strip()
    s = spec.strip()
    if len(s) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in s):
        return VerifyKey(bytes.fromhex(s))
    return VerifyKey(decode_key(s, "public key"))


def _payload_cipher(audit_key: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PAYLOAD_INFO).derive(audit_key)
    return AESGCM(derived)


def encrypt_payload(audit_key: bytes, plaintext: bytes, *, aad: bytes = b"") -> str:
    """Seal a payload for the event detail field ``payload_enc``.

    AES-256-GCM under a key derived (HKDF-SHA256) from the audit key, random
    96-bit nonce; ``aad`` (e.g. agent/session) is bound but not stored.
    Output: ``v1.`` + urlsafe base64 of nonce || ciphertext+tag.
    """
    nonce = os.urandom(12)
    sealed = _payload_cipher(audit_key).encrypt(nonce, plaintext, aad)
    return _PAYLOAD_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt_payload(audit_key: bytes, sealed: str, *, aad: bytes = b"") -> bytes:
    """Inverse of ``encrypt_payload``; raises ValueError when it does not authenticate."""
    if not sealed.startswith(_PAYLOAD_PREFIX):
        raise ValueError("unknown payload encoding")
    raw = base64.urlsafe_b64decode(sealed[len(_PAYLOAD_PREFIX):])
    try:
        return _payload_cipher(audit_key).decrypt(raw[:12], raw[12:], aad)
    except Exception:
        raise ValueError("payload does not authenticate") from None
