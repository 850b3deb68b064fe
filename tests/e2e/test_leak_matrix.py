"""LEAK MATRIX: nothing leaves that was not scanned.

Every case drives the REAL sidecar (real engine: shipped policy, regex +
NER) against the recording fake upstream, with planted identifiers in one
carrier class: a field, a shape, a header, a URL part, an encoding or a
token look-alike. Two things must hold for every case:

(a) no planted value reaches the upstream in any byte it received (path
    and query, header names and values, body raw / decompressed /
    JSON-decoded), as written or in the encoded or normalized forms the
    case used (``leak_helpers.assert_no_leak``);
(b) the client gets a JSON answer: the upstream's 200 JSON / SSE passed
    back, or Masker's JSON error with a 4xx/5xx status; never an HTML page
    (``leak_helpers.assert_json_answer``).

Whether a carrier is masked or refused is not asserted: either is fine.
Failure messages carry kinds and places, never the planted values.
"""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import socket
import ssl
import string
from dataclasses import dataclass, field
from urllib.parse import quote

import brotli
import httpx
import pytest
import zstandard
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.e2e.leak_helpers import TOKEN_RE_TEXT, assert_json_answer, assert_no_leak, error_shape, kinds_in, leaks

pytestmark = pytest.mark.timeout(120)

# Planted identifiers the regex pass surely finds (with their cue words), and the NER name.
SSN = "123-45-6789"
PHONE = "555-123-4567"
EMAIL = "maria.lopez@example.com"
NAME = "Maria Lopez"
DOB = "1984-03-12"
SSN_T = f"SSN {SSN}"
PHONE_T = f"call {PHONE}"
NAME_T = f"Patient {NAME} asks for a refill."
ALL_T = f"Patient {NAME}, SSN {SSN}, call {PHONE}, email {EMAIL}."

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 26 base32 characters: a vault-token-shaped body nobody minted


@dataclass
class Case:
    id: str
    body: object = None  # a JSON value, or bytes sent as they are
    path: str = "/v1/chat/completions"
    host: str = "api.openai.com"
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # pytest prints test arguments: the id only, never the planted values
        return f"Case({self.id})"

    def content(self) -> bytes | None:
        if self.body is None:
            return None
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


def chat(*messages: object, **top: object) -> dict:
    """A chat request; the last message is a plain user one (the fake upstream echoes it)."""
    return {"model": "gpt-4o-mini", "messages": [*messages, {"role": "user", "content": "Please help."}], **top}


def user(content: object, **extra: object) -> dict:
    return {"role": "user", "content": content, **extra}


def ant(*messages: object, **top: object) -> dict:
    return {"model": "claude-test", "max_tokens": 64,
            "messages": [*messages, {"role": "user", "content": "Please help."}], **top}


ANT = {"host": "api.anthropic.com", "path": "/v1/messages", "headers": {"anthropic-version": "2023-06-01"}}
TOOL_CALL = lambda args: {"role": "assistant", "content": None, "tool_calls": [  # noqa: E731
    {"id": "call_1", "type": "function", "function": {"name": "save_note", "arguments": args}}]}
TOOL_REPLY = {"role": "tool", "tool_call_id": "call_1", "content": "saved"}
TOOL_PARAMS = {"type": "object", "properties": {"note": {"type": "string"}}}


def _entities(text: str) -> str:
    return "".join(f"&#{ord(c)};" if c.isdigit() else c for c in text)


def _u_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _digits(text: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in text)


def _compressed(encoding: str) -> Case:
    raw = json.dumps(chat(user(ALL_T))).encode()
    data = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress}[encoding](raw)
    return Case(f"encoding-body-{encoding}", data, headers={"content-encoding": encoding})


CLEAN_CHAT = chat(user("Hello there."))
CYRILLIC_NAME = "Маriа Lореz"  # Cyrillic М, а, о, р, е among Latin letters
U_ESCAPED_BODY = (
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
    + "SSN " + _u_escaped(SSN) + ", call " + _u_escaped(PHONE) + ", " + _u_escaped(NAME) + ", " + _u_escaped(EMAIL)
    + '"},{"role":"user","content":"Please help."}]}'
).encode()

CASES = [
    # -- OpenAI chat completions
    Case("chat-content-as-object", chat(user({"text": ALL_T}))),
    Case("chat-message-bare-string", chat(ALL_T)),
    Case("chat-message-unknown-key", chat(user("Hello.", x_note=ALL_T, x_meta={"who": NAME_T}))),
    Case("chat-message-name-field", chat(user("Hello.", name="Maria_Lopez_555-123-4567"))),
    Case("chat-content-part-unknown-key", chat(user([{"type": "text", "text": "Hello.", "x_note": ALL_T,
                                                      "annotations": [{"quote": SSN_T}]}]))),
    Case("chat-top-safety_identifier", chat(user("Hello."), safety_identifier=EMAIL)),
    Case("chat-top-prompt_cache_key", chat(user("Hello."), prompt_cache_key=f"{EMAIL} {SSN_T}")),
    Case("chat-top-stop-list", chat(user("Hello."), stop=[SSN_T, PHONE_T, EMAIL])),
    Case("chat-top-metadata-values", chat(user("Hello."), metadata={"patient": NAME_T, "ssn": SSN_T, "mail": EMAIL})),
    Case("chat-top-made-up-field", chat(user("Hello."), x_notes=ALL_T)),
    Case("chat-top-user", chat(user("Hello."), user=EMAIL)),
    Case("chat-tool-description", chat(user("Hello."), tools=[
        {"type": "function", "function": {"name": "save_note", "description": ALL_T, "parameters": TOOL_PARAMS}}])),
    Case("chat-tool-schema-description-enum-default", chat(user("Hello."), tools=[
        {"type": "function", "function": {"name": "save_note", "parameters": {
            "type": "object", "description": SSN_T,
            "properties": {"phone": {"type": "string", "description": PHONE_T, "enum": [PHONE, EMAIL], "default": SSN_T}}}}}])),
    Case("chat-number-in-metadata", chat(user("Hello."), metadata={"ssn": 123456789, "phone": 4155550142})),
    Case("chat-number-in-tool-arguments", chat(TOOL_CALL('{"ssn": 123456789, "phone": 4155550142}'), TOOL_REPLY)),
    Case("chat-tool-arguments-duplicate-key", chat(TOOL_CALL('{"note": "clean", "note": "' + SSN_T + '"}'), TOOL_REPLY)),
    Case("chat-body-duplicate-key", (
        '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello."}],'
        '"user":"x","user":"' + f"{SSN_T} {EMAIL}" + '"}').encode()),
    Case("chat-phi-in-object-key", chat(user("Hello."), metadata={EMAIL: "v", SSN_T: "w"})),
    Case("chat-phi-in-model", {**chat(user("Hello.")), "model": f"ft:gpt-4o-mini:{EMAIL}::{PHONE}"}),
    Case("chat-tool-message-content", chat(TOOL_CALL('{"note": "x"}'), {"role": "tool", "tool_call_id": "call_1", "content": ALL_T})),
    Case("chat-stream-made-up-field", chat(user("Hello."), stream=True, x_notes=ALL_T)),
    # -- OpenAI Responses
    Case("responses-input-nested-lists", {"model": "gpt-4o-mini", "input": [[user(ALL_T)], [SSN_T, [PHONE_T, [EMAIL]]]]},
         "/v1/responses"),
    Case("responses-item-reference-id", {"model": "gpt-4o-mini", "input": [
        {"type": "item_reference", "id": f"msg_{EMAIL}"}, {"type": "item_reference", "id": f"msg_{PHONE}"}, user("Hello.")]},
         "/v1/responses"),
    Case("responses-previous_response_id", {"model": "gpt-4o-mini", "input": "Hello.",
                                            "previous_response_id": f"resp_{EMAIL}_{PHONE}"}, "/v1/responses"),
    Case("responses-instructions", {"model": "gpt-4o-mini", "input": "Hello.", "instructions": ALL_T}, "/v1/responses"),
    Case("responses-text-format-schema", {"model": "gpt-4o-mini", "input": "Hello.", "text": {"format": {
        "type": "json_schema", "name": "note", "description": SSN_T, "schema": {
            "type": "object", "description": ALL_T,
            "properties": {"phone": {"type": "string", "description": PHONE_T, "enum": [PHONE]}}}}}}, "/v1/responses"),
    # -- Anthropic messages
    Case("anthropic-tool_result-content-object", ant(
        user("Look it up."),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]},
        user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": {"text": ALL_T}}])), **ANT),
    Case("anthropic-redacted_thinking-data", ant(
        user("Hello."), {"role": "assistant", "content": [{"type": "redacted_thinking", "data": ALL_T},
                                                          {"type": "text", "text": "Noted."}]}), **ANT),
    Case("anthropic-web_search_tool_result", ant(
        user("Search."),
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": SSN_T}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                {"type": "web_search_result", "url": f"https://example.com/{EMAIL}", "title": NAME_T,
                 "encrypted_content": ALL_T, "page_age": None, "text": ALL_T}]},
            {"type": "text", "text": "Found it."}]}), **ANT),
    Case("anthropic-stop_sequences", ant(user("Hello."), stop_sequences=[SSN_T, PHONE_T, EMAIL]), **ANT),
    Case("anthropic-system-blocks-extra-keys", ant(user("Hello."), system=[
        {"type": "text", "text": "You help.", "x_note": ALL_T, "cache_control": {"type": "ephemeral", "x_note": SSN_T}}]), **ANT),
    Case("anthropic-metadata-user_id", ant(user("Hello."), metadata={"user_id": EMAIL}), **ANT),
    Case("anthropic-tool-input_schema-description", ant(user("Hello."), tools=[
        {"name": "save_note", "description": "save", "input_schema": {
            "type": "object", "description": ALL_T, "properties": {"n": {"type": "string", "description": SSN_T}}}}]), **ANT),
    # -- embeddings / legacy completions
    Case("embeddings-input-nested-lists", {"model": "text-embedding-3-small", "input": [[SSN_T, [PHONE_T]], [EMAIL, [[ALL_T]]]]},
         "/v1/embeddings"),
    Case("completions-prompt-list", {"model": "gpt-3.5-turbo-instruct", "prompt": [ALL_T, SSN_T]}, "/v1/completions"),
    # -- an endpoint nobody described
    Case("generic-unknown-endpoint-nested", {"a": {"b": [{"c": ALL_T}, [[{"d": [SSN_T]}]]], "ssn": 123456789}, "e": EMAIL},
         "/v1/some/new/endpoint"),
    # the SSN is detected in the text; the same digits as a number under a key without a cue must not leave either
    Case("generic-number-repeats-detected-ssn", {"note": SSN_T, "n": 123456789}, "/v1/some/new/endpoint"),
    # -- URL path and query
    Case("url-path-segment-email", None, f"/v1/files/{EMAIL}", method="GET"),
    Case("url-path-segment-ssn", CLEAN_CHAT, f"/v1/chat/completions/{SSN}"),
    Case("url-path-segment-percent-encoded", None, "/v1/files/" + quote(f"{NAME} {PHONE}"), method="GET"),
    Case("url-query-user", CLEAN_CHAT, "/v1/chat/completions?user=" + quote(EMAIL) + "&note=" + quote(SSN_T)),
    Case("url-query-api-version-dob-shaped", CLEAN_CHAT, f"/v1/chat/completions?api-version={DOB}"),
    Case("url-query-name-holds-phi", CLEAN_CHAT, "/v1/chat/completions?" + quote(EMAIL) + "=1"),
    Case("url-query-on-get", None, "/v1/models?user=" + quote(ALL_T), method="GET"),
    # -- request headers
    Case("header-unknown-x-patient", CLEAN_CHAT, headers={"X-Patient": ALL_T}),
    Case("header-user-agent", CLEAN_CHAT, headers={"User-Agent": f"agent/1.0 ({EMAIL}; {SSN_T})"}),
    Case("header-openai-organization", CLEAN_CHAT, headers={"OpenAI-Organization": EMAIL}),
    Case("header-on-get", None, "/v1/models", method="GET", headers={"X-Patient": ALL_T}),
    # -- encodings
    _compressed("gzip"),
    _compressed("br"),
    _compressed("zstd"),
    Case("encoding-base64-in-content", chat(user("Attachment (base64): " + base64.b64encode(ALL_T.encode()).decode()))),
    Case("encoding-percent-in-content", chat(user("note=" + quote(ALL_T)))),
    Case("encoding-html-entity-digits", chat(user(f"SSN {_entities(SSN)}, call {_entities(PHONE)}."))),
    Case("encoding-json-u-escapes", U_ESCAPED_BODY),
    Case("encoding-fullwidth-digits", chat(user(f"SSN {_digits(SSN, '０')}, call {_digits(PHONE, '０')}."))),
    Case("encoding-arabic-indic-digits", chat(user(f"SSN {_digits(SSN, '٠')}, call {_digits(PHONE, '٠')}."))),
    Case("encoding-cyrillic-homoglyph-name", chat(user(f"Patient {CYRILLIC_NAME} asks for a refill."))),
    Case("encoding-zero-width-in-ssn", chat(user("SSN 1\u200b2\u200b3-45-6789, call 555\u200b-123-4567."))),
    # -- token look-alikes nobody minted
    Case("fake-token-next-to-ssn", chat(user(f"MSKV1.SSN.K_HEALTHCARE.{B32} {SSN_T}; MSKV1.SSN.K_HEALTHCARE.{B32}{SSN_T}"))),
    Case("fake-token-kind-carries-name", chat(user(f"See MSKV1.MARIA_LOPEZ.K_HEALTHCARE.{B32} now."))),
    Case("fake-token-kid-carries-digits", chat(user(f"See MSKV1.SSN.K_123456789.{B32} and MSKV1.PHONE.K_5551234567.{B32}."))),
    Case("fake-aead-token-base32-of-value", chat(user(
        "See MSK1.SSN.K_HEALTHCARE." + base64.b32encode(f"{SSN_T} {EMAIL}".encode()).decode().rstrip("=") + " now."))),
]


def _session(prefix: str = "leak") -> str:
    """Letters only: Masker refuses a session id that holds an identifier, and
    random hex digits sometimes look like one (a refusal would hide the case)."""
    return f"{prefix}-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def send(sc, bundle, case: Case, session: str | None = None) -> httpx.Response:
    headers = {"x-masker-session": session or _session(), **case.headers}
    if case.body is not None:
        headers.setdefault("content-type", "application/json")
    with httpx.Client(proxy=sc.url, verify=str(bundle), timeout=30, trust_env=False) as c:
        return c.request(case.method, f"https://{case.host}{case.path}", content=case.content(), headers=headers)


def _as_received(case: Case):
    from tests.e2e.fake_upstream import Received

    return Received(case.host, case.method, case.path, case.headers, case.content() or b"")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_plants_a_detectable_value(case):
    """No vacuous case: the detector finds the planted values in what the client sends."""
    assert leaks([_as_received(case)]), "the case plants nothing the leak check can see"


def test_leak_check_sees_what_a_tunnel_passes(sidecar, upstream, upstream_certs):
    """The control: other.example is no LLM host, so the sidecar tunnels it
    untouched; the recording upstream and the leak check must report every
    planted kind, in every encoding the matrix uses."""
    encoded = {
        "plain": ALL_T, "base64": base64.b64encode(ALL_T.encode()).decode(), "percent": quote(ALL_T),
        "entities": _entities(SSN), "fullwidth": _digits(PHONE, "０"), "arabic": _digits(SSN, "٠"),
        "cyrillic": CYRILLIC_NAME, "zero-width": "1\u200b2\u200b3-45-6789",
        "aead-token": "MSK1.EMAIL.K_HEALTHCARE." + base64.b32encode(EMAIL.encode()).decode().rstrip("="),
        "kind-part": f"MSKV1.MARIA_LOPEZ.K_HEALTHCARE.{B32}",
    }
    every = {"NAME", "SSN", "PHONE", "EMAIL"}
    expected = {"plain": every, "base64": every, "percent": every, "entities": {"SSN"}, "fullwidth": {"PHONE"},
                "arabic": {"SSN"}, "cyrillic": {"NAME"}, "zero-width": {"SSN"}, "aead-token": {"EMAIL"},
                "kind-part": {"NAME"}}
    with httpx.Client(proxy=sidecar.url, verify=str(upstream_certs[0]), trust_env=False, timeout=20) as c:
        for name, text in encoded.items():
            upstream.received.clear()
            r = c.post("https://other.example/v1/echo", json={"x": text})
            assert r.status_code == 200 and len(upstream.received) == 1
            found = {x.split("@", 1)[0] for x in leaks(upstream.received)}
            assert found >= expected[name], f"{name}: leak check missed {sorted(expected[name] - found)}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_planted_value_reaches_upstream(sidecar, bundle, upstream, case):
    resp = send(sidecar, bundle, case)
    assert_no_leak(upstream)
    assert_json_answer(resp, upstream)


# -- reverse mode (``masker run``, base_url): the same carriers outside the body
REVERSE_CASES = [
    Case("reverse-url-path-segment-email", None, f"/proxy/leak-bot/v1/files/{EMAIL}", method="GET"),
    Case("reverse-url-query-user", CLEAN_CHAT, "/proxy/leak-bot/v1/chat/completions?user=" + quote(ALL_T)),
    Case("reverse-header-x-patient", CLEAN_CHAT, "/v1/chat/completions", headers={"X-Patient": ALL_T}),
    Case("reverse-chat-top-made-up-field", chat(user("Hello."), x_notes=ALL_T), "/v1/chat/completions"),
]


@pytest.mark.parametrize("case", REVERSE_CASES, ids=[c.id for c in REVERSE_CASES])
def test_no_planted_value_reaches_upstream_reverse_mode(reverse_sidecar, upstream, case):
    headers = {"x-masker-session": _session(), **case.headers}
    if case.body is not None:
        headers["content-type"] = "application/json"
    with httpx.Client(timeout=30, trust_env=False) as c:
        resp = c.request(case.method, f"{reverse_sidecar.url}{case.path}", content=case.content(), headers=headers)
    assert_no_leak(upstream)
    assert_json_answer(resp, upstream)


# -- a genuine token of one session, sent in another
def test_token_minted_in_session_a_sent_in_session_b(sidecar, bundle, upstream):
    alice, bob = _session(), _session()
    first = send(sidecar, bundle, Case("a", chat(user(f"Note: {SSN_T}."))), alice)
    assert_no_leak(upstream)
    assert_json_answer(first, upstream)
    tokens = TOKEN_RE_TEXT.findall(upstream.received[-1].body.decode()) if upstream.received else []
    if first.status_code != 200 or not tokens:
        pytest.skip("session A's request was refused or carried no token: nothing to replay")
    upstream.received.clear()
    resp = send(sidecar, bundle, Case("b", chat(user(f"Earlier note: {tokens[0]}; {PHONE_T}."))), bob)
    assert_no_leak(upstream)
    assert_json_answer(resp, upstream)
    # the upstream echoes bob's text: alice's token must not come back to bob as her value
    assert "SSN" not in kinds_in(resp.text), "session A's value handed to session B"


# -- Realtime WebSocket
REALTIME_CASES = {
    "realtime-item-unknown-extra-fields": json.dumps({
        "type": "conversation.item.create", "x_top": EMAIL,
        "item": {"type": "message", "role": "user", "x_extra": SSN_T,
                 "content": [{"type": "input_text", "text": "Hello.", "x_note": ALL_T}]}}),
    "realtime-session-update-instructions": json.dumps({
        "type": "session.update", "session": {"type": "realtime", "instructions": ALL_T}}),
    "realtime-unknown-event-type": json.dumps({"type": "x.custom.event", "payload": {"note": ALL_T}}),
    "realtime-duplicate-key": (
        '{"type":"conversation.item.create","item":{"type":"message","role":"user",'
        '"content":[{"type":"input_text","text":"Hello."}]},"x":"clean","x":"' + f"{SSN_T} {EMAIL}" + '"}'),
    "realtime-item-id-holds-phi": json.dumps({
        "type": "conversation.item.create", "previous_item_id": f"item_{EMAIL}",
        "item": {"id": f"item_{PHONE}", "type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": "Hello."}]}}),
}


def _recv_until_quiet(ws, seconds: float = 2.0, first: float | None = None) -> tuple[list[str], bool]:
    """Server messages until none comes for ``seconds`` (``first`` for the first
    one), or the connection closes: (messages, closed)."""
    got: list[str] = []
    while True:
        try:
            msg = ws.recv(timeout=first if first is not None and not got else seconds)
        except TimeoutError:
            return got, False
        except ConnectionClosed:
            return got, True
        got.append(msg if isinstance(msg, str) else msg.decode("utf-8", "replace"))


def _ws_via_proxy(sidecar, bundle, session: str):
    """A Realtime WebSocket through the sidecar: CONNECT (agent ``voice-bot`` in
    Proxy-Authorization), TLS with the Masker bundle, then the upgrade. Done by
    hand rather than with websockets' own proxy support, which now and then
    stalled the whole open timeout in this suite."""
    sock = socket.create_connection(("127.0.0.1", sidecar.port), timeout=20)
    try:
        auth = base64.b64encode(b"voice-bot:x").decode()
        sock.sendall(f"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n"
                     f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "the proxy closed the CONNECT"
            head += chunk
        assert head.split(b" ", 2)[1] == b"200", "CONNECT refused"
        tls = ssl.create_default_context(cafile=str(bundle)).wrap_socket(sock, server_hostname="api.openai.com")
        # blocking, as websockets leaves the sockets it opens itself: its reader thread and the writer share this
        # TLS socket, and left in timeout mode from create_connection the upgrade now and then never came back
        tls.settimeout(None)
        # ws:// over the TLS socket already made: websockets must not wrap it again
        return ws_connect("ws://api.openai.com/v1/realtime?model=gpt-realtime", sock=tls, proxy=None, open_timeout=20,
                          additional_headers={"x-masker-session": session, "authorization": "Bearer sk-test"})
    except BaseException:
        sock.close()
        raise


@pytest.mark.parametrize("name", list(REALTIME_CASES))
def test_no_planted_value_reaches_upstream_realtime(sidecar, bundle, upstream, name):
    event = REALTIME_CASES[name]
    try:
        ws = _ws_via_proxy(sidecar, bundle, _session("rt"))
    except InvalidStatus as e:  # refused at the upgrade: a Masker JSON error, nothing upstream
        assert error_shape(httpx.Response(e.response.status_code, headers=dict(e.response.headers),
                                          content=bytes(e.response.body or b""))) is None
        assert_no_leak(upstream)
        return
    with ws:
        first, closed = _recv_until_quiet(ws, 0.3, first=10.0)
        assert closed or [json.loads(m).get("type") for m in first][:1] == ["session.created"]
        if not closed:
            try:
                ws.send(event)
            except ConnectionClosed:
                closed = True
            got, closed = _recv_until_quiet(ws) if not closed else ([], True)
            for m in got:  # every server message is a JSON event (an ``error`` event for a refusal)
                doc = json.loads(m)
                assert isinstance(doc, dict) and isinstance(doc.get("type"), str), "non-JSON server message"
    assert_no_leak(upstream)


def test_sidecar_log_and_journal_carry_no_planted_value(sidecar, reverse_sidecar):
    """Runs last in this file: every case above went through these sidecars;
    what Masker wrote about them (its log, its journal) holds no planted value."""
    for name, sc in (("regular", sidecar), ("reverse", reverse_sidecar)):
        assert kinds_in(sc.log_text()) == [], f"{name} sidecar log"
        assert kinds_in(json.dumps(sc.journal(), ensure_ascii=False)) == [], f"{name} sidecar journal"
