"""OpenAI Realtime over WebSocket through Masker (HTTPS_PROXY, real engine),
driven by the official openai SDK (``client.realtime.connect``, which needs
the ``websockets`` package).

The fake upstream records every client message and echoes the conversation
text back in 5-character deltas, so every token it received is split across
several ``*.delta`` events before the ``.done`` events repeat the full text.
Assertions compare texts through ``_restored`` / ``_token_kinds`` so a
failure never prints a PHI value.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid

import openai
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.phi import CALL, REFILL, values_in
from tests.e2e.sidecar import request_events

pytestmark = pytest.mark.timeout(60)

MODEL = "gpt-realtime"
KINDS = {"NAME", "PHONE", "SSN", "EMAIL"}  # what REFILL + CALL hold (names need the NER pass)
_TOKEN_RE = re.compile(r"MSKV1\.([A-Z_]+)\.K_HEALTHCARE\.")


@pytest.fixture
def realtime(monkeypatch, sidecar, bundle):
    """An SDK Realtime connection factory for an app behind the sidecar (agent ``voice-bot``)."""
    for name in list(os.environ):
        if "proxy" in name.lower() or name == "OPENAI_BASE_URL":
            monkeypatch.delenv(name, raising=False)
    # websockets refuses proxy credentials without a password; Masker ignores the password
    monkeypatch.setenv("HTTPS_PROXY", f"http://voice-bot:x@127.0.0.1:{sidecar.port}")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))

    def connect(session: str):
        client = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=10, default_headers={"x-masker-session": session})
        return client.realtime.connect(model=MODEL)

    return connect


def _session() -> str:
    return f"rt-{uuid.uuid4().hex[:12]}"


def _ws_messages(upstream) -> list[dict]:
    return [json.loads(r.body) for r in upstream.received if r.method == "WS"]


def _upstream_text(upstream) -> str:
    return "\n".join(r.body.decode() for r in upstream.received)


def _token_kinds(text: str) -> set[str]:
    return set(_TOKEN_RE.findall(text))


def _restored(got: str, expected: str, what: str) -> None:
    """``got == expected``, failing with kinds and lengths only (never the texts)."""
    if got != expected:
        raise AssertionError(f"{what}: not the original text (tokens left: {sorted(_token_kinds(got))}, "
                             f"values missing: {sorted(set(values_in(expected)) - set(values_in(got)))}, "
                             f"length {len(got)} vs {len(expected)})")


def _ask(conn, text: str) -> None:
    conn.conversation.item.create(item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})


def _collect(recv, until: str = "response.done") -> list[dict]:
    """Server events (as JSON objects) up to and including ``until``."""
    events: list[dict] = []
    while not events or events[-1]["type"] != until:
        events.append(recv())
    return events


def _deltas(events: list[dict], kind: str) -> list[str]:
    return [e["delta"] for e in events if e["type"] == kind]


def _only(events: list[dict], kind: str) -> dict:
    found = [e for e in events if e["type"] == kind]
    assert len(found) == 1, (kind, [e["type"] for e in events])
    return found[0]


def _assert_split_and_restored(deltas: list[str], expected: str) -> None:
    """Every token was split across deltas upstream; the client sees only original text."""
    n = len(deltas)
    assert n > len(expected) // 6  # 5-character pieces (some emptied while a token tail is held back)
    assert sum("MSKV1" in d for d in deltas) == 0
    _restored("".join(deltas), expected, "concatenated deltas")


def test_text_response_masked_upstream_and_rehydrated_across_deltas(realtime, upstream, sidecar):
    sid = _session()
    with realtime(sid) as conn:
        assert conn.recv().type == "session.created"
        conn.session.update(session={"type": "realtime", "instructions": f"You help {CALL}"})
        assert conn.recv().type == "session.updated"
        _ask(conn, REFILL)
        conn.response.create(response={"output_modalities": ["text"]})
        events = _collect(lambda: conn.recv().to_dict())

    sent = _ws_messages(upstream)
    assert [m["type"] for m in sent] == ["session.update", "conversation.item.create", "response.create"]
    assert values_in(_upstream_text(upstream)) == []
    assert _token_kinds(_upstream_text(upstream)) >= KINDS
    assert _token_kinds(sent[0]["session"]["instructions"]) == {"NAME", "PHONE"}
    upgrade = [r for r in upstream.received if r.method == "GET"][-1]
    assert upgrade.host == "api.openai.com" and upgrade.path == f"/v1/realtime?model={MODEL}"
    assert not any(h.lower().startswith(("x-masker", "proxy-authorization")) for h in upgrade.headers)

    expected = "Echo: " + REFILL
    # the server's echo of the masked item comes back with the original values
    _restored(_only(events, "conversation.item.added")["item"]["content"][0]["text"], REFILL, "conversation.item.added")
    _assert_split_and_restored(_deltas(events, "response.output_text.delta"), expected)
    _restored(_only(events, "response.output_text.done")["text"], expected, "output_text.done")
    _restored(_only(events, "response.content_part.done")["part"]["text"], expected, "content_part.done")
    _restored(_only(events, "response.output_item.done")["item"]["content"][0]["text"], expected, "output_item.done")
    _restored(_only(events, "response.done")["response"]["output"][0]["content"][0]["text"], expected, "response.done")

    journal = request_events(sidecar, sid)
    forwarded = [e for e in journal if e["kind"] == "request_forwarded"]
    assert len(forwarded) == 1 and forwarded[0]["agent"] == "voice-bot"
    assert forwarded[0]["detail"]["path"] == "/v1/realtime"
    assert {e["entity_kind"] for e in journal if e["kind"] == "redaction_applied"} >= KINDS
    assert {e["entity_kind"] for e in journal if e["kind"] == "rehydration"} >= KINDS


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta-names"])
def test_audio_transcript_rehydrated_and_audio_untouched(realtime, upstream, beta):
    prefix = "response.audio_transcript" if beta else "response.output_audio_transcript"
    audio = "response.audio.delta" if beta else "response.output_audio.delta"
    with realtime(_session()) as conn:
        assert conn.recv().type == "session.created"
        _ask(conn, CALL)
        # beta clients send ``modalities``; the fake upstream then answers with beta event names
        conn.send({"type": "response.create", "response": {"modalities" if beta else "output_modalities": ["audio"]}})
        events = _collect(lambda: json.loads(conn.recv_bytes()))

    assert values_in(_upstream_text(upstream)) == []
    assert _token_kinds(json.dumps(_ws_messages(upstream))) == {"NAME", "PHONE"}
    expected = "Echo: " + CALL
    _assert_split_and_restored(_deltas(events, prefix + ".delta"), expected)
    _restored(_only(events, prefix + ".done")["transcript"], expected, "transcript.done")
    _restored(_only(events, "response.done")["response"]["output"][0]["content"][0]["transcript"], expected, "response.done")
    assert _only(events, audio)["delta"] == base64.b64encode(b"\0\1" * 8).decode()


def test_input_audio_refused_by_media_policy(realtime, upstream, sidecar):
    """``media: block`` (shipped policy): an audio append never leaves. The
    sidecar drops it, sends the client an ``error`` event, journals the
    refusal and closes the connection; nothing sent after it leaves either."""
    sid = _session()
    with realtime(sid) as conn:
        assert conn.recv().type == "session.created"
        _ask(conn, "hello")
        assert conn.recv().type == "conversation.item.added"  # the session is live
        conn.input_audio_buffer.append(audio=base64.b64encode(b"\0" * 3200).decode())
        _ask(conn, "after the audio")
        error = json.loads(conn.recv_bytes())
        assert error["type"] == "error" and error["error"]["code"] == "media_blocked"
        with pytest.raises(ConnectionClosed):
            conn.recv_bytes()

    assert [m["type"] for m in _ws_messages(upstream)] == ["conversation.item.create"]
    journal = request_events(sidecar, sid, ("request_forwarded", "request_blocked"))
    blocked = [e for e in journal if e["kind"] == "request_blocked"]
    assert len(blocked) == 1 and blocked[0]["reason"] == "media_blocked"
    assert blocked[0]["detail"]["transport"] == "websocket" and blocked[0]["agent"] == "voice-bot"
