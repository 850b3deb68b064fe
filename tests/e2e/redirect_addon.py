"""Test-only mitmproxy addon: send api.openai.com / api.anthropic.com /
other.example to the local fake upstream (port in $FAKE_UPSTREAM_PORT),
keeping SNI so the upstream certificate check still uses the real name.
Use with connection_strategy=lazy (as `masker run` does): with eager
connections mitmproxy derives the request host from the redirected address."""

import os

HOSTS = {"api.openai.com", "api.anthropic.com", "other.example"}


def server_connect(data) -> None:
    addr = data.server.address
    if addr and addr[0] in HOSTS:
        data.server.sni = data.server.sni or addr[0]
        data.server.address = ("127.0.0.1", int(os.environ["FAKE_UPSTREAM_PORT"]))
