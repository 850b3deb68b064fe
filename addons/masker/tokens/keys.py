"""Token and vault keys, read from the environment.

Configuration
-------------
``MASKER_KEY_<kid>``
    The current key of policy key id ``<kid>`` (for the shipped policy
    ``MASKER_KEY_K_HEALTHCARE``): base64 (standard or urlsafe alphabet,
    padding optional) of exactly 32 random bytes, e.g.
    ``python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"``.
``MASKER_KEY_<kid>_OLD``
    The previous key after a rotation. Tokens and vault rows made with it
    still rehydrate (the current key is tried first, then the old one); new
    tokens always use the current key. A kid therefore must not end in
    ``_OLD``.

A malformed key fails loudly at load time (fail closed) rather than being
skipped. Error messages name the environment variable, never the key.

The raw key is never used directly: HKDF-SHA256 derives one independent
subkey per purpose (``PURPOSES``), so a token HMAC key, the AEAD key, the
vault-at-rest key and the synthetic seed key cannot be confused with one
another.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

import regex
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from masker.tokens.scheme import KID_RE

ENV_PREFIX = "MASKER_KEY_"
OLD_SUFFIX = "_OLD"
KEY_LEN = 32

TOKEN_HMAC = "token-hmac"
AEAD = "aead"
AEAD_NONCE = "aead-nonce"
VAULT = "vault"
SYNTHETIC = "synthetic"
PURPOSES = (TOKEN_HMAC, AEAD, AEAD_NONCE, VAULT, SYNTHETIC)

_KID = regex.compile(KID_RE)


def env_var(kid: str, *, old: bool = False) -> str:
    return f"{ENV_PREFIX}{kid}{OLD_SUFFIX if old else ''}"


class MissingKey(LookupError):
    """No key is configured for ``kid``."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"no key for kid {kid!r}: set {env_var(kid)}")
        self.kid = kid


class InvalidKey(ValueError):
    """An environment variable holds something that is not a 32-byte base64 key."""

    def __init__(self, var: str, why: str) -> None:
        super().__init__(f"{var}: {why} (expected base64 of {KEY_LEN} random bytes)")
        self.var = var


def decode_key(var: str, text: str) -> bytes:
    cleaned = "".join(text.split()).replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(var, "not base64") from None
    if len(raw) != KEY_LEN:
        raise InvalidKey(var, f"decodes to {len(raw)} bytes")
    return raw


def derive(key: bytes, purpose: str) -> bytes:
    """HKDF-SHA256 subkey of ``key`` for one purpose (32 bytes)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_LEN, salt=None, info=b"masker/v1/" + purpose.encode()
    ).derive(key)


class Keyring:
    """Keys per kid: current first, then the pre-rotation ``_OLD`` key."""

    def __init__(self, current: Mapping[str, bytes], old: Mapping[str, bytes] | None = None) -> None:
        for kid, key in [*current.items(), *(old or {}).items()]:
            if not _KID.fullmatch(kid) or kid.endswith(OLD_SUFFIX):
                raise ValueError(f"invalid kid {kid!r}")
            if len(key) != KEY_LEN:
                raise InvalidKey(env_var(kid), f"is {len(key)} bytes")
        self._current = dict(current)
        self._old = dict(old or {})
        self._derived: dict[tuple[str, str], list[bytes]] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Keyring:
        current: dict[str, bytes] = {}
        old: dict[str, bytes] = {}
        for var, text in env.items():
            if not var.startswith(ENV_PREFIX):
                continue
            name = var[len(ENV_PREFIX) :]
            is_old = name.endswith(OLD_SUFFIX)
            kid = name[: -len(OLD_SUFFIX)] if is_old else name
            if not _KID.fullmatch(kid):
                raise InvalidKey(var, "kid must match " + KID_RE)
            (old if is_old else current)[kid] = decode_key(var, text)
        return cls(current, old)

    def has(self, kid: str) -> bool:
        """Whether ``kid`` has a current key (new tokens can be minted)."""
        return kid in self._current

    def knows(self, kid: str) -> bool:
        """Whether ``kid`` has any key (old tokens may still rehydrate)."""
        return kid in self._current or kid in self._old

    def kids(self) -> list[str]:
        return sorted(set(self._current) | set(self._old))

    def current(self, kid: str) -> bytes:
        try:
            return self._current[kid]
        except KeyError:
            raise MissingKey(kid) from None

    def keys(self, kid: str) -> list[bytes]:
        found = [k for k in (self._current.get(kid), self._old.get(kid)) if k is not None]
        if not found:
            raise MissingKey(kid)
        return found

    def subkeys(self, kid: str, purpose: str) -> list[bytes]:
        """Derived ``purpose`` keys of ``kid``, current first (cached)."""
        cached = self._derived.get((kid, purpose))
        if cached is None:
            cached = [derive(k, purpose) for k in self.keys(kid)]
            self._derived[(kid, purpose)] = cached
        return cached

    def subkey(self, kid: str, purpose: str) -> bytes:
        """Derived ``purpose`` key of the current key of ``kid``."""
        self.current(kid)
        return self.subkeys(kid, purpose)[0]

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(current={sorted(self._current)}, old={sorted(self._old)})"
