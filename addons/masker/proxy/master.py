"""Embedded mitmproxy for ``masker run``: DumpMaster, or WebMaster for the UI.

Embedding (rather than ``mitmdump -s``) means the Masker addons cannot be
unloaded by a failed script reload.

Start-up says what is true: ``StartupReport`` (added after the sidecar
addons, so its ``running`` hook comes after the engine is built) logs each
listener that actually listens, with its mode, then ``ready in X s``; with
``--web`` it prints the mitmweb URL once on stderr (with its token when no
``MASKER_WEB_PASSWORD`` is set; the URL is kept out of the log). If the
engine could not be built, nothing says "ready" and ``run_master`` returns 1.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from mitmproxy import ctx, options
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.tools.dump import DumpMaster
from mitmproxy.utils import human

from masker import logs
from masker.proxy import routing
from masker.proxy.assembly import sidecar_addons

log = logging.getLogger("masker")

# Production defaults: no flow bodies in logs or on disk. Request bodies stay
# buffered so every request is masked (options.py refuses body streaming).
# Streamed responses are not stored by mitmproxy (it would keep every byte):
# under --web, masker.proxy.flow_marks keeps a bounded copy for display.
PRODUCTION_DEFAULTS: dict[str, Any] = {
    "flow_detail": 0,
    # Open the upstream connection only for a request that is forwarded.
    "connection_strategy": "lazy",
    "termlog_verbosity": "info",
    "save_stream_file": None,
    "store_streamed_bodies": False,
    "web_open_browser": False,
}


def describe_mode(mode: ProxyMode, llm_hosts: Sequence[str] = (), address: str = "HOST:PORT") -> str:
    """What a listener of ``mode`` does, in words."""
    kind = mode.type_name
    if kind == "regular":
        hosts = ", ".join(llm_hosts) or "no host"
        return f"regular proxy (HTTPS_PROXY=http://AGENT@{address}): masks {hosts}; tunnels other hosts untouched"
    if kind == "reverse":
        return f"reverse proxy to {mode.data} (base_url http://{address}/proxy/AGENT/...)"
    return f"{mode.description} ({mode.full_spec})"


def listener_lines(servers: Any, llm_hosts: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(lines for listeners that listen, problems of those that do not)."""
    up: list[str] = []
    down: list[str] = []
    for server in servers:
        spec = server.mode.full_spec
        if not server.is_running:
            reason = type(server.last_exception).__name__ if server.last_exception else "not running"
            down.append(f"{spec}: {reason}")
            continue
        addrs = [human.format_address(a) for a in server.listen_addrs] or ["?"]
        client = addrs[0].replace("*", "127.0.0.1", 1)
        up.append(f"{', '.join(dict.fromkeys(addrs))}: {describe_mode(server.mode, llm_hosts, client)}")
    return up, down


class StartupReport:
    """Logs what listens and ``ready in X s`` once start-up is over (see the module doc)."""

    def __init__(self, started: float, *, web: bool = False) -> None:
        self.started = started
        self.web = web
        self.failed: str | None = None
        self._llm_hosts: Sequence[str] = routing.DEFAULT_LLM_HOSTS  # the options' defaults until configure
        self._web_password = False

    def configure(self, updated: set[str]) -> None:
        if "masker_llm_hosts" in updated:
            self._llm_hosts = tuple(ctx.options.masker_llm_hosts)
        if "web_password" in updated:
            self._web_password = bool(ctx.options.web_password)

    def running(self) -> None:
        holder = ctx.master.addons.get("engineholder")
        problem = holder.startup_failure if holder is not None else "no engine holder"
        if problem:
            # The holder logged why and asked mitmproxy to shut down; run_master returns 1. Its
            # start-up error check would exit too, with a line of its own that is no log line
            # (it would break --log-format json): the errors are handled here.
            self.failed = problem
            checker = ctx.master.addons.get("errorcheck")
            errored = getattr(getattr(checker, "logger", None), "has_errored", None)
            if isinstance(errored, list):
                errored.clear()
            ctx.master.shutdown()
            return
        server = ctx.master.addons.get("proxyserver")
        up, down = listener_lines(server.servers if server is not None else [], self._llm_hosts)
        for line in down:
            log.error("masker listener not running: %s", line)
        for line in up:
            log.info("listening on %s", line)
        if self.web:
            self._print_web_url()
        log.info("masker ready in %.1f s (%s; data dir %s)", time.monotonic() - self.started,
                 holder.describe(), holder.data_dir)

    def _print_web_url(self) -> None:
        url = getattr(ctx.master, "web_url", None)  # WebMaster only
        if not url:
            return
        if self._web_password:
            how = "log in with $MASKER_WEB_PASSWORD"
        else:
            how = "the token in this URL is the password, printed only here, never logged; set MASKER_WEB_PASSWORD to fix one"
        print(f"masker: mitmweb UI at {url} ({how}). It shows rehydrated responses (PHI): debugging only.",
              file=sys.stderr, flush=True)


async def run_master(
    settings: dict[str, Any], *, web: bool = False, extra: Sequence[str] = (), started: float | None = None
) -> int:
    """Run until SIGINT/SIGTERM. ``settings`` are mitmproxy and masker_* options,
    ``extra`` further ``option=value`` strings (``--set``). Returns 1 when the
    engine could not be built at start-up."""
    for name in ("tornado", "asyncio", "hpack"):  # as mitmproxy's own main: tornado.access would log ?token=
        logging.getLogger(name).setLevel(logging.WARNING)
    opts = options.Options()
    # One log configuration (masker.logs) for Masker and mitmproxy: mitmproxy's termlog only without it.
    termlog = not logs.configured()
    if web:
        from mitmproxy.tools.web.master import WebMaster

        master: Any = WebMaster(opts, with_termlog=termlog)
    else:
        master = DumpMaster(opts, with_termlog=termlog, with_dumper=False)
    report = StartupReport(started if started is not None else time.monotonic(), web=web)
    master.addons.add(*sidecar_addons())
    master.addons.add(report)
    # Defaults the chosen master does not know (web_* for dump, dumper's flow_detail for web) are skipped.
    merged = {k: v for k, v in {**PRODUCTION_DEFAULTS, **settings}.items() if k in opts or k in settings}
    opts.update(**merged)
    if extra:
        opts.set(*extra)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()
    return 1 if report.failed else 0
