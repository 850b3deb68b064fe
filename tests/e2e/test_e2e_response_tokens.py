"""No raw token ever reaches the client, whatever shape the upstream answers in.

Through the real proxy and the real engine: the prompt's PHI is masked into
tokens, and ``ShapeUpstream`` (a raw TLS server in this file, reached through
a test-only ``server_connect`` redirect) answers with those tokens in shapes
the parsed paths do not cover: JSON without a content type, tokens in JSON
keys, under opaque keys and in headers, text and binary bodies with invalid
UTF-8 around a token, SSE ``event:``/``id:``/comment lines and data that is
not JSON, streams that end or break off mid-token, and tokens of another
session. The client must get the caller's values back and never a
token-shaped string (nor a token's first characters when a stream is cut).

Assertions never print a body: they compare, count tokens or name kinds.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
import types
import uuid
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from masker.tokens.scheme import TOKEN_RE
from tests.e2e.fake_upstream import make_ca_and_leaf
from tests.e2e.phi import CALL, values_in
from tests.e2e.sidecar import E2E, REAL_ENGINE, free_port, mitmdump_cmd, request_events, start_sidecar

pytestmark = pytest.mark.timeout(120)

URL = "https://api.openai.com/v1/chat/completions"
NAME, PHONE = "Maria Lopez", "555-123-4567"  # in CALL; the real engine tokenizes both
Answer = Callable[[dict[str, str]], list[bytes | float | None]]


class ShapeUpstream:
    """Reads one request per connection, keeps the tokens it holds (by kind) and
    answers with ``answer(tokens)``: byte strings written one by one (a float
    sleeps that long, ``None`` drops the connection at once, without ending
    the body); the connection is closed after the last item."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer: Answer = lambda tokens: [http_response(b"{}", "application/json")]
        self.tokens: list[dict[str, str]] = []  # per request, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> "ShapeUpstream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    data = tls.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, body = buf.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += tls.recv(65536)
                tokens = {m["kind"]: m.group() for m in TOKEN_RE.finditer(body.decode("utf-8", "replace"))}
                self.tokens.append(tokens)
                for item in self.answer(tokens):
                    if item is None:  # drop: no end of body, no TLS close_notify (a reset)
                        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        tls.close()
                        return
                    if isinstance(item, float):
                        time.sleep(item)
                    else:
                        tls.sendall(item)
        except (OSError, ValueError):
            pass


def http_response(body: bytes, content_type: str | None, headers: dict[str, str] | None = None) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"content-length: %d" % len(body), b"connection: close"]
    if content_type is not None:
        head.append(b"content-type: " + content_type.encode())
    head += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def sse_head(chunked: bool = True) -> bytes:
    framing = b"transfer-encoding: chunked\r\n" if chunked else b""
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n" + framing + b"\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


END = b"0\r\n\r\n"

REDIRECT = '''
def server_connect(data) -> None:
    addr = data.server.address
    if addr and addr[0] == "api.openai.com":
        data.server.sni = "api.openai.com"
        data.server.address = ("127.0.0.1", {port})
'''


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Iterator[tuple[ShapeUpstream, Path]]:
    ca, cert, key = make_ca_and_leaf(tmp_path_factory.mktemp("shape-ca"))
    server = ShapeUpstream(cert, key).start()
    yield server, ca
    server.stop()


@pytest.fixture(scope="module")
def shape_sidecar(tmp_path_factory, shapes, sidecar) -> Iterator:
    """The real engine, its upstream redirected to ``ShapeUpstream`` (the CA shared with ``sidecar``)."""
    server, ca = shapes
    data_dir = tmp_path_factory.mktemp("shape-sidecar")
    addon = data_dir / "shape_redirect.py"
    addon.write_text(REDIRECT.format(port=server.port))
    port = free_port()
    cmd = mitmdump_cmd(port, data_dir, ca, REAL_ENGINE, confdir=sidecar.data_dir / "ca")
    cmd[cmd.index(str(E2E / "redirect_addon.py"))] = str(addon)
    with start_sidecar(cmd, data_dir, port, types.SimpleNamespace(port=server.port), reverse=False) as sc:
        yield sc


def _session() -> str:
    return f"rt-{uuid.uuid4().hex[:12]}"


def ask(sc, bundle, session: str, *, stream: bool = False) -> tuple[int, dict[str, str], bytes, Exception | None]:
    """POST the CALL prompt; (status, headers, raw body bytes as received, the error that cut it off)."""
    doc = {"model": "gpt-test", "stream": stream, "messages": [{"role": "user", "content": CALL}]}
    got, err, status, headers = b"", None, 0, {}
    with httpx.Client(proxy=sc.url, verify=str(bundle), timeout=30, trust_env=False) as c:
        try:
            with c.stream("POST", URL, content=json.dumps(doc).encode(),
                          headers={"content-type": "application/json", "x-masker-session": session}) as r:
                status, headers = r.status_code, dict(r.headers)
                for part in r.iter_raw():
                    got += part
        except httpx.HTTPError as e:
            err = e
    return status, headers, got, err


def token_count(data: bytes | str) -> int:
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    return sum(1 for _ in TOKEN_RE.finditer(text))


def kinds_in(data: bytes) -> list[str]:
    return sorted(values_in(data.decode("utf-8", "replace")))


def assert_clean(data: bytes) -> None:
    n = token_count(data)
    assert n == 0, f"{n} token-shaped string(s) reached the client"
    partial = data.count(b"MSKV1.") + data.count(b"MSK1.")
    assert partial == 0, f"{partial} token fragment(s) reached the client"


def test_the_shape_sidecar_masks_what_it_forwards(shape_sidecar, shapes, bundle):
    server, _ = shapes
    server.answer = lambda t: [http_response(json.dumps({"echo": t["NAME"]}).encode(), "application/json")]
    status, _, body, _ = ask(shape_sidecar, bundle, _session())
    assert status == 200 and set(server.tokens[-1]) >= {"NAME", "PHONE"}
    assert kinds_in(body) == ["NAME"]
    assert_clean(body)


def test_json_without_content_type_with_tokens_in_keys_opaque_keys_and_headers(shape_sidecar, shapes, bundle):
    server, _ = shapes

    def answer(t: dict[str, str]) -> list:
        doc = {t["NAME"]: {"signature": t["PHONE"], "content": "call " + t["NAME"]},
               "b64_json": t["PHONE"], "audio": {"transcript": t["NAME"]}}
        return [http_response(json.dumps(doc).encode(), None, {"x-note": "for " + t["NAME"]})]

    server.answer = answer
    sid = _session()
    status, headers, body, _ = ask(shape_sidecar, bundle, sid)
    assert status == 200
    assert_clean(body)
    doc = json.loads(body)
    keys_ok = values_in(" ".join(doc)) == ["NAME"]
    assert keys_ok, "the key was not restored"
    inner = next(iter(doc.values()))
    assert values_in(inner["signature"]) == ["PHONE"] and values_in(inner["content"]) == ["NAME"]
    assert values_in(doc["b64_json"]) == ["PHONE"] and values_in(doc["audio"]["transcript"]) == ["NAME"]
    assert values_in(headers["x-note"]) == ["NAME"] and token_count(json.dumps(headers)) == 0
    events = request_events(shape_sidecar, sid, ("request_forwarded", "rehydration"))
    assert {e["entity_kind"] for e in events if e["kind"] == "rehydration"} >= {"NAME", "PHONE"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/octet-stream", "image/png"])
def test_text_and_binary_bodies_with_invalid_utf8_around_tokens(shape_sidecar, shapes, bundle, content_type):
    server, _ = shapes
    server.answer = lambda t: [http_response(b"\x89\xff" + t["NAME"].encode() + b"\xc3(" + t["PHONE"].encode() + b"\xfe",
                                             content_type)]
    status, _, body, _ = ask(shape_sidecar, bundle, _session())
    assert status == 200
    assert_clean(body)
    same = body == b"\x89\xff" + NAME.encode() + b"\xc3(" + PHONE.encode() + b"\xfe"
    assert same, "the body is not the upstream's with the values restored, byte for byte"


def test_invalid_json_body_gets_restored_values_json_escaped(shape_sidecar, shapes, bundle):
    server, _ = shapes
    server.answer = lambda t: [http_response(b'{"note": "' + t["NAME"].encode() + b'", "cut": "' + t["PHONE"][:20].encode(),
                                             "application/json")]
    status, _, body, _ = ask(shape_sidecar, bundle, _session())
    assert status == 200
    assert_clean(body)
    same = body == b'{"note": "' + NAME.encode() + b'", "cut": "[REDACTED:PHONE]'
    assert same, "the restored value or the redacted cut token is not where it belongs"


def test_sse_tokens_in_event_id_comment_and_non_json_lines(shape_sidecar, shapes, bundle):
    server, _ = shapes

    def answer(t: dict[str, str]) -> list:
        n, p = t["NAME"].encode(), t["PHONE"].encode()
        body = (b": note " + n + b"\n\n"
                + b"event: " + p + b"\nid: " + n + b"\ndata: not json " + n + b"\n\n"
                + b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}],"' + n + b'":"' + p + b'"}\n\n'
                + b'data: {"x":"\xff ' + p + b'"}\n\n'
                + b"data: [DONE]\n\n")
        pieces = [body[i : i + 11] for i in range(0, len(body), 11)]  # every token split across TCP writes
        return [sse_head(), *[item for piece in pieces for item in (chunk(piece), 0.002)], END]

    server.answer = answer
    status, headers, body, err = ask(shape_sidecar, bundle, _session(), stream=True)
    assert status == 200 and err is None and headers["content-type"] == "text/event-stream"
    assert_clean(body)
    lines = body.split(b"\n")
    assert kinds_in(lines[0]) == ["NAME"] and kinds_in(lines[2]) == ["PHONE"] and kinds_in(lines[3]) == ["NAME"]
    assert kinds_in(lines[4]) == ["NAME"]
    event = json.loads(lines[6][len(b"data: "):])
    assert values_in(" ".join(event)) == ["NAME"] and values_in(json.dumps(event)) == ["NAME", "PHONE"]
    assert kinds_in(lines[8]) == ["PHONE"] and b"\xff" in lines[8]
    assert body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("framing", ["chunked", "until-close"])
def test_stream_that_ends_mid_token_ends_redacted(shape_sidecar, shapes, bundle, framing):
    server, _ = shapes

    def answer(t: dict[str, str]) -> list:
        cut = t["NAME"][:20].encode()
        if framing == "chunked":  # a delta cut mid-token, then a proper end of body (no finish, no [DONE])
            event = b'data: {"choices":[{"index":0,"delta":{"content":"Call ' + cut + b'"}}]}\n\n'
            return [sse_head(), chunk(event), 0.05, END]
        return [sse_head(chunked=False), b"data: plain " + cut]  # the body ends at the close, mid-line

    server.answer = answer
    status, _, body, err = ask(shape_sidecar, bundle, _session(), stream=True)
    assert status == 200 and err is None
    assert_clean(body)
    assert b"[REDACTED:NAME]" in body


def test_stream_dropped_mid_token_never_sends_the_prefix(shape_sidecar, shapes, bundle):
    server, _ = shapes

    def answer(t: dict[str, str]) -> list:
        first = b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n'
        return [sse_head(), chunk(first), 0.05, chunk(b"data: plain " + t["NAME"][:20].encode()), 0.05, None]

    server.answer = answer
    status, _, body, err = ask(shape_sidecar, bundle, _session(), stream=True)
    assert status == 200
    assert b'"ok"' in body  # what came before the drop was delivered
    assert_clean(body)


def test_tokens_of_another_session_are_redacted_in_any_shape(shape_sidecar, shapes, bundle):
    server, _ = shapes
    server.answer = lambda t: [http_response(json.dumps({"ok": True}).encode(), "application/json")]
    ask(shape_sidecar, bundle, _session())
    theirs = dict(server.tokens[-1])
    server.answer = lambda t: [http_response(b"\xff" + theirs["NAME"].encode() + b" " + theirs["PHONE"].encode(), None,
                                             {"x-note": theirs["NAME"]})]
    status, headers, body, _ = ask(shape_sidecar, bundle, _session())
    assert status == 200
    assert_clean(body)
    assert body == b"\xff[REDACTED:NAME] [REDACTED:PHONE]" and headers["x-note"] == "[REDACTED:NAME]"


def test_no_phi_in_the_shape_sidecar_log(shape_sidecar):
    assert values_in(shape_sidecar.log_text()) == []
