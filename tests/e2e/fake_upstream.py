"""A fake OpenAI / Anthropic HTTPS server for end-to-end tests.

Records every request it receives (for "no PHI upstream" assertions) and
answers by echoing the last user text back (or the previous request's, see
REPLAY_PREVIOUS), so tokens it received come back and rehydration is exercised: non-streaming and SSE, with tool calls,
splitting text into small SSE events (tokens split across events) and some
events across separate TCP writes.

``GET /v1/realtime`` with ``Upgrade: websocket`` is an OpenAI Realtime
session (RFC 6455 framing by ``wsproto``): every client message is recorded
(method ``WS``), and ``response.create`` answers with the last
``conversation.item.create`` text echoed in PIECE-sized deltas, then the
``.done`` events carrying the full text (see ``_RealtimeSession``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.utilities import LocalProtocolError, generate_accept_token

HOSTNAMES = ("api.openai.com", "api.anthropic.com", "other.example", "localhost")
PIECE = 5  # characters per streamed text delta: every token spans several events
# A user text holding this word is answered with the PREVIOUS request's user
# text: a provider (or agent memory) that hands one session's content to another.
REPLAY_PREVIOUS = "replay-previous"  # lower case: the NER pass takes REPLAY_PREVIOUS for a name
HANDSHAKE_TIMEOUT_S = 10.0  # a peer that has not finished its TLS handshake by then is dropped


@dataclass
class Received:
    host: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)  # every header, repeats included


def make_ca_and_leaf(directory: Path) -> tuple[Path, Path, Path]:
    """Self-made CA and a leaf for HOSTNAMES + 127.0.0.1. Returns (ca_cert, leaf_cert, leaf_key)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake upstream test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(h) for h in HOSTNAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.openai.com")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "upstream-ca.pem", directory / "upstream.pem", directory / "upstream-key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def _last_user_text(body: object) -> str:
    """The text to echo; "" for a body of any other shape (tests send odd shapes on purpose)."""
    if not isinstance(body, dict):
        return ""
    msgs = body.get("messages")
    for m in reversed(msgs if isinstance(msgs, list) else []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            parts = c if isinstance(c, list) else []
            return " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    return str(body.get("input", ""))


def _pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    server: "FakeUpstream"

    def log_message(self, *args) -> None:  # quiet: bodies may hold test PHI
        pass

    def _read(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            out = bytearray()
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                out += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return bytes(out)
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        self._record(b"")
        if self.headers.get("upgrade", "").lower() == "websocket":
            return self._websocket()
        self._json(200, {"object": "list", "data": [{"id": "gpt-test", "object": "model"}]})

    def do_POST(self) -> None:
        raw = self._read()
        self._record(raw)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._json(400, {"error": {"message": "bad json upstream"}})
        path = self.path.split("?", 1)[0]
        user = _last_user_text(body)
        if REPLAY_PREVIOUS in user:
            user = self.server.previous_user_text
        else:
            self.server.previous_user_text = user
        text = "Echo: " + user
        try:
            if path.endswith("/chat/completions"):
                return self._openai(body, text)
            if path.endswith("/messages"):
                return self._anthropic(body, text)
        except (AttributeError, KeyError, TypeError):
            return self._json(200, {"echo": ""})  # a shape the echo logic does not know
        self._json(200, {"echo": text})

    def _record(self, raw: bytes, method: str | None = None) -> None:
        self.server.received.append(Received(self.headers.get("host", ""), method or self.command, self.path,
                                             dict(self.headers), raw, list(self.headers.items())))

    # -- OpenAI Realtime (WebSocket)
    def _websocket(self) -> None:
        self.close_connection = True
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", generate_accept_token(self.headers["sec-websocket-key"].encode()).decode())
        self.end_headers()
        self.wfile.flush()
        ws = Connection(ConnectionType.SERVER)
        session = _RealtimeSession(lambda doc: self.wfile.write(ws.send(TextMessage(json.dumps(doc)))))
        session.start()
        parts: list[str] = []
        while True:
            data = self.rfile.read1(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, CloseConnection):
                    with contextlib.suppress(LocalProtocolError):  # the peer may have closed already
                        self.wfile.write(ws.send(event.response()))
                    return
                if isinstance(event, Ping):
                    self.wfile.write(ws.send(event.response()))
                elif isinstance(event, BytesMessage):
                    self._record(bytes(event.data), "WS")
                elif isinstance(event, Message):
                    parts.append(event.data)
                    if event.message_finished:
                        text, parts = "".join(parts), []
                        self._record(text.encode(), "WS")
                        session.on_client_event(text)
            if not data:
                return

    # -- plumbing
    def _json(self, status: int, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse_start(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._n = 0

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, data: str, event: str | None = None) -> None:
        raw = (f"event: {event}\n" if event else "").encode() + f"data: {data}\n\n".encode()
        self._n += 1
        if self._n % 3 == 0:  # every third event goes out in two TCP writes
            cut = len(raw) // 2
            self._chunk(raw[:cut])
            time.sleep(0.002)
            self._chunk(raw[cut:])
        else:
            self._chunk(raw)

    def _sse_end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- OpenAI chat completions
    def _openai(self, body: dict, text: str) -> None:
        tool = (body.get("tools") or [None])[0]
        args = json.dumps({"note": text}) if tool else None
        name = tool["function"]["name"] if tool else None
        if not body.get("stream"):
            msg: dict = {"role": "assistant", "content": text}
            if tool:
                msg["tool_calls"] = [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}]
            return self._json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body.get("model", "gpt-test"),
                "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if tool else "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })
        self._sse_start()
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": body.get("model", "gpt-test")}

        def chunk(delta: dict, finish: str | None = None) -> None:
            self._event(json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))

        chunk({"role": "assistant", "content": ""})
        for p in _pieces(text):
            chunk({"content": p})
        if tool:
            chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}]})
            for p in _pieces(args):
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
        chunk({}, "tool_calls" if tool else "stop")
        self._event("[DONE]")
        self._sse_end()

    # -- Anthropic messages
    def _anthropic(self, body: dict, text: str) -> None:
        tool = (body.get("tools") or [None])[0]
        model = body.get("model", "claude-test")
        usage = {"input_tokens": 1, "output_tokens": 1}
        if not body.get("stream"):
            content: list[dict] = [{"type": "text", "text": text}]
            if tool:
                content.append({"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {"note": text}})
            return self._json(200, {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": content,
                                    "stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None, "usage": usage})
        self._sse_start()

        def ev(name: str, doc: dict) -> None:
            self._event(json.dumps({"type": name, **doc}), event=name)

        ev("message_start", {"message": {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
                                         "stop_reason": None, "stop_sequence": None, "usage": usage}})
        ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for p in _pieces(text):
            ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
        ev("content_block_stop", {"index": 0})
        if tool:
            ev("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {}}})
            for p in _pieces(json.dumps({"note": text})):
                ev("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": p}})
            ev("content_block_stop", {"index": 1})
        ev("message_delta", {"delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 1}})
        ev("message_stop", {})
        self._sse_end()


class _RealtimeSession:
    """The server side of one fake Realtime session (GA event names).

    ``response.create`` with ``output_modalities: ["audio"]`` answers with
    ``response.output_audio_transcript.*`` plus one binary audio delta; with
    the beta ``modalities: ["audio", ...]`` with ``response.audio_transcript.*``;
    otherwise with ``response.output_text.*``.
    """

    def __init__(self, send: Callable[[dict], object]) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self._last_text = ""

    def start(self) -> None:
        self._send({"type": "session.created", "event_id": self._id("ev"), "session": {"id": "sess_1", "type": "realtime", "object": "realtime.session"}})

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def on_client_event(self, text: str) -> None:
        try:
            obj = json.loads(text)
        except ValueError:
            return self._send({"type": "error", "event_id": self._id("ev"), "error": {"type": "invalid_request_error", "message": "not JSON"}})
        kind = obj.get("type")
        if kind == "session.update":
            self._send({"type": "session.updated", "event_id": self._id("ev"), "session": obj.get("session") or {}})
        elif kind == "conversation.item.create":
            item = {**obj.get("item", {}), "id": self._id("item"), "object": "realtime.item", "status": "completed"}
            self._last_text = " ".join(c.get("text", "") for c in item.get("content", []) if isinstance(c, dict))
            self._send({"type": "conversation.item.added", "event_id": self._id("ev"), "previous_item_id": None, "item": item})
        elif kind == "response.create":
            self._respond(obj.get("response") or {})

    def _respond(self, request: dict) -> None:
        text = "Echo: " + self._last_text
        audio = "audio" in (request.get("output_modalities") or request.get("modalities") or [])
        beta = "modalities" in request
        prefix = ("response.audio_transcript" if beta else "response.output_audio_transcript") if audio else "response.output_text"
        part_type, field = ("audio", "transcript") if audio else ("output_text", "text")
        resp_id, item_id = self._id("resp"), self._id("item")
        coords = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        part = {"type": part_type, field: text}
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant", "status": "completed", "content": [part]}
        response = {"id": resp_id, "object": "realtime.response", "status": "completed", "output": [item]}

        def ev(kind: str, **doc) -> None:
            self._send({"type": kind, "event_id": self._id("ev"), **doc})

        ev("response.created", response={**response, "status": "in_progress", "output": []})
        ev("response.output_item.added", response_id=resp_id, output_index=0, item={**item, "status": "in_progress", "content": []})
        ev("response.content_part.added", **coords, part={"type": part_type, field: ""})
        if audio:
            ev(("response.audio.delta" if beta else "response.output_audio.delta"), **coords, delta=base64.b64encode(b"\0\1" * 8).decode())
        for piece in _pieces(text):
            ev(prefix + ".delta", **coords, delta=piece)
        ev(prefix + ".done", **coords, **{field: text})
        ev("response.content_part.done", **coords, part=part)
        ev("response.output_item.done", response_id=resp_id, output_index=0, item=item)
        ev("response.done", response=response)


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []
        self.previous_user_text = ""
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def get_request(self) -> tuple[ssl.SSLSocket, object]:
        """Accept plain TCP and defer the TLS handshake to the connection's own
        thread: with a TLS-wrapped listening socket the handshake ran inside
        ``accept`` on the serving thread, so one peer slow to finish it held up
        every other connection (a WebSocket upgrade timed out behind it)."""
        sock, addr = self.socket.accept()
        return self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: ssl.SSLSocket, client_address: object) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):  # a peer that gave up or spoke no TLS: only its own thread ends
            return
        request.settimeout(None)
        super().finish_request(request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> "FakeUpstream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def bodies(self) -> bytes:
        return b"\n".join(r.body for r in self.received)
