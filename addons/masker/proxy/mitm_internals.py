"""The only place Masker uses mitmproxy internals instead of its addon API.

Why it is needed: after refusing a Realtime WebSocket message, Masker must
close the connection (fail closed). mitmproxy 12 has no public way to close a
live WebSocket: ``flow.kill()`` (and the ``flow.kill`` command) only marks the
flow, the WebSocket layer never checks it (mitmproxy issues #4773, #4711), and
``inject.websocket`` sends text or binary messages, never a close frame. So,
as mitmproxy's own ``inject.*`` commands do (``Proxyserver.inject_event``),
this module looks up the flow's live connection handler in the proxyserver
addon and has it close the upstream connection: the WebSocket layer then sees
the server gone and closes the client with a close frame. Closing the upstream
side (not the client's) keeps the client's transport until the layer is done,
so what was queued before (Masker's injected error event) still reaches the
client, in order.

What it relies on (same in mitmproxy 12.2.1 and 12.3.1;
``mitmproxy/addons/proxyserver.py``, ``mitmproxy/proxy/server.py``):

- ``Proxyserver.connections``: a dict from the client connection's ``id`` to
  its ``ConnectionHandler``, one entry per live client connection
  (``Proxyserver.register_connection``);
- ``ConnectionHandler.transports``: a dict keyed by the ``Connection`` objects
  (client, servers) the handler has open;
- ``ConnectionHandler.close_connection(connection, half_close=False)``: marks
  the connection closed and cancels its reader; the layers then get
  ``ConnectionClosed``.

``tests/test_mitm_internals.py`` checks each of these against the installed
mitmproxy and closes a real WebSocket through a real proxy, so an upgrade that
changes them fails there, naming the version. Should they change anyway at run
time, ``close_server_connection`` logs it and returns False: Masker then drops
every later message of the flow (still fail closed) but cannot close it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from mitmproxy import ctx, http
from mitmproxy.version import VERSION as MITMPROXY_VERSION

log = logging.getLogger("masker.proxy")

__all__ = ["MITMPROXY_VERSION", "close_server_connection"]


def close_server_connection(flow: http.HTTPFlow) -> bool:
    """Close ``flow``'s upstream connection; False when it is not (or no longer) live.

    Never raises: it runs in the failure path of a hook.
    """
    try:
        server = ctx.master.addons.get("proxyserver")
        connections = getattr(server, "connections", None)
        if not isinstance(connections, Mapping):
            raise AttributeError("Proxyserver.connections is not a mapping")
        handler = connections.get(flow.client_conn.id)
        if handler is None or flow.server_conn not in handler.transports:
            return False
        handler.close_connection(flow.server_conn)
        return True
    except Exception as e:  # noqa: BLE001 - see the module docstring: internals changed
        log.error("masker cannot close a connection through mitmproxy %s's proxy server (%s: %s); "
                  "see masker.proxy.mitm_internals", MITMPROXY_VERSION, type(e).__name__, e)
        return False
