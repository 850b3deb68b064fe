"""mitmproxy internals Masker relies on (``masker.proxy.mitm_internals``).

These break on a mitmproxy upgrade that changes them; each failure names the
installed mitmproxy version and what changed. Fix ``mitm_internals`` (or use a
public API if the new mitmproxy has one) before upgrading.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging

import pytest
from mitmproxy import options
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy.server import ConnectionHandler
from mitmproxy.test import taddons, tflow
from mitmproxy.tools.dump import DumpMaster
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from masker.proxy import mitm_internals
from masker.proxy.mitm_internals import MITMPROXY_VERSION, close_server_connection

pytestmark = pytest.mark.timeout(60)

WHERE = f"mitmproxy {MITMPROXY_VERSION} (see masker/proxy/mitm_internals.py)"


def _fail(what: str) -> None:
    pytest.fail(f"{WHERE}: {what}; Masker can no longer close a refused WebSocket connection", pytrace=False)


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
    async with serve(echo, "127.0.0.1", 0) as upstream:
        up_port = upstream.sockets[0].getsockname()[1]
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
