"""The official openai SDK, unchanged, through Masker (HTTPS_PROXY and base_url), real engine."""

from __future__ import annotations

import json
import uuid

import openai
import pytest

from tests.e2e.phi import CHART, values_in
from tests.e2e.sidecar import request_events

ECHO = "Echo: " + CHART
TOOLS = [{"type": "function", "function": {"name": "save_note", "parameters": {"type": "object", "properties": {"note": {"type": "string"}}}}}]


def assert_no_phi_upstream(upstream) -> None:
    sent = upstream.bodies().decode()
    assert sent, "nothing reached upstream"
    assert values_in(sent) == []
    for kind in ("NAME", "DOB", "MRN", "PHONE"):
        assert f"MSKV1.{kind}.K_HEALTHCARE." in sent


def _client(session: str | None = None, **kw) -> openai.OpenAI:
    headers = {"x-masker-session": session} if session else None
    return openai.OpenAI(api_key="sk-test", max_retries=0, timeout=30, default_headers=headers, **kw)


def _session() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def test_chat_completion_roundtrip_via_https_proxy(proxied_env, upstream, sidecar):
    proxied_env()
    sid = _session()
    r = _client(sid).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": CHART}])
    assert r.choices[0].message.content == ECHO
    assert_no_phi_upstream(upstream)
    rec = upstream.received[-1]
    assert rec.host == "api.openai.com" and rec.path == "/v1/chat/completions"
    assert not any(h.lower().startswith(("x-masker", "proxy-authorization")) for h in rec.headers)
    events = request_events(sidecar, sid)
    forwarded = [e for e in events if e["kind"] == "request_forwarded"]
    assert len(forwarded) == 1
    assert forwarded[0]["agent"] == "billing-bot"  # from the proxy-auth username
    assert forwarded[0]["detail"]["path"] == "/v1/chat/completions"
    assert forwarded[0]["policy"] == "healthcare-default"
    assert {e["entity_kind"] for e in events if e["kind"] == "redaction_applied"} >= {"NAME", "DOB", "MRN", "PHONE"}
    assert {e["entity_kind"] for e in events if e["kind"] == "rehydration"} >= {"NAME", "DOB", "MRN", "PHONE"}
    # mask events are durable before the forward; request_forwarded comes with the response's events
    seqs = {e["kind"]: e["seq"] for e in events}
    assert seqs["redaction_applied"] < seqs["request_forwarded"] < seqs["rehydration"]


def test_streaming_chat_roundtrip(proxied_env, upstream, sidecar):
    proxied_env()
    sid = _session()
    stream = _client(sid).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": CHART}], stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == ECHO
    assert_no_phi_upstream(upstream)
    request_events(sidecar, sid)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_arguments_rehydrated(proxied_env, upstream, sidecar, stream):
    proxied_env()
    sid = _session()
    client = _client(sid)
    kw = dict(model="gpt-test", messages=[{"role": "user", "content": CHART}], tools=TOOLS)
    if stream:
        args = ""
        for c in client.chat.completions.create(stream=True, **kw):
            for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                args += tc.function.arguments or ""
    else:
        args = client.chat.completions.create(**kw).choices[0].message.tool_calls[0].function.arguments
    assert json.loads(args) == {"note": ECHO}
    assert_no_phi_upstream(upstream)
    request_events(sidecar, sid)


@pytest.mark.parametrize("stream", [False, True])
def test_reverse_mode_base_url_with_agent_path(reverse_sidecar, upstream, stream):
    sid = _session()
    client = _client(sid, base_url=f"{reverse_sidecar.url}/proxy/triage-bot/v1")
    kw = dict(model="gpt-test", messages=[{"role": "user", "content": CHART}])
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kw) if c.choices)
    else:
        text = client.chat.completions.create(**kw).choices[0].message.content
    assert text == ECHO
    assert_no_phi_upstream(upstream)
    assert upstream.received[-1].path == "/v1/chat/completions"  # agent prefix removed
    forwarded = [e for e in request_events(reverse_sidecar, sid) if e["kind"] == "request_forwarded"]
    assert forwarded[-1]["agent"] == "triage-bot"


def test_reverse_mode_plain_v1_path(reverse_sidecar, upstream):
    r = _client(base_url=f"{reverse_sidecar.url}/v1").chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": CHART}])
    assert r.choices[0].message.content == ECHO
    assert_no_phi_upstream(upstream)


def test_bodyless_get_passes_on_intercepted_host(proxied_env, upstream):
    proxied_env()
    models = _client().models.list()
    assert [m.id for m in models.data] == ["gpt-test"]
    assert upstream.received[-1].method == "GET" and upstream.received[-1].path == "/v1/models"

