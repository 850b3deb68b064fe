"""The fakes of ``tests.helpers.providers`` follow the real token grammar."""

from __future__ import annotations

from masker.engine import TextField
from masker.tokens.scheme import TOKEN_RE
from tests.helpers.providers import M_BODY_TOKEN, UNKNOWN_TOKEN, VALUES, FakeMask, fake_rehydrate


def test_fake_tokens_follow_the_real_grammar() -> None:
    # If the token scheme changes, the other tests would silently test nothing.
    for token in [*VALUES.values(), UNKNOWN_TOKEN, M_BODY_TOKEN]:
        assert TOKEN_RE.fullmatch(token) is not None
    masked = FakeMask()([TextField("Alice Smith called 555-123-4567")])[0]
    assert "Alice" not in masked and fake_rehydrate(masked) == "Alice Smith called 555-123-4567"
    assert fake_rehydrate(UNKNOWN_TOKEN) == "[REDACTED:SSN]"
