"""Progress lines for long audit operations, for a person at a terminal.

Written to a stream (stderr) only when that stream is a TTY, so pipes, logs
and scripts see nothing; counts are redrawn in place at most every
``interval`` seconds. Lines carry counts and stage names, never values.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """``count("verifying journal", 12000, 48000)`` -> ``verifying journal: 12000/48000 events``."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self.stream) if enabled is None else enabled
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")
        self._open = False  # a count line is drawn and not yet ended

    def count(self, label: str, done: int, total: int | None = None, unit: str = "events") -> None:
        """Redraw ``label: done/total unit`` (throttled; the final count always shows)."""
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last < self.interval and done != total:
            return
        self._last = now
        of = f"/{total}" if total is not None else ""
        self.stream.write(f"\r{label}: {done}{of} {unit}\x1b[K")
        self.stream.flush()
        self._open = True

    def stage(self, label: str) -> None:
        """Start a new step: ends any count line, then prints ``label``."""
        if not self.enabled:
            return
        self.end()
        self.stream.write(f"{label}\n")
        self.stream.flush()

    def end(self) -> None:
        """End the current count line, if any."""
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
            self._last = float("-inf")


SILENT = Progress(enabled=False)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
