"""Which flows are LLM traffic, and which hosts mitmproxy may intercept.

Regular mode intercepts only the configured LLM hosts (mitmproxy's
``allow_hosts``); everything else is tunnelled blind with its real
certificate. In reverse mode every flow goes to the configured target, which
is an LLM by construction, so it must be intercepted too: its host is added
to ``allow_hosts`` (otherwise mitmproxy would tunnel it raw, unmasked).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from mitmproxy import http
from mitmproxy.proxy import mode_specs

DEFAULT_LLM_HOSTS = ("api.openai.com", "api.anthropic.com", "*.openai.azure.com")
LOCAL_HOST = "masker.local"

_GLOB_RE = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def validate_host_glob(glob: str) -> None:
    """Raise ValueError unless ``glob`` is ``host.name`` or ``*.host.name``."""
    if not _GLOB_RE.match(glob):
        raise ValueError(f"invalid LLM host pattern {glob!r} (use host.name or *.host.name)")


def host_regex(glob: str) -> str:
    """Regex for mitmproxy ``allow_hosts`` (matched against ``host:port``)."""
    validate_host_glob(glob)
    if glob.startswith("*."):
        return rf"^([A-Za-z0-9-]+\.)+{re.escape(glob[2:])}(:\d+)?$"
    return rf"^{re.escape(glob)}(:\d+)?$"


class HostMatcher:
    def __init__(self, globs: Iterable[str]) -> None:
        self._res = [re.compile(host_regex(g), re.IGNORECASE) for g in globs]

    def __call__(self, host: str) -> bool:
        return any(r.match(host) for r in self._res)


@functools.lru_cache(maxsize=8)
def _matcher(globs: tuple[str, ...]) -> HostMatcher:
    return HostMatcher(globs)


def is_llm_host(host: str, globs: Sequence[str]) -> bool:
    return _matcher(tuple(globs))(host)


def reverse_targets(modes: Sequence[str]) -> list[tuple[str, int]]:
    out = []
    for spec in modes:
        mode = mode_specs.ProxyMode.parse(spec)
        if isinstance(mode, mode_specs.ReverseMode):
            out.append(mode.address)
    return out


def allow_hosts_for(globs: Iterable[str], modes: Sequence[str]) -> list[str]:
    rx = [host_regex(g) for g in globs]
    rx += [rf"^{re.escape(h)}:{p}$" for h, p in reverse_targets(modes)]
    return rx


def is_reverse(flow: http.HTTPFlow) -> bool:
    return isinstance(flow.client_conn.proxy_mode, mode_specs.ReverseMode)


def is_llm_flow(flow: http.HTTPFlow, globs: Sequence[str]) -> bool:
    """Whether Masker must mask this flow (fail closed: when in doubt, yes).

    Reverse mode and every TLS-intercepted flow count (``allow_hosts`` lets
    mitmproxy intercept only LLM hosts; the rest is tunnelled blind). A
    plain-HTTP proxy request counts when its host, Host header or SNI names
    an LLM host. The request's own host is not enough on its own: an addon
    redirecting the server connection rewrites it.
    """
    if is_reverse(flow) or flow.client_conn.tls_established:
        return True
    names = {flow.request.host, flow.request.pretty_host, flow.client_conn.sni or ""}
    return any(is_llm_host(n, globs) for n in names if n)


def is_to_proxy_itself(flow: http.HTTPFlow) -> bool:
    """A request addressed to the proxy (``masker.local`` or its own listen address)."""
    host = flow.request.host.lower()
    if host == LOCAL_HOST:
        return True
    if is_reverse(flow) or isinstance(flow.client_conn.proxy_mode, mode_specs.TransparentMode):
        return False  # transparent: sockname is the original destination, not the proxy
    sock = flow.client_conn.sockname
    if not sock or flow.request.port != sock[1]:
        return False
    return host in {str(sock[0]).lower(), "localhost", "127.0.0.1", "::1"}
