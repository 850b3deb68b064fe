"""The admin listener: an authenticated HTTP API and the live firewall view.

It runs in the proxy process, on its own address (``--admin-listen``,
default ``127.0.0.1:8090``), never on the proxy port, and is off unless
``MASKER_ADMIN_TOKEN`` is set. ``app.make_app`` builds the tornado
application from an ``AdminBackend`` (``backend.py``); the mitmproxy glue
that starts and stops it is ``masker.proxy.admin_listener``.
"""
