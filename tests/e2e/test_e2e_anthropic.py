"""The official anthropic SDK, unchanged, through Masker (HTTPS_PROXY and base_url)."""

from __future__ import annotations

import anthropic
import pytest

from fake_engine import PHI

PROMPT = "Maria Garcia, SSN 123-45-6789, email john.smith@example.com, needs a refill."
ECHO = "Echo: " + PROMPT
TOOLS = [{"name": "save_note", "description": "save", "input_schema": {"type": "object", "properties": {"note": {"type": "string"}}}}]


def _client(**kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", max_retries=0, timeout=20, **kw)


def assert_no_phi_upstream(upstream) -> None:
    sent = upstream.bodies()
    assert sent
    for value in PHI:
        assert value.encode() not in sent
    assert b"MSKV1.SSN.K_HEALTHCARE." in sent


def test_messages_roundtrip_with_tool_use(proxied_env, upstream):
    proxied_env()
    msg = _client().messages.create(model="claude-test", max_tokens=64, tools=TOOLS,
                                    messages=[{"role": "user", "content": PROMPT}])
    assert msg.content[0].text == ECHO
    assert msg.content[1].input == {"note": ECHO}
    assert_no_phi_upstream(upstream)
    assert upstream.received[-1].host == "api.anthropic.com"


def test_streaming_messages_with_tool_use(proxied_env, upstream):
    proxied_env()
    with _client().messages.stream(model="claude-test", max_tokens=64, tools=TOOLS,
                                   messages=[{"role": "user", "content": PROMPT}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == ECHO
    assert final.content[1].input == {"note": ECHO}
    assert_no_phi_upstream(upstream)


@pytest.mark.parametrize("stream", [False, True])
def test_reverse_mode_base_url(reverse_sidecar, upstream, stream):
    client = _client(base_url=f"{reverse_sidecar.url}/proxy/intake-bot")
    kw = dict(model="claude-test", max_tokens=64, messages=[{"role": "user", "content": PROMPT}])
    if stream:
        with client.messages.stream(**kw) as s:
            text = "".join(s.text_stream)
    else:
        text = client.messages.create(**kw).content[0].text
    assert text == ECHO
    assert_no_phi_upstream(upstream)
    assert upstream.received[-1].path == "/v1/messages"
