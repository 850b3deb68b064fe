"""A fake OpenAI / Anthropic HTTPS server for end-to-end tests.

Records every request it receives (for "no PHI upstream" assertions) and
answers by echoing the last user text back (or the previous request's, see
REPLAY_PREVIOUS), so tokens it received come back and rehydration is exercised: non-streaming and SSE, with tool calls,
splitting text into small SSE events (tokens split across events) and some
events across separate TCP writes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOSTNAMES = ("api.openai.com", "api.anthropic.com", "other.example", "localhost")
PIECE = 5  # characters per streamed text delta: every token spans several events
# A user text holding this word is answered with the PREVIOUS request's user
# text: a provider (or agent memory) that hands one session's content to another.
REPLAY_PREVIOUS = "replay-previous"  # lower case: the NER pass takes REPLAY_PREVIOUS for a name


@dataclass
class Received:
    host: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


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


def _last_user_text(body: dict) -> str:
    msgs = body.get("messages") or []
    for m in reversed(msgs):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
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
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        self._record(b"")
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
        if path.endswith("/chat/completions"):
            return self._openai(body, text)
        if path.endswith("/messages"):
            return self._anthropic(body, text)
        self._json(200, {"echo": text})

    def _record(self, raw: bytes) -> None:
        self.server.received.append(Received(self.headers.get("host", ""), self.command, self.path, dict(self.headers), raw))

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


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []
        self.previous_user_text = ""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

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
