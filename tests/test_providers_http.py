"""What of a request's URL and headers may reach a provider (pure functions)."""

from __future__ import annotations

import pytest

from masker.engine import MaskingError
from masker.providers import headers, url

SDK_HEADERS = [
    ("Host", "api.openai.com"), ("Content-Type", "application/json"), ("Accept", "application/json"),
    ("Authorization", "Bearer sk-proj-abcdefghijklmnop"), ("OpenAI-Organization", "org-abcdefgh12345678"),
    ("X-Stainless-Lang", "python"), ("X-Stainless-Retry-Count", "0"), ("User-Agent", "OpenAI/Python 2.3.0"),
    ("Idempotency-Key", "stainless-python-retry-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"),
]


def test_only_allow_listed_headers_leave_and_the_user_agent_is_masker_s() -> None:
    kept, dropped = headers.forwardable(SDK_HEADERS + [("X-Patient", "anything at all")])
    names = [n.lower() for n, _ in kept]
    assert names == ["host", "content-type", "accept", "authorization", "openai-organization",
                     "idempotency-key", "user-agent"]
    assert dict(kept)["user-agent"] == headers.USER_AGENT
    assert dropped == 3  # two x-stainless headers and X-Patient


@pytest.mark.parametrize(("name", "value"), [
    ("OpenAI-Organization", "maria.lopez@example.com"),
    ("Authorization", "Bearer 555-123-4567"),
    ("anthropic-version", "1984-03-12"),
    ("anthropic-beta", "Maria Lopez"),
    ("x-api-key", "call me at 555 123 4567"),
])
def test_an_allow_listed_header_with_another_shape_is_refused(name: str, value: str) -> None:
    with pytest.raises(MaskingError) as err:
        headers.forwardable([(name, value)])
    assert (err.value.code, err.value.status) == ("header_refused", 400)
    assert value not in str(err.value)


def test_provider_values_pass() -> None:
    for name, value in [("anthropic-version", "2023-06-01"), ("anthropic-beta", "prompt-caching-2024-07-31"),
                        ("x-api-key", "sk-ant-api03-abcdef"), ("openai-beta", "realtime=v1"),
                        ("sec-websocket-protocol", "realtime, openai-insecure-api-key.sk-test1234")]:
        assert headers.forwardable([(name, value)])[0][0] == (name, value)


def test_path_segments_scanned_unless_route_words_ids_or_models() -> None:
    assert url.path_fields("/v1/chat/completions") == []
    assert url.path_fields("/v1/responses/resp_67ccd2bed1ec8190b14f964abc05426/input_items") == []
    assert url.path_fields("/v1/models/gpt-4o-mini") == []
    fields = url.path_fields("/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21")
    assert [(f.text, f.path) for f in fields] == [("prod-4o", "path/3")]
    [email] = url.path_fields("/v1/files/maria%40example.com")
    assert email.text == "maria@example.com"  # percent-decoded before it is scanned
    assert url.route_template("/v1/files/maria%40example.com/content") == "/v1/files/{id}/content"


def test_query_values_kept_only_when_the_provider_defines_them() -> None:
    fields, where = url.query_fields([("api-version", "2024-10-21"), ("api-version", "1984-03-12"),
                                      ("user", "Maria")])
    assert [f.path for f in fields] == ["query/1/name", "query/1/value", "query/2/name", "query/2/value"]
    assert where == [(1, 0), (1, 1), (2, 0), (2, 1)]
