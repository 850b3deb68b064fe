"""mitmproxy internals Masker relies on (``masker.proxy.mitm_internals``).

These break on a mitmproxy upgrade that changes them; each failure names the
installed mitmproxy version and what changed. Fix ``mitm_internals`` (or use a
public API if the new mitmproxy has one) before upgrading. The last tests keep
``mitm_internals`` the only module of ``masker`` that touches them.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import enum
import inspect
import logging
from pathlib import Path

import pytest
from mitmproxy import options
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.net.http import http1
from mitmproxy.proxy import context as mcontext
from mitmproxy.proxy import layer as mlayer
from mitmproxy.proxy.layers import http as mhttp
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.server import ConnectionHandler, ConnectionIO, TimeoutWatchdog
from mitmproxy.test import taddons, tflow
from mitmproxy.tools.dump import DumpMaster
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from masker.proxy import mitm_internals, upstream
from masker.proxy.mitm_internals import MITMPROXY_VERSION, close_server_connection

pytestmark = pytest.mark.timeout(60)

WHERE = f"mitmproxy {MITMPROXY_VERSION} (see masker/proxy/mitm_internals.py)"
CLOSE = "Masker can no longer close a refused WebSocket connection"
ABORT = "Masker can no longer close a silent or oversized upstream (upstream_timeout, upstream_too_large)"
ANSWER = "Masker can no longer answer upstream failures with its JSON error (patch 1)"
PAGE = "Masker can no longer write its JSON error for an unparsable request (patch 2)"
TRAILERS = "Masker can no longer catch HTTP/1 trailers (patch 3)"


def _fail(what: str, breaks: str = CLOSE) -> None:
    pytest.fail(f"{WHERE}: {what}; {breaks}", pytrace=False)


def _fields(cls) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return list(inspect.signature(cls).parameters)


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_proxyserver_keeps_live_connection_handlers_by_client_id():
    server = Proxyserver()
    if not isinstance(getattr(server, "connections", None), dict):
        _fail("Proxyserver.connections is gone or no longer a dict")
    register = getattr(server, "register_connection", None)
    if register is None or list(inspect.signature(register).parameters)[:2] != ["connection_id", "handler"]:
        _fail("Proxyserver.register_connection(connection_id, handler) changed")
    handler = object()
    with register("client-id", handler):
        if server.connections.get("client-id") is not handler:
            _fail("Proxyserver.register_connection no longer fills Proxyserver.connections")
    if "client-id" in server.connections:
        _fail("Proxyserver.connections keeps closed connections")
    if "client_conn.id" not in inspect.getsource(Proxyserver.inject_event):
        _fail("Proxyserver.inject_event no longer keys connections by flow.client_conn.id")


def test_connection_handler_has_transports_and_close_connection():
    if "transports" not in inspect.get_annotations(ConnectionHandler):
        _fail("ConnectionHandler.transports is gone")
    close = getattr(ConnectionHandler, "close_connection", None)
    if close is None:
        _fail("ConnectionHandler.close_connection is gone")
    params = inspect.signature(close).parameters
    if list(params)[:2] != ["self", "connection"] or any(
        p.default is inspect.Parameter.empty for name, p in params.items() if name not in ("self", "connection")
    ):
        _fail(f"ConnectionHandler.close_connection{inspect.signature(close)} changed (expected (self, connection, ...))")


def test_connection_io_and_the_timeout_watchdog():
    """What ``close_upstream_connections`` and ``last_activity`` read (UpstreamGuard)."""
    io = inspect.get_annotations(ConnectionIO)
    if not {"handler", "reader"} <= io.keys():
        _fail(f"ConnectionIO.handler / ConnectionIO.reader are gone (annotations: {sorted(io)})", ABORT)
    if ConnectionIO.handler is not None or ConnectionIO.reader is not None:
        _fail("ConnectionIO.handler / .reader no longer default to None (a connection not yet served)", ABORT)
    if "timeout_watchdog" not in inspect.get_annotations(ConnectionHandler):
        _fail("ConnectionHandler.timeout_watchdog is gone", ABORT)
    if "last_activity" not in inspect.get_annotations(TimeoutWatchdog):
        _fail("TimeoutWatchdog.last_activity is gone", ABORT)
    watchdog = TimeoutWatchdog(10, lambda: None)
    before = watchdog.last_activity = 0.0
    watchdog.register_activity()
    if not watchdog.last_activity > before:
        _fail("TimeoutWatchdog.register_activity no longer updates last_activity", ABORT)
    if mitm_internals.last_activity(type("H", (), {"timeout_watchdog": watchdog})()) != watchdog.last_activity:
        _fail("mitm_internals.last_activity does not read the watchdog", ABORT)


def test_no_live_connection_is_false_not_an_error(caplog):
    with taddons.context(Proxyserver()):
        assert close_server_connection(tflow.twebsocketflow()) is False
    assert "cannot close" not in caplog.text


def test_changed_internals_are_logged_and_false(caplog):
    class Broken:  # a proxyserver without ``connections``
        pass

    with taddons.context() as tctx:
        tctx.master.addons.get = lambda name: Broken()
        with caplog.at_level(logging.ERROR, "masker.proxy"):
            assert close_server_connection(tflow.twebsocketflow()) is False
    assert f"mitmproxy {MITMPROXY_VERSION}" in caplog.text and "mitm_internals" in caplog.text


class _CloseOnMarker:
    """Drops a client message ``close-me`` and closes the flow as Masker's failure path does."""

    def __init__(self) -> None:
        self.closed: list[bool] = []

    def websocket_message(self, flow) -> None:
        msg = flow.websocket.messages[-1]
        if msg.from_client and msg.text == "close-me":
            msg.drop()
            flow.kill()  # as Masker does: mitmproxy ignores it for an open WebSocket
            self.closed.append(mitm_internals.close_server_connection(flow))


async def _live_close() -> tuple[list[str], list[bool], str]:
    async def echo(ws) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                await ws.send(f"echo:{message}")

    addon = _CloseOnMarker()
    async with serve(echo, "127.0.0.1", 0) as upstream_ws:
        up_port = upstream_ws.sockets[0].getsockname()[1]
        opts = options.Options(mode=[f"reverse:http://127.0.0.1:{up_port}"], listen_host="127.0.0.1", listen_port=0)
        master = DumpMaster(opts, with_termlog=False, with_dumper=False)
        master.addons.add(addon)
        run = asyncio.create_task(master.run())
        try:
            proxyserver = master.addons.get("proxyserver")
            for _ in range(200):
                if proxyserver.listen_addrs():
                    break
                await asyncio.sleep(0.02)
            port = proxyserver.listen_addrs()[0][1]
            got: list[str] = []
            async with connect(f"ws://127.0.0.1:{port}/", proxy=None, open_timeout=10) as ws:
                await ws.send("hello")
                got.append(await asyncio.wait_for(ws.recv(), 10))
                await ws.send("close-me")
                await ws.send("after")  # must not come back: the connection is closed
                try:
                    while True:
                        got.append(await asyncio.wait_for(ws.recv(), 10))
                except ConnectionClosed:
                    outcome = "closed"
                except TimeoutError:
                    outcome = "still open"
            return got, addon.closed, outcome
        finally:
            master.shutdown()
            await asyncio.wait_for(run, 10)


def test_a_live_websocket_is_closed_through_the_proxy_server():
    got, closed, outcome = asyncio.run(_live_close())
    assert got[:1] == ["echo:hello"], f"{WHERE}: the test proxy did not relay ({got})"
    if closed != [True]:
        _fail("close_server_connection did not find the live connection")
    if outcome != "closed":
        _fail(f"closing the upstream connection left the client connection {outcome}")
    assert "echo:close-me" not in got


def test_changed_connection_internals_are_logged_and_false_for_upstream_guard(caplog):
    class Broken:  # a connection handler without ``transports``
        pass

    with caplog.at_level(logging.ERROR, "masker.proxy"):
        assert mitm_internals.close_upstream_connections(Broken(), tflow.tflow()) is False
    assert f"mitmproxy {MITMPROXY_VERSION}" in caplog.text and "mitm_internals" in caplog.text
    assert mitm_internals.connection_handler(tflow.tflow()) is None  # no master: no handler, no error
    assert mitm_internals.last_activity(None) is None


# -- B. the wire patches of mitmproxy.proxy.layers.http --------------------
# Each check looks at mitmproxy's own function (inspect.unwrap), patched or not.


def test_http_stream_uses_the_generic_layer_handle_event():
    if not (isinstance(mhttp.HttpStream, type) and issubclass(mhttp.HttpStream, mlayer.Layer)):
        _fail("HttpStream is gone or no longer a Layer", ANSWER)
    handle = inspect.unwrap(mhttp.HttpStream.handle_event)
    if handle is not mlayer.Layer.handle_event:
        _fail("HttpStream now overrides Layer.handle_event", ANSWER)
    if _params(handle) != ["self", "event"] or not inspect.isgeneratorfunction(handle):
        _fail(f"Layer.handle_event{inspect.signature(handle)} is no longer a command generator of (self, event)", ANSWER)
    if "flow" not in inspect.get_annotations(mhttp.HttpStream):
        _fail("HttpStream.flow is gone", ANSWER)
    if _params(mlayer.Layer.__init__)[:2] != ["self", "context"] or "client" not in inspect.get_annotations(mcontext.Context):
        _fail("Layer.context.client (the client connection of a layer) is gone", ANSWER)
    if "RequestTrailers" not in inspect.getsource(mhttp.HttpStream):
        _fail("HttpStream no longer handles RequestTrailers events", TRAILERS)


# event -> its fields, in the positional order the patches build them, and what breaks without it
EVENTS = {
    "SendHttp": (["event", "connection"], ANSWER),
    "ResponseProtocolError": (["stream_id", "message", "code"], ANSWER),
    "ResponseHeaders": (["stream_id", "response", "end_stream"], ANSWER),
    "ResponseData": (["stream_id", "data"], ANSWER),
    "ResponseEndOfMessage": (["stream_id"], ANSWER),
    "ReceiveHttp": (["event"], TRAILERS),
    "RequestEndOfMessage": (["stream_id"], TRAILERS),
    "RequestTrailers": (["stream_id", "trailers"], TRAILERS),
}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_http_events_have_the_fields_the_patches_use(name):
    fields, breaks = EVENTS[name]
    cls = getattr(mhttp, name, None)
    if not isinstance(cls, type):
        _fail(f"mitmproxy.proxy.layers.http.{name} is gone", breaks)
    got = _fields(cls)
    if got[: len(fields)] != fields:
        _fail(f"{name}({', '.join(got)}) changed (expected ({', '.join(fields)}, ...))", breaks)


def test_every_event_install_checks_is_covered():
    assert set(mitm_internals._EVENTS) - {"ErrorCode"} == set(EVENTS), "keep EVENTS and mitm_internals._EVENTS in step"


def test_error_codes_the_policy_maps():
    codes = getattr(mhttp, "ErrorCode", None)
    if not (isinstance(codes, type) and issubclass(codes, enum.Enum)):
        _fail("ErrorCode is gone or no longer an Enum", ANSWER)
    code_field = {f.name: f for f in dataclasses.fields(mhttp.ResponseProtocolError)}.get("code")
    if code_field is None or code_field.type not in (codes, "ErrorCode"):
        _fail("ResponseProtocolError.code is no longer an ErrorCode", ANSWER)
    names = set(codes.__members__)
    if missing := sorted(set(upstream.ERROR_CODES) - names):
        _fail(f"ErrorCode lost {missing} (masker.proxy.upstream.ERROR_CODES maps them)", ANSWER)
    if silent := sorted(n for n in upstream.ERROR_CODES if codes[n].http_status_code() is None):
        _fail(f"ErrorCode {silent} no longer get an error page (http_status_code() is None)", ANSWER)
    if unmapped := sorted(n for n in names - set(upstream.ERROR_CODES) if codes[n].http_status_code() is not None):
        _fail(f"ErrorCode {unmapped} now get an error page: map them in masker.proxy.upstream.ERROR_CODES", ANSWER)
    for name in ("KILL", "CLIENT_DISCONNECTED"):
        if name not in names or codes[name].http_status_code() is not None:
            _fail(f"ErrorCode.{name} is gone or now gets an error page (a kill must not be answered)", ANSWER)


def test_http1_error_page_is_a_module_function_the_http1_server_looks_up():
    original = inspect.unwrap(getattr(_http1, "make_error_response", None))
    if not callable(original) or _params(original)[:2] != ["status_code", "message"]:
        _fail("_http1.make_error_response(status_code, message) is gone or changed", PAGE)
    out = original(400, "x")
    if not (isinstance(out, bytes) and out.startswith(b"HTTP/1.1 400")):
        _fail(f"_http1.make_error_response no longer returns the response bytes ({out[:20]!r})", PAGE)
    if "make_error_response(" not in inspect.getsource(_http1.Http1Server):
        _fail("Http1Server no longer calls the module's make_error_response: replacing it has no effect", PAGE)
    if not callable(getattr(http1, "assemble_response", None)):
        _fail("mitmproxy.net.http.http1.assemble_response is gone", PAGE)


def test_http1_read_body_and_its_chunked_reader():
    import h11

    read_body = inspect.unwrap(_http1.Http1Connection.read_body)
    if _params(read_body) != ["self", "event"] or not inspect.isgeneratorfunction(read_body):
        _fail(f"Http1Connection.read_body{inspect.signature(read_body)} is no longer a command generator of (self, event)", TRAILERS)
    if "body_reader" not in inspect.get_annotations(_http1.Http1Connection):
        _fail("Http1Connection.body_reader is gone", TRAILERS)
    source = inspect.getsource(read_body)
    if "self.body_reader(" not in source or ".read_eof()" not in source:
        _fail("Http1Connection.read_body no longer reads through self.body_reader", TRAILERS)
    if "NotImplementedError" not in source:
        _fail("Http1Connection.read_body no longer raises on trailers: mitmproxy may handle them now, rework patch 3", TRAILERS)
    reader_cls = getattr(_http1, "ChunkedReader", None)
    if not isinstance(reader_cls, type) or not callable(getattr(reader_cls, "read_eof", None)):
        _fail("_http1.ChunkedReader (h11's, with read_eof) is gone", TRAILERS)
    reader, buf = reader_cls(), _http1.ReceiveBuffer()
    buf += b"2\r\n{}\r\n0\r\nx-checksum: abc\r\n\r\n"
    while (event := reader(buf)) is not None and not isinstance(event, h11.EndOfMessage):
        pass
    if not isinstance(event, h11.EndOfMessage) or [(bytes(k), bytes(v)) for k, v in event.headers] != [(b"x-checksum", b"abc")]:
        _fail(f"h11 {h11.__version__}'s ChunkedReader no longer ends a body with EndOfMessage(headers=trailers) ({event!r})",
              TRAILERS)


@contextlib.contextmanager
def _patches_removed():
    was = mitm_internals.wire_patches_installed()
    mitm_internals.uninstall_wire_patches()
    try:
        yield
    finally:
        mitm_internals.uninstall_wire_patches()
        if was:
            upstream.install_wire_patches()


def _targets():
    return mhttp.HttpStream.handle_event, _http1.Http1Connection.read_body, _http1.make_error_response


def test_install_wraps_mitmproxys_own_functions_and_uninstall_restores_them():
    with _patches_removed():
        originals = _targets()
        upstream.install_wire_patches()
        patched = _targets()
        assert mitm_internals.wire_patches_installed()
        assert all(p is not o and inspect.unwrap(p) is o for p, o in zip(patched, originals))
        upstream.install_wire_patches()  # idempotent
        assert _targets() == patched
        mitm_internals.uninstall_wire_patches()
        assert _targets() == originals and not mitm_internals.wire_patches_installed()


def test_install_refuses_when_an_internal_moved(monkeypatch):
    def page(status):
        raise AssertionError("not installed")

    with _patches_removed():
        with pytest.raises(RuntimeError, match=rf"mitmproxy {MITMPROXY_VERSION} .*ErrorCode members"):
            mitm_internals.install_wire_patches(lambda failure: None, page, ["NO_SUCH_CODE"])
        with monkeypatch.context() as m:
            m.delattr(_http1, "make_error_response")
            with pytest.raises(RuntimeError, match=rf"mitmproxy {MITMPROXY_VERSION} .*make_error_response"):
                upstream.install_wire_patches()
        with monkeypatch.context() as m:
            m.setattr(mhttp.HttpStream, "handle_event", lambda self, event: iter(()), raising=False)
            with pytest.raises(RuntimeError, match="HttpStream.handle_event"):
                upstream.install_wire_patches()
        assert not mitm_internals.wire_patches_installed()


def test_upstream_guard_refuses_to_start_when_an_internal_moved(monkeypatch):
    from mitmproxy import exceptions

    with _patches_removed(), monkeypatch.context() as m:
        m.delattr(_http1, "make_error_response")
        guard = upstream.UpstreamGuard()
        with taddons.context(guard) as tctx, pytest.raises(exceptions.OptionsError, match=MITMPROXY_VERSION):
            tctx.configure(guard)


# -- mitm_internals stays the only module touching mitmproxy internals -----

PACKAGE = Path(mitm_internals.__file__).resolve().parents[1]  # addons/masker
INTERNALS = Path(mitm_internals.__file__).resolve()
FORBIDDEN = ("mitmproxy.proxy", "mitmproxy.net")  # mitmproxy's proxy core and wire helpers, not its addon API
# Connection handler / layer internals that carry no underscore; reached only through mitm_internals.
INTERNAL_NAMES = {"connections", "register_connection", "inject_event", "transports", "timeout_watchdog",
                  "close_connection", "body_reader", "read_body", "make_error_response", "handle_event"}
# (path under addons/masker, what) -> why it stays
ALLOWED = {
    ("proxy/routing.py", "import mitmproxy.proxy.mode_specs"):
        "ProxyMode is the public type of Client.proxy_mode and of the mode option (mitmproxy documents mode specs)",
    ("proxy/master.py", "import mitmproxy.proxy.mode_specs.ProxyMode"):
        "the same public type: describe_mode reads a listener's mode (type_name, description, full_spec)",
}


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _own_private_names(trees) -> set[str]:
    """Private names Masker defines itself (so ``other._x`` on Masker's own objects is fine)."""
    own = set()
    for tree in trees:
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(n.name)
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
                own.add(n.attr)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                own.add(n.id)
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
                own.add(n.target.id)
    return {name for name in own if name.startswith("_")}


def _violations(tree: ast.AST, own: set[str]) -> list[str]:
    """What in one module reaches into mitmproxy internals (see the module docstring of mitm_internals)."""
    found: list[str] = []
    imported: dict[str, str] = {}  # local name -> the module path it is bound to
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                imported[(a.asname or a.name).split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            paths = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
            for a in n.names:
                imported[a.asname or a.name] = f"{n.module}.{a.name}"
            paths = [f"{n.module}.{a.name}" for a in n.names]
        else:
            continue
        for path in paths:
            parts = path.split(".")
            if parts[0] == "mitmproxy" and (path.startswith(FORBIDDEN) or any(p.startswith("_") for p in parts)):
                found.append(f"import {path}")
    uses_mitmproxy = any(path.split(".")[0] == "mitmproxy" for path in imported.values())
    docstrings = _docstrings(tree)

    def root(node: ast.expr) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return node.id if isinstance(node, ast.Name) else None

    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings:
            if any(f in n.value for f in FORBIDDEN):
                found.append(f"string {n.value!r}")
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "setattr", "hasattr", "delattr") \
                and len(n.args) > 1 and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str):
            name = n.args[1].value
            if uses_mitmproxy and (name in INTERNAL_NAMES or (name.startswith("_") and not name.startswith("__") and name not in own)):
                found.append(f"{n.func.id}(..., {name!r})")
        if not isinstance(n, ast.Attribute) or isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"):
            continue
        base = root(n.value)
        bound = imported.get(base, "") if base else ""
        if bound.split(".")[0] not in ("", "mitmproxy") or base == "mitm_internals":
            continue  # another library's module (argparse._SubParsersAction), or the sanctioned way in
        private = n.attr.startswith("_") and not n.attr.startswith("__")
        if (bound and private) or (uses_mitmproxy and (n.attr in INTERNAL_NAMES or (private and n.attr not in own))):
            found.append(f"{ast.unparse(n)}")
    return found


def _scan() -> dict[tuple[str, str], int]:
    files = sorted(p for p in PACKAGE.rglob("*.py") if p.resolve() != INTERNALS)
    trees = {p.relative_to(PACKAGE).as_posix(): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}
    own = _own_private_names(trees.values())
    hits: dict[tuple[str, str], int] = {}
    for rel, tree in trees.items():
        for what in _violations(tree, own):
            hits[(rel, what)] = hits.get((rel, what), 0) + 1
    return hits


def test_only_mitm_internals_touches_mitmproxy_internals():
    hits = _scan()
    bad = sorted(f"addons/masker/{rel}: {what}" for rel, what in hits if (rel, what) not in ALLOWED)
    assert not bad, (
        "mitmproxy internals used outside masker/proxy/mitm_internals.py (move them there, with a test here, "
        "or use a public API; add to ALLOWED only what is public):\n  " + "\n  ".join(bad)
    )
    stale = sorted(k for k in ALLOWED if k not in hits)
    assert not stale, f"ALLOWED entries that no longer occur, remove them: {stale}"


def test_the_scan_finds_what_it_must():
    src = '''
import mitmproxy.proxy.server
from mitmproxy import ctx, http
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.net.http import http1
import argparse

def f(flow, handler):
    """mitmproxy.proxy in a docstring is fine"""
    handler.transports
    handler.close_connection(flow.server_conn)
    ctx.master.addons.get("proxyserver").connections
    ctx.master.addons.get("proxyserver").listen_addrs()
    flow.client_conn._private
    getattr(flow, "_hidden")
    __import__("mitmproxy.proxy.layers")
    http._internal
    argparse._SubParsersAction
    self_like._mine
'''
    found = _violations(ast.parse(src), own={"_mine"})
    assert sorted(found) == sorted([
        "import mitmproxy.proxy.server", "import mitmproxy.proxy.layers.http._http1", "import mitmproxy.net.http.http1",
        "handler.transports", "handler.close_connection", "ctx.master.addons.get('proxyserver').connections", "flow.client_conn._private",
        "getattr(..., '_hidden')", "string 'mitmproxy.proxy.layers'", "http._internal",
    ]), found
    assert _violations(ast.parse(INTERNALS.read_text(encoding="utf-8")), own=set()), "the scan misses mitm_internals' own uses"
