"""Agent changes between replicas: PostgreSQL ``NOTIFY`` on a change, ``LISTEN`` in every sidecar.

A store that changes an agent sends ``NOTIFY masker_agents`` with its
process's ``ORIGIN`` in the same transaction (delivered only if it
commits). ``ChangeListener`` holds one connection that listens, skips its
own process's notifications (that process reloaded already), and calls
``on_change`` once per burst of changes. A lost connection is reconnected
with backoff, and ``on_change`` is called after every reconnection:
notifications sent while it was away are gone, so it reloads anyway.
Between notifications it calls ``on_idle`` every ``idle_s`` seconds (the
proxy pings the vault there, so readiness notices a database that went
away while no request came).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import psycopg

from masker.db import describe

log = logging.getLogger("masker.db")

CHANNEL = "masker_agents"
ORIGIN = uuid.uuid4().hex  # this process: its own notifications are not news to it
BURST_S = 0.2  # notifications this close together cause one reload
POLL_S = 0.5  # how often the thread looks at its stop flag
RECONNECT_MAX_S = 10.0


def notify(conn: psycopg.Connection) -> None:
    """Announce an agent change (inside the changing transaction)."""
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, ORIGIN))


class ChangeListener:
    """A daemon thread that listens for agent changes made by other processes."""

    def __init__(self, url: str, on_change: Callable[[str], object], *,
                 on_idle: Callable[[], None] | None = None, idle_s: float = 5.0, origin: str = ORIGIN) -> None:
        self._url = url
        self._origin = origin  # notifications with this payload are skipped
        self._on_change = on_change
        self._on_idle = on_idle
        self._idle_s = idle_s
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while a connection listens (tests wait on it)
        self._thread = threading.Thread(target=self._loop, name="masker-agent-changes", daemon=True)

    def start(self) -> ChangeListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (within ``POLL_S``) and close the connection."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        delay, first = 0.5, True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if not first:
                        log.info("listening for agent changes on %s again", describe(self._url))
                        self._call("agents may have changed while the database was unreachable")
                    first, delay = False, 0.5
                    self._listen(conn)
            except psycopg.Error as e:
                if self._stop.is_set():
                    break
                log.warning("agent change listener lost %s (%s); retrying in %.1f s",
                            describe(self._url), type(e).__name__, delay)
            finally:
                self.listening.clear()
            if self._idle():
                self._stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _listen(self, conn: psycopg.Connection) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            news = [n for n in conn.notifies(timeout=POLL_S, stop_after=1) if n.payload != self._origin]
            if news:
                list(conn.notifies(timeout=BURST_S))  # the rest of the burst: one reload for all
                self._call("agents changed on another replica")
            elif time.monotonic() - idle_since >= self._idle_s:
                idle_since = time.monotonic()
                self._idle()

    def _call(self, reason: str) -> None:
        try:
            self._on_change(reason)
        except Exception as e:  # noqa: BLE001 - the listener must survive a failed reload
            log.error("reload after an agent change failed: %s", type(e).__name__)

    def _idle(self) -> bool:
        if self._on_idle is not None and not self._stop.is_set():
            try:
                self._on_idle()
            except Exception as e:  # noqa: BLE001
                log.warning("database idle check failed: %s", type(e).__name__)
        return not self._stop.is_set()
