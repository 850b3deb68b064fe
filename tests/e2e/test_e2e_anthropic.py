"""The official anthropic SDK, unchanged, through Masker (HTTPS_PROXY and base_url), real engine."""

from __future__ import annotations

import uuid

import anthropic
import pytest

from tests.e2e.phi import REFILL, values_in
from tests.e2e.sidecar import request_events

ECHO = "Echo: " + REFILL
TOOLS = [{"name": "save_note", "description": "save", "input_schema": {"type": "object", "properties": {"note": {"type": "string"}}}}]


def _client(session: str, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", max_retries=0, timeout=30,
                               default_headers={"x-masker-session": session}, **kw)


def _session() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def assert_no_phi_upstream(upstream) -> None:
    sent = upstream.bodies().decode()
    assert sent
    assert values_in(sent) == []
    for kind in ("NAME", "SSN", "EMAIL"):
        assert f"MSKV1.{kind}.K_HEALTHCARE." in sent


def test_messages_roundtrip_with_tool_use(proxied_env, upstream, sidecar):
    proxied_env()
    sid = _session()
    msg = _client(sid).messages.create(model="claude-test", max_tokens=64, tools=TOOLS,
                                       messages=[{"role": "user", "content": REFILL}])
    assert msg.content[0].text == ECHO
    assert msg.content[1].input == {"note": ECHO}
    assert_no_phi_upstream(upstream)
    assert upstream.received[-1].host == "api.anthropic.com"
    request_events(sidecar, sid)


def test_streaming_messages_with_tool_use(proxied_env, upstream, sidecar):
    proxied_env()
    sid = _session()
    with _client(sid).messages.stream(model="claude-test", max_tokens=64, tools=TOOLS,
                                      messages=[{"role": "user", "content": REFILL}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == ECHO
    assert final.content[1].input == {"note": ECHO}
    assert_no_phi_upstream(upstream)
    request_events(sidecar, sid)


@pytest.mark.parametrize("stream", [False, True])
def test_reverse_mode_base_url(reverse_sidecar, upstream, stream):
    sid = _session()
    client = _client(sid, base_url=f"{reverse_sidecar.url}/proxy/intake-bot")
    kw = dict(model="claude-test", max_tokens=64, messages=[{"role": "user", "content": REFILL}])
    if stream:
        with client.messages.stream(**kw) as s:
            text = "".join(s.text_stream)
    else:
        text = client.messages.create(**kw).content[0].text
    assert text == ECHO
    assert_no_phi_upstream(upstream)
    assert upstream.received[-1].path == "/v1/messages"
    assert request_events(reverse_sidecar, sid)[0]["agent"] == "intake-bot"
