"""Fake mask/rehydrate functions shared by the provider and stream tests.

Tokens follow the real grammar (``masker.tokens.scheme``); values are fixed.
"""

from __future__ import annotations

import hashlib
import json

from masker.engine import TextField
from masker.tokens.scheme import AEAD_SCHEME, TOKEN_RE, VAULT_SCHEME, b32encode, format_token

KID = "K_TEST"


def vault_token(kind: str, seed: str) -> str:
    return format_token(VAULT_SCHEME, kind, KID, b32encode(hashlib.sha256(seed.encode()).digest()[:16]))


def aead_token(kind: str, seed: str, nbytes: int = 15) -> str:
    return format_token(AEAD_SCHEME, kind, KID, b32encode(hashlib.sha256(seed.encode()).digest()[:nbytes]))


# value -> token; the fake masker replaces these words wherever they occur.
VALUES = {
    "Alice Smith": vault_token("NAME", "alice"),
    "555-123-4567": vault_token("PHONE", "phone"),
    "alice@example.com": vault_token("EMAIL", "email"),
    'Dan "Danny" O\\Brien': vault_token("NAME", "dan"),
    "Zoë Müller": aead_token("NAME", "zoe"),
    "MRN 00123": aead_token("MRN", "mrn", 20),
}
TOKENS = {token: value for value, token in VALUES.items()}
UNKNOWN_TOKEN = vault_token("SSN", "minted-elsewhere")
# A vault token whose body contains "M" (the hold-back must not split it).
M_BODY_TOKEN = format_token(VAULT_SCHEME, "NAME", KID, "MMMMMMMMMMMMMMMMMMMMMMMMMM")
TOKENS[M_BODY_TOKEN] = "Mmm Person"


class FakeMask:
    """Replaces known values with their tokens; records every call."""

    def __init__(self) -> None:
        self.calls: list[list[TextField]] = []

    def __call__(self, fields: list[TextField]) -> list[str]:
        self.calls.append(list(fields))
        out = []
        for field in fields:
            text = field.text
            for value, token in VALUES.items():
                text = text.replace(value, token)
            out.append(text)
        return out

    @property
    def fields(self) -> list[TextField]:
        assert len(self.calls) == 1, "all fields of one request must be masked in one call"
        return self.calls[0]


def fake_rehydrate(text: str, *, json_escape: bool = False) -> str:
    def restore(m) -> str:
        value = TOKENS.get(m.group(0), f"[REDACTED:{m.group('kind')}]")
        return json.dumps(value, ensure_ascii=False)[1:-1] if json_escape else value

    return TOKEN_RE.sub(restore, text)
