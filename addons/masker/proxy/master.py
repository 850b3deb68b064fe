"""Embedded mitmproxy for ``masker run``: DumpMaster, or WebMaster for the UI.

Embedding (rather than ``mitmdump -s``) means the Masker addons cannot be
unloaded by a failed script reload.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Sequence

from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from masker.proxy.assembly import sidecar_addons

# Production defaults: no flow bodies in logs or on disk. Request bodies stay
# buffered so every request is masked (options.py refuses body streaming).
PRODUCTION_DEFAULTS: dict[str, Any] = {
    "flow_detail": 0,
    # Open the upstream connection only for a request that is forwarded.
    "connection_strategy": "lazy",
    "termlog_verbosity": "info",
    "save_stream_file": None,
    "store_streamed_bodies": False,
    "web_open_browser": False,
}


async def run_master(settings: dict[str, Any], *, web: bool = False, extra: Sequence[str] = ()) -> int:
    """Run until SIGINT/SIGTERM. ``settings`` are mitmproxy and masker_* options,
    ``extra`` further ``option=value`` strings (``--set``)."""
    for name in ("tornado", "asyncio", "hpack"):  # as mitmproxy's own main: tornado.access would log ?token=
        logging.getLogger(name).setLevel(logging.WARNING)
    opts = options.Options()
    termlog = not logging.getLogger().handlers  # the masker CLI may have configured logging already
    if web:
        from mitmproxy.tools.web.master import WebMaster

        master: Any = WebMaster(opts, with_termlog=termlog)
    else:
        master = DumpMaster(opts, with_termlog=termlog, with_dumper=False)
    master.addons.add(*sidecar_addons())
    # Defaults the chosen master does not know (web_* for dump, dumper's flow_detail for web) are skipped.
    merged = {k: v for k, v in {**PRODUCTION_DEFAULTS, **settings}.items() if k in opts or k in settings}
    opts.update(**merged)
    if extra:
        opts.set(*extra)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()
    return 0
