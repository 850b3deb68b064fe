"""The transport edge through the real proxy: compression bombs, request
trailers, and upstreams that hang, reset, talk garbage or answer too much.

The client must always get Masker's JSON error (``{"error": {"type":
"masker_error", "code", "message"}}``), never mitmproxy's HTML page, a
hung connection or a crashed connection handler, and nothing it sent may
reach the upstream when the request is refused.

Bombs and trailers use the shared ``sidecar`` (real engine). Upstream
failures use ``bad_sidecar`` (fake engine: the engine is not under test)
pointed by a test-only ``server_connect`` redirect at small raw servers in
this file: ``BadUpstream`` (TLS, misbehaves as the request's ``model``
says), a closed port, a server whose certificate the proxy does not trust,
and one that accepts TCP and never speaks TLS.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import struct
import threading
import time
import types
import zlib
from pathlib import Path
from typing import Iterator

import brotli
import httpx
import pytest
import zstandard

from tests.e2e.fake_upstream import make_ca_and_leaf
from tests.e2e.phi import CALL, values_in
from tests.e2e.sidecar import E2E, FAKE_ENGINE, free_port, mitmdump_cmd, start_sidecar

pytestmark = pytest.mark.timeout(120)

MIB = 1 << 20
URL = "https://api.openai.com/v1/chat/completions"
UPSTREAM_TIMEOUT_S = 2
MAX_RESPONSE = 256 * 1024


def _chat(model: str = "gpt-test", text: str = "hello") -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": text}]}).encode()


def _error(r: httpx.Response) -> dict:
    assert r.headers["content-type"].startswith("application/json"), r.text[:200]
    err = r.json()["error"]
    assert err["type"] == "masker_error" and r.headers["x-masker-error"] == err["code"]
    return err


def _client(sc, bundle, timeout: float = 30) -> httpx.Client:
    return httpx.Client(proxy=sc.url, verify=str(bundle), timeout=timeout, trust_env=False)


def _crashes(sc) -> list[str]:
    return [line for line in sc.log_text().splitlines() if "has crashed" in line]


# -- compression bombs -----------------------------------------------------


def _deflate_zeros(total: int, *, gzip_wrap: bool) -> bytes:
    """``total`` zeros as gzip / zlib without compressing them all (full-flush blocks repeat)."""
    mib = bytes(MIB)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first, middle = co.compress(mib) + co.flush(zlib.Z_FULL_FLUSH), co.compress(mib) + co.flush(zlib.Z_FULL_FLUSH)
    n = total // MIB
    raw = first + middle * (n - 2) + co.compress(mib) + co.flush()
    crc, adler = 0, 1
    for _ in range(n):
        crc, adler = zlib.crc32(mib, crc), zlib.adler32(mib, adler)
    if gzip_wrap:
        return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw + struct.pack("<II", crc, total & 0xFFFFFFFF)
    return b"\x78\xda" + raw + struct.pack(">I", adler)


def _bomb(encoding: str) -> bytes:
    """Each under the sidecar's body_size_limit (128k), so Masker has to decode it."""
    if encoding in ("gzip", "deflate"):  # deflate tops out near 1000:1: 100 MiB
        return _deflate_zeros(100 * MIB, gzip_wrap=encoding == "gzip")
    chunk = bytes(16 * MIB)
    if encoding == "br":  # 1 GiB in ~1 KB, with the largest window HTTP allows
        c = brotli.Compressor(quality=3, lgwin=24)
        return b"".join([c.process(chunk) for _ in range(64)] + [c.finish()])
    co = zstandard.ZstdCompressor(level=3).compressobj()  # 1 GiB in ~32 KB
    return b"".join([co.compress(chunk) for _ in range(64)] + [co.flush()])


def _pids(root: int) -> list[int]:
    """``root`` and its descendants (the engine pool's workers)."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return out


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, our own processes)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip", "deflate"])
def test_compression_bomb_gets_json_413_and_memory_stays_flat(sidecar, bundle, upstream, encoding):
    raw = _bomb(encoding)
    assert len(raw) < 120_000
    pids = _pids(sidecar.proc.pid)
    base = {}
    for pid in pids:
        base[pid] = _status_kib(pid, "VmRSS") if _reset_peak(pid) else _status_kib(pid, "VmHWM")
    with _client(sidecar, bundle) as c:
        r = c.post(URL, content=raw, headers={"content-type": "application/json", "content-encoding": encoding})
    assert r.status_code == 413 and _error(r)["code"] == "body_too_large"
    assert upstream.received == []
    growth = {pid: (_status_kib(pid, "VmHWM") - base[pid]) * 1024 for pid in pids if Path(f"/proc/{pid}").exists()}
    assert max(growth.values()) < 64 * MIB, {p: g // MIB for p, g in growth.items()}
    assert not _crashes(sidecar)


def test_stacked_encodings_are_decoded_and_masked(sidecar, bundle, upstream):
    """``Content-Encoding: gzip, br`` (gzip first): each layer decoded under the same bound."""
    with _client(sidecar, bundle) as c:
        r = c.post(URL, content=brotli.compress(gzip.compress(_chat(text=CALL))),
                   headers={"content-type": "application/json", "content-encoding": "gzip, br"})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Echo: " + CALL
    assert values_in(upstream.received[-1].body.decode()) == []


# -- request trailers --------------------------------------------------------


def _raw_https(sc, bundle, host: str, payload: bytes, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """CONNECT through the proxy, TLS to ``host`` (the proxy's certificate), send ``payload``, read one response."""
    s = socket.create_connection(("127.0.0.1", sc.port), timeout=timeout)
    s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    t = ssl.create_default_context(cafile=str(bundle)).wrap_socket(s, server_hostname=host)
    with t:
        t.sendall(payload)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = t.recv(65536)
            assert data, f"connection closed without a response: {buf!r}"
            buf += data
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            data = t.recv(65536)
            assert data
            body += data
    return int(lines[0].split()[1]), headers, body


def _chunked(body: bytes, trailer: bytes | None = None, announce: bool = False) -> bytes:
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n" + (b"Trailer: X-Note\r\n" if announce else b"") + b"\r\n"
            + b"%x\r\n%s\r\n" % (len(body), body) + b"0\r\n" + (trailer + b"\r\n" if trailer else b"") + b"\r\n")


@pytest.mark.parametrize("announce", [True, False], ids=["announced", "unannounced"])
def test_request_trailers_get_json_400_and_nothing_is_forwarded(sidecar, bundle, upstream, announce):
    started = time.monotonic()
    status, headers, body = _raw_https(sidecar, bundle, "api.openai.com",
                                       _chunked(_chat(), b"X-Note: Maria Lopez DOB 1984-03-12", announce))
    assert time.monotonic() - started < 10  # answered, not left hanging
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == {"type": "masker_error", "code": "trailers_unsupported",
                                         "message": "Masker does not forward request trailers"}
    assert upstream.received == []
    assert not _crashes(sidecar)
    # the proxy is still fine (the fake upstream reads Content-Length bodies only)
    plain = _chat()
    status, _, body = _raw_https(sidecar, bundle, "api.openai.com",
                                 b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(plain), plain))
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"] == "Echo: hello"


def test_chunked_request_without_trailers_is_forwarded(sidecar, bundle, upstream):
    status, _, _ = _raw_https(sidecar, bundle, "api.openai.com", _chunked(_chat()))
    assert status == 200 and len(upstream.received) == 1


# -- upstream failures ---------------------------------------------------------


class BadUpstream:
    """A raw TLS (or plain TCP) server that misbehaves on purpose.

    ``mode="http"``: reads one request and acts on its JSON ``model``;
    ``mode="silent"``: accepts and never sends a byte (no TLS handshake either).
    """

    def __init__(self, cert: Path | None, key: Path | None, mode: str = "http") -> None:
        self.mode = mode
        self.ctx = None
        if cert is not None:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop_event = threading.Event()
        self.conns: list[socket.socket] = []
        self.models: list[str] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> "BadUpstream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.sock.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.mode == "silent":
                self.stop_event.wait(60)
                return
            tls = self.ctx.wrap_socket(conn, server_side=True)
            self.conns.append(tls)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            head, _, body = buf.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += tls.recv(65536)
            model = json.loads(body or b"{}").get("model", "")
            self.models.append(model)
            getattr(self, "_" + model.replace("-", "_"))(tls)
        except (OSError, ValueError):
            pass

    # -- behaviours, by model name
    def _ok(self, s) -> None:
        body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}}]}).encode()
        s.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        self.stop_event.wait(5)

    def _hang(self, s) -> None:
        self.stop_event.wait(60)

    def _reset(self, s) -> None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def _garbage(self, s) -> None:
        s.sendall(b"\x00\x01\x02 this is not HTTP Maria Lopez\r\n\r\n")
        s.close()

    def _garbage_then_hang(self, s) -> None:
        s.sendall(b"SSH-2.0-OpenSSH_9.6 ")  # no line end: the response head never completes
        self.stop_event.wait(60)

    def _stall_body(self, s) -> None:
        s.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"choices\"")
        self.stop_event.wait(60)

    def _big_declared(self, s) -> None:
        s.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % (10 * MIB))
        with contextlib.suppress(OSError):
            for _ in range(160):
                s.sendall(b" " * 65536)

    def _big_chunked(self, s) -> None:
        s.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        with contextlib.suppress(OSError):
            for _ in range(64):
                s.sendall(b"10000\r\n" + b" " * 65536 + b"\r\n")
            s.sendall(b"0\r\n\r\n")

    def _sse_head(self, s) -> None:
        s.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")

    def _sse_chunk(self, s, data: bytes) -> None:
        s.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def _sse_stall(self, s) -> None:
        self._sse_head(s)
        event = {"choices": [{"index": 0, "delta": {"content": "first"}}]}
        self._sse_chunk(s, b"data: " + json.dumps(event).encode() + b"\n\n")
        self.stop_event.wait(60)

    def _sse_giant_event(self, s) -> None:
        self._sse_head(s)
        line = b"data: " + b"x" * 1000 + b"\n"  # lines, but never the blank line that ends the event
        with contextlib.suppress(OSError):
            for _ in range(2000):
                self._sse_chunk(s, line * 16)
        self.stop_event.wait(30)


REDIRECT = '''
HOSTS = {hosts!r}


def server_connect(data) -> None:
    addr = data.server.address
    if addr and addr[0] in HOSTS:
        port, sni = HOSTS[addr[0]]
        data.server.sni = sni
        data.server.address = ("127.0.0.1", port)
'''


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Iterator[types.SimpleNamespace]:
    ca, cert, key = make_ca_and_leaf(tmp_path_factory.mktemp("bad-ca"))
    _, other_cert, other_key = make_ca_and_leaf(tmp_path_factory.mktemp("untrusted-ca"))
    servers = types.SimpleNamespace(
        ca=ca,
        http=BadUpstream(cert, key).start(),
        untrusted=BadUpstream(other_cert, other_key).start(),
        silent=BadUpstream(None, None, mode="silent").start(),
        closed_port=free_port(),
    )
    yield servers
    for s in (servers.http, servers.untrusted, servers.silent):
        s.stop()


@pytest.fixture(scope="module")
def bad_sidecar(tmp_path_factory, bad, sidecar) -> Iterator:
    data_dir = tmp_path_factory.mktemp("transport-sidecar")
    hosts = {
        "api.openai.com": (bad.http.port, "api.openai.com"),
        "api.anthropic.com": (bad.closed_port, "api.anthropic.com"),
        "untrusted.openai.azure.com": (bad.untrusted.port, "api.openai.com"),  # valid name, unknown CA
        "silent.openai.azure.com": (bad.silent.port, "api.openai.com"),
    }
    addon = data_dir / "transport_redirect.py"
    addon.write_text(REDIRECT.format(hosts=hosts))
    port = free_port()
    cmd = mitmdump_cmd(port, data_dir, bad.ca, FAKE_ENGINE,
                       "--set", f"masker_upstream_timeout={UPSTREAM_TIMEOUT_S}",
                       "--set", f"masker_max_response={MAX_RESPONSE}",
                       confdir=sidecar.data_dir / "ca")
    cmd[cmd.index(str(E2E / "redirect_addon.py"))] = str(addon)
    with start_sidecar(cmd, data_dir, port, types.SimpleNamespace(port=bad.http.port), reverse=False) as sc:
        yield sc


def _post(sc, bundle, model: str, url: str = URL, timeout: float = 30) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    with _client(sc, bundle, timeout) as c:
        r = c.post(url, content=_chat(model), headers={"content-type": "application/json"})
    return r, time.monotonic() - started


def test_bad_sidecar_serves_a_good_upstream(bad_sidecar, bundle):
    r, _ = _post(bad_sidecar, bundle, "ok")
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "fine"


@pytest.mark.parametrize(
    ("model", "url", "status", "code"),
    [
        ("ok", "https://api.anthropic.com/v1/messages", 502, "upstream_unavailable"),  # nothing listens
        ("ok", "https://untrusted.openai.azure.com/openai/deployments/d/chat/completions", 502, "upstream_unavailable"),
        ("reset", URL, 502, "upstream_unavailable"),
        ("garbage", URL, 502, "upstream_unavailable"),
        ("big-declared", URL, 502, "upstream_too_large"),
        ("big-chunked", URL, 502, "upstream_too_large"),
    ],
    ids=["refused", "tls-untrusted", "reset", "garbage", "too-large-declared", "too-large-chunked"],
)
def test_upstream_failure_gets_masker_json(bad_sidecar, bundle, model, url, status, code):
    r, took = _post(bad_sidecar, bundle, model, url)
    assert (r.status_code, _error(r)["code"]) == (status, code)
    assert took < 10
    assert b"<html" not in r.content and b"Maria" not in r.content  # no HTML page, no upstream bytes quoted
    assert not _crashes(bad_sidecar)


@pytest.mark.parametrize(
    ("model", "url"),
    [("hang", URL), ("garbage-then-hang", URL), ("stall-body", URL),
     ("ok", "https://silent.openai.azure.com/openai/deployments/d/chat/completions")],
    ids=["no-headers", "half-a-status-line", "body-stalls", "tls-never-starts"],
)
def test_silent_upstream_gets_json_504_after_the_timeout(bad_sidecar, bundle, model, url):
    r, took = _post(bad_sidecar, bundle, model, url)
    assert (r.status_code, _error(r)["code"]) == (504, "upstream_timeout")
    assert UPSTREAM_TIMEOUT_S - 0.5 < took < UPSTREAM_TIMEOUT_S + 5
    assert not _crashes(bad_sidecar)


def _h2_post(sc, bundle, body: bytes, timeout: float = 20) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/2 POST through the proxy (CONNECT, TLS with ALPN h2), by hand with the h2 library."""
    import h2.config
    import h2.connection
    import h2.events

    s = socket.create_connection(("127.0.0.1", sc.port), timeout=timeout)
    s.sendall(b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    ctx = ssl.create_default_context(cafile=str(bundle))
    ctx.set_alpn_protocols(["h2"])
    with ctx.wrap_socket(s, server_hostname="api.openai.com") as t:
        assert t.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "POST"), (":authority", "api.openai.com"), (":scheme", "https"),
                              (":path", "/v1/chat/completions"), ("content-type", "application/json"),
                              ("content-length", str(len(body)))])
        conn.send_data(1, body, end_stream=True)
        t.sendall(conn.data_to_send())
        status, headers, data = 0, {}, b""
        while True:
            raw = t.recv(65536)
            assert raw, "connection closed before the stream ended"
            for ev in conn.receive_data(raw):
                if isinstance(ev, h2.events.ResponseReceived):
                    headers = dict(ev.headers)
                    status = int(headers[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                elif isinstance(ev, h2.events.StreamEnded):
                    return status, headers, data
                elif isinstance(ev, h2.events.StreamReset):
                    raise AssertionError(f"stream reset before it ended ({ev.error_code})")
            t.sendall(conn.data_to_send())


@pytest.mark.parametrize(("model", "status", "code"), [("ok", 200, None), ("reset", 502, "upstream_unavailable"), ("hang", 504, "upstream_timeout")])
def test_http2_client_gets_the_same_json(bad_sidecar, bundle, model, status, code):
    got, headers, body = _h2_post(bad_sidecar, bundle, _chat(model))
    assert got == status
    if code is not None:
        assert headers["content-type"] == "application/json" and "connection" not in headers
        assert json.loads(body)["error"]["code"] == code
    assert not _crashes(bad_sidecar)


def _stream(sc, bundle, model: str) -> tuple[bytes, Exception | None, float]:
    got, err = b"", None
    started = time.monotonic()
    with _client(sc, bundle) as c:
        try:
            with c.stream("POST", URL, content=_chat(model), headers={"content-type": "application/json"}) as r:
                assert r.status_code == 200
                for chunk in r.iter_raw():
                    got += chunk
        except httpx.HTTPError as e:
            err = e
    return got, err, time.monotonic() - started


def test_stream_that_goes_silent_is_cut_off_not_ended(bad_sidecar, bundle):
    got, err, took = _stream(bad_sidecar, bundle, "sse-stall")
    assert b"first" in got  # what came before the silence was delivered
    assert isinstance(err, httpx.RemoteProtocolError)  # incomplete body: the client knows it is cut off
    assert took < UPSTREAM_TIMEOUT_S + 5
    assert not _crashes(bad_sidecar)


def test_giant_sse_event_kills_the_stream(bad_sidecar, bundle):
    got, err, took = _stream(bad_sidecar, bundle, "sse-giant-event")
    assert isinstance(err, httpx.RemoteProtocolError)
    assert len(got) < MAX_RESPONSE  # the event was held back, then the stream killed
    assert took < 10
    assert "stream killed" in bad_sidecar.log_text()
