"""Journals after-the-fact audit events off the event loop, in batches.

What must be durable *before* a request is forwarded (detection and
redaction events) is journaled by ``engine.mask_texts`` itself, in the
request's thread: fail closed. What is only known later (``request_forwarded``
and the response's ``rehydration`` events, ``request_blocked``) needs no
client to wait for an fsync: it is queued here, and one background thread
appends whatever has queued up (a short ``window`` lets concurrent requests
share one append, i.e. one fsync).

A ``request_forwarded`` event is *held* per flow from the moment the request
leaves until its response (or error) is complete, then queued together with
the response's rehydration events: one append per request instead of two.

If an append fails, the recorder latches (``failure``): the events of that
batch are lost from the journal (the error log says how many), and Masker
refuses every LATER request with 503 ``audit_unavailable`` until restarted.
The response that was already delivered cannot be taken back; that is the
price of not delaying responses by an fsync. ``close`` (mitmproxy ``done``,
or an engine rebuild) queues every held event and waits for the last append,
so a clean shutdown loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence

from masker.audit.events import Event

log = logging.getLogger("masker.proxy")

DEFAULT_WINDOW_S = 0.02
CLOSE_TIMEOUT_S = 30.0


class AuditRecorder:
    """``record`` is the durable sink (``engine.record``); it runs only on the recorder thread."""

    def __init__(self, record: Callable[[Sequence[Event]], None], *, window: float = DEFAULT_WINDOW_S) -> None:
        self._record = record
        self._window = window
        self._cv = threading.Condition()
        self._queue: list[Event] = []
        self._held: dict[Hashable, Event] = {}
        self._queued = 0  # events ever queued
        self._settled = 0  # events appended or lost
        self._flush_to = 0  # a flush() waits until _settled reaches this: no batching window
        self._closing = False
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._run, name="masker-audit-recorder", daemon=True)
        self._thread.start()

    def hold(self, key: Hashable, event: Event) -> None:
        """Keep ``event`` until ``release(key)`` (or ``close``) queues it."""
        with self._cv:
            self._held[key] = event

    def release(self, key: Hashable, events: Sequence[Event] = ()) -> None:
        """Queue the event held for ``key`` (if any) followed by ``events``, as one batch."""
        with self._cv:
            held = self._held.pop(key, None)
            self._enqueue(([held] if held is not None else []) + list(events))

    def record(self, events: Sequence[Event]) -> None:
        with self._cv:
            self._enqueue(list(events))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is appended (or lost); False on timeout."""
        with self._cv:
            target = self._queued
            self._flush_to = max(self._flush_to, target)
            self._cv.notify_all()
            return self._cv.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Queue every held event, append everything, stop the thread."""
        with self._cv:
            held, self._held = list(self._held.values()), {}
            self._enqueue(held)
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("masker audit recorder did not finish within %.0fs; events may be missing", timeout)

    @property
    def pending(self) -> int:
        """Events queued or held but not yet appended."""
        with self._cv:
            return self._queued - self._settled + len(self._held)

    def _enqueue(self, events: list[Event]) -> None:
        if not events:
            return
        if self._closing:
            log.error("masker audit recorder is closed; %d event(s) not journaled", len(events))
            return
        self._queue.extend(events)
        self._queued += len(events)
        self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return  # closing and drained
                # let concurrent requests join this append, unless someone is waiting
                self._cv.wait_for(lambda: self._closing or self._flush_to > self._settled, self._window)
                batch, self._queue = self._queue, []
            try:
                self._record(batch)
            except Exception as e:  # noqa: BLE001 - latch: later requests are refused
                if self.failure is None:
                    self.failure = f"audit journal append failed: {type(e).__name__}"
                log.error("masker audit recorder could not journal %d event(s): %s; refusing new requests",
                          len(batch), type(e).__name__)
            with self._cv:
                self._settled += len(batch)
                self._cv.notify_all()
