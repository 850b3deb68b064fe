"""Policy reload on SIGHUP and, with ``masker_policy_watch``, when the policy file changes.

Both call ``EngineHolder.reload`` in a thread (it validates, builds and
journals: blocking work), one reload at a time. The watch polls the file
every ``WATCH_INTERVAL_S``: a change of its bytes (not its mtime alone)
triggers a reload; an editor's half-written file fails validation and the
running policy stays until the next complete write. The admin API's
``POST /api/v1/admin/policy/reload`` is the third way (``masker.admin``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from pathlib import Path
from typing import Any

from mitmproxy import ctx

from masker.proxy.engine_holder import EngineHolder

log = logging.getLogger("masker.proxy")

WATCH_INTERVAL_S = 1.0


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class PolicyReloader:
    def __init__(self, holder: EngineHolder) -> None:
        self._holder = holder
        self._watch: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        self._watch_file_changes = False

    def load(self, loader: Any) -> None:
        loader.add_option("masker_policy_watch", bool, False, "Reload the policy when the policy file's content changes.")

    def configure(self, updated: set[str]) -> None:
        if "masker_policy_watch" in updated:
            self._watch_file_changes = bool(ctx.options.masker_policy_watch)

    def running(self) -> None:
        if self._holder.startup_failure:
            return
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload("SIGHUP")))
            self._signal_loop = loop
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests), or no SIGHUP
            log.info("policy reload on SIGHUP unavailable here; use POST /api/v1/admin/policy/reload")
        if self._watch_file_changes and self._watch is None:
            path = self._holder.policy_file
            # read now, not when the task first runs: a change in between would be taken for the start
            self._watch = asyncio.ensure_future(self._watch_file(path, _digest(path)))

    async def reload(self, reason: str) -> None:
        async with self._busy:
            await asyncio.to_thread(self._holder.reload, reason)

    async def _watch_file(self, path: Path, seen: str | None) -> None:
        log.info("watching %s: a changed policy file is reloaded", path)
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = await asyncio.to_thread(_digest, path)
            if now is not None and now != seen:
                seen = now
                await self.reload("policy file changed")

    def done(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._signal_loop is not None:
            self._signal_loop.remove_signal_handler(signal.SIGHUP)
            self._signal_loop = None
