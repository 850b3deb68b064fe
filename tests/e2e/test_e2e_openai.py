"""The official openai SDK, unchanged, through Masker (HTTPS_PROXY and base_url)."""

from __future__ import annotations

import json

import openai
import pytest

from fake_engine import PHI

PROMPT = "Patient John Smith (DOB 1984-03-12) asks to be called on 555-123-4567."
ECHO = "Echo: " + PROMPT
TOOLS = [{"type": "function", "function": {"name": "save_note", "parameters": {"type": "object", "properties": {"note": {"type": "string"}}}}}]


def assert_no_phi_upstream(upstream) -> None:
    sent = upstream.bodies()
    assert sent, "nothing reached upstream"
    for value in PHI:
        assert value.encode() not in sent
    assert b"MSKV1.NAME.K_HEALTHCARE." in sent


def _client(**kw) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", max_retries=0, timeout=20, **kw)


def test_chat_completion_roundtrip_via_https_proxy(proxied_env, upstream, sidecar):
    proxied_env()
    r = _client().chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": PROMPT}])
    assert r.choices[0].message.content == ECHO
    assert_no_phi_upstream(upstream)
    rec = upstream.received[-1]
    assert rec.host == "api.openai.com" and rec.path == "/v1/chat/completions"
    assert not any(h.lower().startswith(("x-masker", "proxy-authorization")) for h in rec.headers)
    forwarded = [e for e in sidecar.journal() if e["kind"] == "request_forwarded"]
    assert forwarded[-1]["agent"] == "billing-bot"  # from the proxy-auth username
    assert forwarded[-1]["detail"]["path"] == "/v1/chat/completions"


def test_streaming_chat_roundtrip(proxied_env, upstream):
    proxied_env()
    stream = _client().chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": PROMPT}], stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == ECHO
    assert_no_phi_upstream(upstream)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_arguments_rehydrated(proxied_env, upstream, stream):
    proxied_env()
    client = _client()
    kw = dict(model="gpt-test", messages=[{"role": "user", "content": PROMPT}], tools=TOOLS)
    if stream:
        args = ""
        for c in client.chat.completions.create(stream=True, **kw):
            for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                args += tc.function.arguments or ""
    else:
        args = client.chat.completions.create(**kw).choices[0].message.tool_calls[0].function.arguments
    assert json.loads(args) == {"note": ECHO}
    assert_no_phi_upstream(upstream)


@pytest.mark.parametrize("stream", [False, True])
def test_reverse_mode_base_url_with_agent_path(reverse_sidecar, upstream, stream):
    client = _client(base_url=f"{reverse_sidecar.url}/proxy/triage-bot/v1")
    kw = dict(model="gpt-test", messages=[{"role": "user", "content": PROMPT}])
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kw) if c.choices)
    else:
        text = client.chat.completions.create(**kw).choices[0].message.content
    assert text == ECHO
    assert_no_phi_upstream(upstream)
    assert upstream.received[-1].path == "/v1/chat/completions"  # agent prefix removed
    forwarded = [e for e in reverse_sidecar.journal() if e["kind"] == "request_forwarded"]
    assert forwarded[-1]["agent"] == "triage-bot"


def test_reverse_mode_plain_v1_path(reverse_sidecar, upstream):
    r = _client(base_url=f"{reverse_sidecar.url}/v1").chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": PROMPT}])
    assert r.choices[0].message.content == ECHO
    assert_no_phi_upstream(upstream)


def test_bodyless_get_passes_on_intercepted_host(proxied_env, upstream):
    proxied_env()
    models = _client().models.list()
    assert [m.id for m in models.data] == ["gpt-test"]
    assert upstream.received[-1].method == "GET" and upstream.received[-1].path == "/v1/models"
