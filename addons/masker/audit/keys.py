"""Audit keys: loading them from the environment and naming them. (No request
or response payload is ever stored: the policy setting ``log_payloads`` was
removed because nothing kept payloads.)

Keys are base64 of 32 random bytes (standard or urlsafe alphabet, padding
optional): ``MASKER_AUDIT_KEY`` (journal HMAC) and ``MASKER_SIGNING_KEY``
(Ed25519 seed for checkpoints and reports).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from nacl.signing import SigningKey, VerifyKey

AUDIT_KEY_ENV = "MASKER_AUDIT_KEY"
SIGNING_KEY_ENV = "MASKER_SIGNING_KEY"
# The previous signing key during a rotation: the sidecar journals a signed
# ``signing_key_rotated`` event on start when the journal is pinned to it.
SIGNING_KEY_OLD_ENV = "MASKER_SIGNING_KEY_OLD"
# What a verifier trusts (it never needs the private key): the public key
# (base64 or hex of the raw 32 bytes, or a PEM file path), or its fingerprint.
SIGNING_PUBKEY_ENV = "MASKER_SIGNING_PUBKEY"
SIGNING_FINGERPRINT_ENV = "MASKER_SIGNING_KEY_FINGERPRINT"
PIN_HELP = (
    "no pinned signing key: give --pubkey FILE|BASE64 or --fingerprint SHA256:HEX, or set "
    f"{SIGNING_PUBKEY_ENV} (base64, hex or a PEM file path) or {SIGNING_FINGERPRINT_ENV} (SHA256:<hex>); "
    "`masker audit pubkey` prints them where the signing key is"
)
KEY_BYTES = 32
# SubjectPublicKeyInfo prefix for an Ed25519 key (RFC 8410): what openssl reads.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
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


def previous_signing_key_from_env(env: Mapping[str, str] | None = None) -> SigningKey | None:
    """``MASKER_SIGNING_KEY_OLD`` (the key the journal is pinned to during a rotation), or None."""
    env = os.environ if env is None else env
    value = env.get(SIGNING_KEY_OLD_ENV)
    return SigningKey(decode_key(value, SIGNING_KEY_OLD_ENV)) if value else None


def public_key_pem(key: VerifyKey) -> str:
    """SPKI PEM, readable by ``openssl pkeyutl -pubin``."""
    der = _ED25519_SPKI_PREFIX + bytes(key)
    b64 = base64.b64encode(der).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"


def fingerprint(key: VerifyKey | bytes) -> str:
    """``SHA256:<hex>`` of the raw 32-byte public key."""
    return "SHA256:" + hashlib.sha256(bytes(key)).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """``SHA256:<hex>`` from ``SHA256:<hex>`` or bare hex (any case); KeyConfigError otherwise."""
    s = text.strip()
    if s[:7].upper() == "SHA256:":
        s = s[7:]
    s = s.lower()
    if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
        raise KeyConfigError("a key fingerprint is SHA256: followed by 64 hex digits")
    return "SHA256:" + s


class KeyPin:
    """The Ed25519 public keys a verifier trusts: given as keys or as fingerprints.

    A pin is what the operator configured out of band (``--pubkey``,
    ``MASKER_SIGNING_PUBKEY``, ``MASKER_SIGNING_KEY_FINGERPRINT``) or, inside
    the sidecar, its own signing key. ``extended`` adds keys that a trusted
    key vouched for (the journal's signed key-rotation events).
    """

    __slots__ = ("keys", "fingerprints")

    def __init__(self, keys: Iterable[VerifyKey | bytes] = (), fingerprints: Iterable[str] = ()) -> None:
        self.keys = frozenset(bytes(k) for k in keys)
        self.fingerprints = frozenset(normalize_fingerprint(f) for f in fingerprints)

    @classmethod
    def of(cls, key: VerifyKey | KeyPin | None) -> KeyPin | None:
        if key is None or isinstance(key, KeyPin):
            return key
        return cls([key])

    def accepts(self, public: VerifyKey | bytes) -> bool:
        raw = bytes(public)
        return raw in self.keys or fingerprint(raw) in self.fingerprints

    def extended(self, more: Iterable[bytes]) -> KeyPin:
        pin = KeyPin(self.keys | {bytes(k) for k in more})
        pin.fingerprints = self.fingerprints
        return pin

    def __bool__(self) -> bool:
        return bool(self.keys or self.fingerprints)

    def describe(self) -> str:
        names = sorted({fingerprint(k) for k in self.keys} | set(self.fingerprints))
        return ", ".join(names) or "no key"


def pin_from(pubkey: str | None = None, fp: str | None = None, env: Mapping[str, str] | None = None) -> KeyPin:
    """The verifier's pin: ``--pubkey``, ``--fingerprint``, else the environment; KeyConfigError (PIN_HELP) if none."""
    env = os.environ if env is None else env
    if pubkey:
        return KeyPin([load_verify_key(pubkey)])
    if fp:
        return KeyPin(fingerprints=[fp])
    if env.get(SIGNING_PUBKEY_ENV):
        return KeyPin([load_verify_key(env[SIGNING_PUBKEY_ENV])])
    if env.get(SIGNING_FINGERPRINT_ENV):
        return KeyPin(fingerprints=[env[SIGNING_FINGERPRINT_ENV]])
    raise KeyConfigError(PIN_HELP)


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
    try:
        return VerifyKey(decode_key(s, "public key"))
    except KeyConfigError:
        if not path.exists() and (os.sep in s or s.endswith((".pem", ".pub", ".key"))):
            raise KeyConfigError(f"{spec}: no such file (and not a base64 or hex public key)") from None
        raise
