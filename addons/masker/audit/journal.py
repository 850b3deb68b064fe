"""The fail-closed, HMAC-chained, append-only audit journal.

``Journal.append`` returns only once its events are on disk (one ``write`` +
``fdatasync`` per group commit; every caller waits for the fsync of the batch that
holds its events). Any failure raises ``AuditUnavailable`` and latches the
journal: every later append is refused, a failed fsync is never retried, and
only ``reverify()`` (a full re-read and verification) unlatches it.

Threads share one leader-based group commit; processes share the directory
through an exclusive ``flock`` on ``journal.lock``, and each writer first reads
(and verifies) whatever other processes appended since its last batch, so the
chain stays unbroken. A torn final line (a crash mid-write) is cut back to the
last whole event under the lock and a ``journal_repaired`` event says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nacl.signing import SigningKey, VerifyKey

from . import checkpoint as cpmod
from .events import AuditUnavailable, Event, utc_now
from .merkle import leaf_hash
from .verify import (
    ANCHOR_FILE,
    CHAIN_OK,
    LOCK_FILE,
    ChainBroken,
    ChainState,
    VerifyResult,
    canonical,
    chain_hash,
    encode_line,
    initial_state,
    journal_files,
    scan,
)

log = logging.getLogger(__name__)

JOURNAL_REPAIRED = "journal_repaired"
JOURNAL_REVERIFIED = "journal_reverified"
JOURNAL_PRUNED = "journal_pruned"
# Detail keys that would hold a request/response text in clear.
_CLEAR_PAYLOAD_KEYS = frozenset({"payload", "plaintext", "value", "original", "body"})


@dataclass(slots=True)
class _Ticket:
    events: list[Event]
    done: bool = False
    error: str | None = None  # the journal failed: AuditUnavailable
    invalid: bool = False  # an event cannot be serialized: the caller's ValueError


class Journal:
    """EventSink writing ``events-YYYY-MM-DD.jsonl`` files in ``directory``.

    With a ``signing_key``, a signed checkpoint goes to ``checkpoint_dir``
    (default: ``directory.parent / "checkpoints"``) every ``checkpoint_every``
    events and on ``close()``; point it at storage the journal host cannot
    rewrite. Construction never raises for journal problems: it latches and
    ``usable`` says why not (``failure``).
    """

    def __init__(
        self,
        directory: Path,
        audit_key: bytes,
        signing_key: SigningKey | None = None,
        *,
        checkpoint_every: int = 1000,
        checkpoint_dir: Path | None = None,
    ) -> None:
        if len(audit_key) != 32:
            raise ValueError("audit key must be 32 bytes")
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        self._dir = Path(directory)
        self._key = bytes(audit_key)
        self._sk = signing_key
        self._every = checkpoint_every
        self._cp_dir = Path(checkpoint_dir) if checkpoint_dir is not None else self._dir.parent / "checkpoints"
        self._cv = threading.Condition(threading.Lock())
        self._pending: list[_Ticket] = []
        self._busy = False  # a leader is committing, or reverify/prune/close runs
        self._failure: str | None = None
        self._closed = False
        self._state = ChainState()
        self._fd: int | None = None  # open day file, O_APPEND
        self._fd_name: str | None = None
        self._lock_fd: int | None = None
        self._last_checkpoint = -1
        self._next_checkpoint = checkpoint_every
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
            self._state = initial_state(self._dir, self._verify_key())
            err = self._commit([])
        except (OSError, ChainBroken) as exc:
            err = _reason(exc)
        if err:
            self._latch(err)
        self._next_checkpoint = (self._state.size // self._every + 1) * self._every

    # -- public -------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self._failure is None and not self._closed

    @property
    def failure(self) -> str | None:
        """Why the journal refuses appends (no PHI: kinds of errors and seqs only)."""
        return "journal closed" if self._closed and self._failure is None else self._failure

    @property
    def size(self) -> int:
        """Events appended so far by anyone, as of this writer's last batch."""
        return self._state.size

    def append(self, events: Sequence[Event]) -> None:
        """Make ``events`` durable, in order and contiguous; raise AuditUnavailable otherwise."""
        batch = list(events)
        for ev in batch:
            if _CLEAR_PAYLOAD_KEYS & ev.detail.keys():
                raise ValueError("event detail must not carry a payload in clear (use payload_enc)")
        ticket = _Ticket(batch)
        with self._cv:
            self._refuse_if_unusable()
            if not batch:
                return
            self._pending.append(ticket)
            while not ticket.done:
                if not self.usable:
                    ticket.done, ticket.error = True, self.failure
                    self._pending.remove(ticket)
                elif not self._busy:
                    self._lead()
                else:
                    self._cv.wait()
        if ticket.error is not None:
            raise AuditUnavailable(f"audit journal unavailable: {ticket.error}")
        if ticket.invalid:
            raise ValueError("event cannot be serialized as canonical JSON (detail must hold JSON values)")

    def reverify(self) -> VerifyResult:
        """Re-read and verify the whole journal (repairing a torn tail); unlatch on success."""
        with self._exclusive():
            self._close_fd()
            try:
                self._state = initial_state(self._dir, self._verify_key())
                previous = self._failure
                note = Event(kind=JOURNAL_REVERIFIED, reason="journal verified after a failure" if previous else None)
                err = self._commit([_Ticket([note])] if previous else [])
            except (OSError, ChainBroken) as exc:
                err = _reason(exc)
            if err:
                self._failure = err
                return VerifyResult(False, 0, err, self._state.size)
            self._failure = None
            st = self._state
            return VerifyResult(True, st.size - st.first_seq, CHAIN_OK, None, st.size, st.last_hash, st.tree.root().hex())

    def prune(self, retention_days: int) -> int:
        """Delete whole day files older than ``retention_days``; returns how many.

        The newest file is always kept. Before deleting, a signed anchor
        checkpoint at the cut is written to ``anchor.json`` (and exported to
        the checkpoint directory), so the rest still verifies.
        """
        if self._sk is None:
            raise ValueError("pruning needs a signing key (the cut is anchored by a signed checkpoint)")
        cutoff = (_utc_now() - timedelta(days=retention_days)).strftime("events-%Y-%m-%d.jsonl")
        with self._exclusive():
            self._refuse_if_unusable()
            try:
                self._flock()
                try:
                    files = journal_files(self._dir)
                    doomed = [p for p in files[:-1] if p.name < cutoff]
                    if not doomed:
                        return 0
                    cut = initial_state(self._dir, self._verify_key())
                    first_kept = next(p.name for p in files if p.name > doomed[-1].name)
                    scan(self._dir, self._key, cut, stop_before=first_kept)
                    anchor = cpmod.sign(self._sk, cpmod.ANCHOR, cut.last_hash, cut.tree, utc_now())
                    cpmod.save(anchor, self._cp_dir / cpmod.file_name(anchor))
                    cpmod.save(anchor, self._dir / ANCHOR_FILE)
                    for p in doomed:
                        p.unlink()
                    cpmod.fsync_dir(self._dir)
                    self._state.first_seq = cut.size
                finally:
                    self._funlock()
                note = Event(
                    kind=JOURNAL_PRUNED,
                    reason=f"retention {retention_days} days",
                    detail={"files_removed": len(doomed), "cut_seq": cut.size},
                )
                err = self._commit([_Ticket([note])])
            except (OSError, ChainBroken) as exc:
                err = _reason(exc)
            if err:
                self._latch(err)
                raise AuditUnavailable(f"audit journal unavailable: {err}")
            return len(doomed)

    def close(self) -> None:
        """Write a final checkpoint (with a signing key) and release the files."""
        with self._exclusive():
            if self._closed:
                return
            try:
                if self._failure is None and self._sk is not None and self._state.size != self._last_checkpoint:
                    self._flock()
                    try:
                        self._write_checkpoint()
                    finally:
                        self._funlock()
            finally:
                self._closed = True
                self._close_fd()
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- group commit -------------------------------------------------------

    def _lead(self) -> None:
        """Called with the condition held: commit everything pending, then wake all."""
        batch, self._pending = self._pending, []
        self._busy = True
        self._cv.release()
        try:
            err = self._commit(batch)
        finally:
            self._cv.acquire()
            self._busy = False
        for t in batch:
            t.done, t.error = True, err
        if err is not None:
            self._latch(err)
        self._cv.notify_all()

    def _commit(self, batch: list[_Ticket]) -> str | None:
        """Write ``batch`` (after any repair note) with one write + fsync; the reason on failure."""
        if self._lock_fd is None:
            return "journal closed"
        try:
            self._flock()
        except OSError as exc:
            return _reason(exc)
        start = None
        try:
            repairs = _Ticket(self._sync_tail())
            state = self._state.copy()
            lines: list[bytes] = []
            for ticket in [repairs, *batch]:
                mark = (len(lines), state.size, state.last_hash, state.tree.copy())
                try:
                    for ev in ticket.events:
                        doc = ev.to_json()
                        doc["seq"] = state.size
                        body = canonical(doc)
                        curr = chain_hash(self._key, state.last_hash, body)
                        lines.append(encode_line(body, state.last_hash, curr))
                        state.size, state.last_hash = state.size + 1, curr
                        state.tree.append(leaf_hash(body))
                except (ValueError, TypeError):  # not JSON: refuse this append only
                    ticket.invalid = True
                    del lines[mark[0] :]
                    state.size, state.last_hash, state.tree = mark[1], mark[2], mark[3]
            if not lines:
                return None
            fd = self._open_day_file()
            data = b"".join(lines)
            start = os.fstat(fd).st_size
            _write_all(fd, data)
            _sync_data(fd)
            state.file, state.offset = self._fd_name, start + len(data)
            self._state = state
            if self._sk is not None and state.size >= self._next_checkpoint:
                self._write_checkpoint()
            return None
        except (OSError, ChainBroken, ValueError, TypeError) as exc:
            if start is not None and self._fd is not None:
                # Drop the unacknowledged batch so no torn line is left; the fd
                # is then closed and never fsynced again.
                try:
                    os.ftruncate(self._fd, start)
                except OSError:
                    pass
            self._close_fd()
            return _reason(exc)
        finally:
            self._funlock()

    def _sync_tail(self) -> list[Event]:
        """Under the lock: read what other writers appended; cut a torn tail.

        Returns the repair events to write before the batch.
        """
        st = self._state
        # Nobody else appended if our file is still the newest (a newer one can
        # only be today's) and has not grown.
        if st.file is not None and st.file >= _day_file_name():
            try:
                if os.stat(self._dir / st.file).st_size == st.offset:
                    return []
            except FileNotFoundError:
                pass
        files = journal_files(self._dir)
        if st.file is not None and st.file not in {p.name for p in files}:
            st = self._state = initial_state(self._dir, self._verify_key())
        try:
            scan(self._dir, self._key, st)
            return []
        except ChainBroken as exc:
            if not exc.torn or exc.file is None:
                raise
            path = self._dir / exc.file
            removed = os.stat(path).st_size - exc.offset
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.ftruncate(fd, exc.offset)
                os.fsync(fd)
            finally:
                os.close(fd)
            st.file, st.offset = exc.file, exc.offset
            log.warning("audit journal: cut a torn final line (%d bytes) after seq %d", removed, st.size - 1)
            return [
                Event(
                    kind=JOURNAL_REPAIRED,
                    reason="torn final line removed (incomplete write before a crash)",
                    detail={"file": exc.file, "offset": exc.offset, "bytes_removed": removed, "after_seq": st.size - 1},
                )
            ]

    def _open_day_file(self) -> int:
        name = max(_day_file_name(), self._state.file or "")  # never write before the newest file
        if self._fd is not None and self._fd_name == name:
            return self._fd
        self._close_fd()
        path = self._dir / name
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._fd_name = name
        if created:
            cpmod.fsync_dir(self._dir)
        return self._fd

    def _write_checkpoint(self) -> None:
        assert self._sk is not None
        cp = cpmod.sign(self._sk, cpmod.CHECKPOINT, self._state.last_hash, self._state.tree, utc_now())
        cpmod.save(cp, self._cp_dir / cpmod.file_name(cp))
        self._last_checkpoint = cp.size
        self._next_checkpoint = (cp.size // self._every + 1) * self._every

    # -- helpers ------------------------------------------------------------

    def _verify_key(self) -> VerifyKey | None:
        return self._sk.verify_key if self._sk is not None else None

    def _refuse_if_unusable(self) -> None:
        if not self.usable:
            raise AuditUnavailable(f"audit journal unavailable: {self.failure}")

    def _latch(self, reason: str) -> None:
        if self._failure is None:
            log.error("audit journal latched unavailable: %s", reason)
        self._failure = reason

    def _exclusive(self) -> _Exclusive:
        return _Exclusive(self)

    def _flock(self) -> None:
        if self._lock_fd is None:
            raise OSError("journal closed")
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _funlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd, self._fd_name = None, None


class _Exclusive:
    """Hold the journal against group commits (waits for a running leader)."""

    def __init__(self, journal: Journal) -> None:
        self._j = journal

    def __enter__(self) -> None:
        j = self._j
        with j._cv:
            while j._busy:
                j._cv.wait()
            j._busy = True

    def __exit__(self, *exc: object) -> None:
        j = self._j
        with j._cv:
            j._busy = False
            j._cv.notify_all()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


_day_cache: list = [-1, ""]


def _day_file_name() -> str:
    """The file an append goes to now (UTC day); tests replace it to make old days."""
    day = int(time.time() // 86400)
    if day != _day_cache[0]:
        _day_cache[:] = [day, datetime.fromtimestamp(day * 86400, timezone.utc).strftime("events-%Y-%m-%d.jsonl")]
    return _day_cache[1]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError("short write")
        view = view[n:]


def _reason(exc: BaseException) -> str:
    """A PHI-free reason: the error class and errno text, or a ChainBroken message."""
    if isinstance(exc, ChainBroken):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def _sync_data(fd: int) -> None:
    """Make appended bytes durable: ``fdatasync`` where the OS has it, else ``fsync``.

    ``fdatasync`` flushes the data and the metadata needed to read it back
    (the file size), skipping only timestamps; it is what write-ahead logs
    such as PostgreSQL's and SQLite's use on Linux, and on ext4 it is often an
    order of magnitude faster than ``fsync`` for an append.
    """
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)
