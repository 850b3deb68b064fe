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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from masker import metrics
from masker.ids import id_problem

from . import checkpoint as cpmod
from . import integrity
from .events import JOURNAL_TRUNCATED, AuditUnavailable, Event, utc_now
from .integrity import JournalIntegrityError, UntrustedCheckpoint
from .keys import SIGNING_KEY_OLD_ENV, KeyPin, fingerprint
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
from .witness import Published, WitnessError, Witnesses

log = logging.getLogger(__name__)

JOURNAL_REPAIRED = "journal_repaired"
JOURNAL_REVERIFIED = "journal_reverified"
JOURNAL_PRUNED = "journal_pruned"
REPLICA_FILE = "replica-id"  # in the journal directory: this chain's replica id (see load_replica_id)
# Detail keys that would hold a request/response text in clear.
_CLEAR_PAYLOAD_KEYS = frozenset({"payload", "plaintext", "value", "original", "body"})


@dataclass(frozen=True, slots=True)
class _AcceptLoss:
    checkpoint: Path | None  # the checkpoint the journal fell short of (None: the newest)


def default_origin(key: VerifyKey) -> str:
    """``masker.local/audit/<first 16 hex of the key fingerprint>``: a stable name for a log (C2SP origin)."""
    return f"masker.local/audit/{fingerprint(key)[7:23]}"


def load_replica_id(directory: Path, wanted: str | None) -> str:
    """The replica id of the journal in ``directory``, written to ``REPLICA_FILE`` on first use.

    A new journal takes ``wanted`` (``MASKER_REPLICA_ID``) or a random
    ``r-<uuid4>``; a journal that has one keeps it, and a different
    ``wanted`` (or an invalid stored id) raises ``JournalIntegrityError``:
    one chain, one replica id, or the sidecar does not start.
    """
    path = Path(directory) / REPLICA_FILE
    try:
        stored = path.read_text("ascii").strip()
    except FileNotFoundError:
        stored = None
    if stored is not None:
        if id_problem(stored) is not None:
            raise JournalIntegrityError(f"{path.name} does not hold a valid replica id")
        if wanted is not None and wanted != stored:
            raise JournalIntegrityError(
                f"this journal's replica id is {stored!r} ({path.name}); MASKER_REPLICA_ID differs")
        return stored
    replica = wanted or f"r-{uuid.uuid4()}"  # a canonical UUID always passes id_problem
    cpmod.write_atomic(path, replica.encode("ascii") + b"\n")
    return replica


def _valid_origin(origin: str) -> bool:
    return bool(origin) and "+" not in origin and not any(c.isspace() for c in origin) and origin.isprintable()


@dataclass(slots=True)
class _Ticket:
    events: list[Event]
    done: bool = False
    error: str | None = None  # the journal failed: AuditUnavailable
    invalid: bool = False  # an event cannot be serialized: the caller's ValueError


class Journal:
    """EventSink writing ``events-YYYY-MM-DD.jsonl`` files in ``directory``.

    With a ``signing_key``, a signed checkpoint (JSON and a C2SP note) goes to
    ``checkpoint_dir`` (default: ``directory.parent / "checkpoints"``) and to
    every witness every ``checkpoint_every`` events, on start when events were
    added, and on ``close()``; point it at storage the journal host cannot
    rewrite. Construction never raises for journal problems: it latches and
    ``usable`` says why not (``failure``).

    On open (under the lock) the whole journal is verified against what was
    signed about it (``masker.audit.integrity``): the pinned signing key, the
    accepted truncations, the newest checkpoint of the current epoch in
    ``checkpoint_dir`` and in every witness directory. A journal shorter than,
    or different from, one of them, or pinned to another key, latches and
    ``integrity_error`` holds the ``JournalIntegrityError`` (the runtime raises
    it: the sidecar must not start). A torn final line is cut only when no
    checkpoint covers it. With ``pin_key`` (default) and a signing key, a new
    journal starts with a signed ``journal_opened`` event (an older, unpinned
    one gets it appended); a journal pinned to ``previous_signing_key`` gets a
    ``signing_key_rotated`` event, signed by both keys.
    """

    def __init__(
        self,
        directory: Path,
        audit_key: bytes,
        signing_key: SigningKey | None = None,
        *,
        checkpoint_every: int = 1000,
        checkpoint_dir: Path | None = None,
        previous_signing_key: SigningKey | None = None,
        witnesses: Witnesses | None = None,
        origin: str | None = None,
        replica_id: str | None = None,
        pin_key: bool = True,
        _accept: _AcceptLoss | None = None,
    ) -> None:
        if len(audit_key) != 32:
            raise ValueError("audit key must be 32 bytes")
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        if origin is not None and not _valid_origin(origin):
            raise ValueError("the audit origin must be a non-empty line without spaces or '+' (e.g. example.com/masker)")
        if replica_id is not None and (problem := id_problem(replica_id)) is not None:
            raise ValueError(f"the replica id {problem}")
        self._dir = Path(directory)
        self._key = bytes(audit_key)
        self._sk = signing_key
        self._prev_sk = previous_signing_key
        self._witnesses = witnesses if witnesses else None
        self._pin_key = pin_key
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
        self._origin = origin or (default_origin(signing_key.verify_key) if signing_key is not None else "")
        self._epoch = 0
        self._replica = ""  # set on open (load_replica_id); every event and checkpoint names it
        self._trusted: KeyPin | None = KeyPin([signing_key.verify_key]) if signing_key is not None else None
        self.integrity_error: JournalIntegrityError | None = None
        self.accepted: dict[str, Any] | None = None  # the journal_truncated statement, in accept mode
        err: str | None = None
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._replica = load_replica_id(self._dir, replica_id)
            self._lock_fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
            self._flock()
            try:
                opening = self._open_checks(_accept)
                err = self._commit([_Ticket(opening)] if opening else [])
                if err is None and opening and any(e.kind == JOURNAL_TRUNCATED for e in opening):
                    self._epoch += 1
            finally:
                self._funlock()
            if err is None:
                err = self._checkpoint_at_open()
        except JournalIntegrityError as exc:
            self.integrity_error = exc
            err = str(exc)
        except (OSError, ChainBroken, ValueError) as exc:
            err = _reason(exc)
        if err:
            self._latch(err)
        self._next_checkpoint = (self._state.size // self._every + 1) * self._every

    def _read_heads(self, every: bool = False) -> list[cpmod.SignedHead]:
        """The newest checkpoint of each epoch (``every``: all of them) here and in each witness directory."""
        dirs = [self._cp_dir] + ([w.path for w in self._witnesses.dirs] if self._witnesses else [])
        heads = []
        for d in dirs:
            try:
                heads += cpmod.all_heads(d) if every else cpmod.newest_heads(d)
            except (ValueError, OSError) as exc:
                raise UntrustedCheckpoint(f"checkpoints in {d}: {exc}") from None
        return heads

    def _open_checks(self, accept: _AcceptLoss | None) -> list[Event]:
        """Under the lock: verify the journal against its signed history; the events to add on open."""
        # Accepting a loss checks every checkpoint: the part that survived must match all of them.
        heads = self._read_heads(every=accept is not None)
        chosen = None
        if accept is not None and accept.checkpoint is not None:
            try:
                chosen = cpmod.read_head(accept.checkpoint)
            except ValueError as exc:
                raise UntrustedCheckpoint(str(exc)) from None
            heads.append(chosen)
        pin = None
        if self._sk is not None:
            pin = KeyPin([self._sk.verify_key] + ([self._prev_sk.verify_key] if self._prev_sk is not None else []))
        verdict = integrity.examine(
            self._dir, self._key, pin, heads, allow_torn=True, tolerate_truncation=accept is not None,
            expected_origin=self._origin or None,
        )
        history = verdict.history
        self._state = verdict.state
        self._trusted = verdict.trusted
        self._epoch = verdict.epoch
        if verdict.origin:
            self._origin = verdict.origin
        current = bytes(self._sk.verify_key) if self._sk is not None else None
        events: list[Event] = []
        if current is not None and history.keys and history.keys[-1] != current:
            prev = bytes(self._prev_sk.verify_key) if self._prev_sk is not None else None
            if prev is None or history.keys[-1] != prev or accept is not None:
                raise integrity.SigningKeyMismatch(
                    f"the journal is pinned to signing key {fingerprint(history.keys[-1])} (since seq "
                    f"{history.key_seqs[-1]}) but MASKER_SIGNING_KEY is {fingerprint(current)}; to rotate, start "
                    f"once with the previous key in {SIGNING_KEY_OLD_ENV}", None, verdict.state)
            assert self._sk is not None and self._prev_sk is not None
            events.append(integrity.rotation_event(self._prev_sk, self._sk, self._origin))
            log.warning("audit journal: signing key rotated from %s to %s", fingerprint(prev), fingerprint(current))
        elif self._sk is not None and self._pin_key and not history.keys:
            events.append(integrity.opened_event(self._sk, self._origin))
        torn = verdict.torn
        if accept is not None:
            if self._sk is None:
                raise ValueError("accepting a truncation needs the signing key")
            if chosen is not None:
                found = [h for h in verdict.beyond if h.path == chosen.path]
                if not found:
                    raise integrity.JournalIntegrityError(
                        f"nothing to accept: the journal ({verdict.state.size} events) is not short of "
                        f"{chosen.path} (size {chosen.size}, epoch {chosen.epoch}; the journal is at epoch "
                        f"{verdict.epoch})", None, verdict.state)
                chosen = found[0]
            elif verdict.beyond:
                chosen = max(verdict.beyond, key=lambda h: (h.size, h.kind == "json"))
            else:
                raise integrity.JournalIntegrityError(
                    f"nothing to accept: no trusted checkpoint of epoch {verdict.epoch} covers more than the "
                    f"journal's {verdict.state.size} events", None, verdict.state)
            removed = 0
            if torn is not None and torn.file is not None:
                removed = self._cut(torn.file, torn.offset)
                torn = None
            statement = integrity.truncation_statement(verdict, chosen, self._origin, removed)
            events.append(integrity.truncation_event(self._sk, statement))
            self.accepted = statement
            log.warning("audit journal: %d or more events (seq %d..%d) accepted as lost",
                        statement["lost"]["events_at_least"], statement["lost"]["from_seq"],
                        statement["lost"]["to_seq"])
        newest_local = [h.size for h in heads if h.epoch == self._epoch and h.path.parent == self._cp_dir]
        if newest_local and max(newest_local) == self._state.size and not events and torn is None:
            self._last_checkpoint = self._state.size
        return events

    def _cut(self, name: str, offset: int) -> int:
        path = self._dir / name
        removed = os.stat(path).st_size - offset
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        return removed

    def _checkpoint_at_open(self) -> str | None:
        """Anchor what the open added (or what a crash left unanchored); else re-publish the newest."""
        if self._sk is None:
            return None
        with self._exclusive():
            try:
                self._flock()
                try:
                    if self._state.size > 0 and self._state.size != self._last_checkpoint:
                        self._write_checkpoint()
                    elif self._witnesses:
                        self._republish()
                finally:
                    self._funlock()
            except (OSError, ValueError) as exc:
                return _reason(exc)
        return self._failure

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
                raise ValueError("event detail must not carry a payload (Masker never stores one)")
        ticket = _Ticket(batch)
        started = time.perf_counter()
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
        metrics.journal_appended(time.perf_counter() - started)

    def reverify(self) -> VerifyResult:
        """Re-read and verify the whole journal (repairing a torn tail); unlatch on success."""
        with self._exclusive():
            self._close_fd()
            try:
                self._flock()
                try:
                    verdict = integrity.examine(
                        self._dir, self._key, self._trusted, self._read_heads(), allow_torn=True,
                        expected_origin=self._origin or None)
                finally:
                    self._funlock()
                self._state = verdict.state
                previous = self._failure
                note = Event(kind=JOURNAL_REVERIFIED, reason="journal verified after a failure" if previous else None)
                err = self._commit([_Ticket([note])] if previous else [])
                if err is None and self._witnesses and self._witnesses.strict and self._witnesses.failing():
                    # strict: a witness that missed a checkpoint must take one before appends resume
                    self._flock()
                    try:
                        self._failure = None
                        if self._state.size != self._last_checkpoint and self._sk is not None:
                            self._write_checkpoint()
                        else:
                            self._republish()
                        err = self._failure
                    finally:
                        self._funlock()
            except (OSError, ChainBroken, ValueError, JournalIntegrityError) as exc:
                err = _reason(exc)
            if err:
                self._failure = err
                return VerifyResult(False, 0, err, self._state.size)
            self._failure = None
            st = self._state
            return VerifyResult(True, st.size - st.first_seq, CHAIN_OK, None, st.size, st.last_hash, st.tree.root().hex())

    def prunable(self, retention_days: int) -> list[Path]:
        """The day files ``prune(retention_days)`` would delete (the newest is always kept)."""
        cutoff = (_utc_now() - timedelta(days=retention_days)).strftime("events-%Y-%m-%d.jsonl")
        return [p for p in journal_files(self._dir)[:-1] if p.name < cutoff]

    def prune(self, retention_days: int) -> int:
        """Delete whole day files older than ``retention_days``; returns how many.

        The newest file is always kept. Before deleting, a signed anchor
        checkpoint at the cut is written to ``anchor.json`` (and exported to
        the checkpoint directory), so the rest still verifies.
        """
        if self._sk is None:
            raise ValueError("pruning needs a signing key (the cut is anchored by a signed checkpoint)")
        with self._exclusive():
            self._refuse_if_unusable()
            try:
                self._flock()
                try:
                    files = journal_files(self._dir)
                    doomed = self.prunable(retention_days)
                    if not doomed:
                        return 0
                    cut = initial_state(self._dir, self._trusted)
                    first_kept = next(p.name for p in files if p.name > doomed[-1].name)
                    scan(self._dir, self._key, cut, stop_before=first_kept)
                    anchor = cpmod.sign(self._sk, cpmod.ANCHOR, cut.last_hash, cut.tree, utc_now(),
                                        origin=self._origin, epoch=self._epoch, replica=self._replica)
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
                if self._witnesses is not None:
                    left = self._witnesses.flush(timeout=10)
                    if left:
                        log.error("audit witnesses did not take the final checkpoint: %s", ", ".join(left))
                    self._witnesses.close()

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
                        doc["replica"] = self._replica
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
            st = self._state = initial_state(self._dir, self._trusted)
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
        """Sign the current tree head (JSON + C2SP note), save both, hand them to the witnesses.

        A witness failure does not undo anything (the events are durable and
        checkpointed locally): in strict mode it latches the journal.
        """
        assert self._sk is not None
        cp = cpmod.sign(self._sk, cpmod.CHECKPOINT, self._state.last_hash, self._state.tree, utc_now(),
                        origin=self._origin, epoch=self._epoch, replica=self._replica)
        note = cpmod.sign_note(self._sk, self._origin, self._epoch, cp.size, cp.merkle_root)
        json_path = cpmod.save(cp, self._cp_dir / cpmod.file_name(cp))
        cpmod.write_atomic(self._cp_dir / cpmod.file_name(cp, ".note"), note.encode("utf-8"))
        self._last_checkpoint = cp.size
        self._next_checkpoint = (cp.size // self._every + 1) * self._every
        if self._witnesses:
            stem = cpmod.file_name(cp, "")
            self._publish(Published(stem, cp.size, cp.epoch, note, json_path.read_bytes()))

    def _publish(self, pub: Published) -> None:
        assert self._witnesses is not None
        try:
            self._witnesses.publish(pub)
        except WitnessError as exc:
            self._latch(str(exc))

    def _republish(self) -> None:
        """Hand the newest local checkpoint of this epoch to the witnesses again (they may have missed it)."""
        heads = [h for h in cpmod.newest_heads(self._cp_dir) if h.epoch == self._epoch]
        notes = [h for h in heads if h.kind == "note"]
        jsons = [h for h in heads if h.kind == "json"]
        if not notes or not jsons:
            return
        n, j = notes[0], jsons[0]
        self._publish(Published(n.path.name[: -len(".note")], n.size, n.epoch, n.note_text or "", j.path.read_bytes()))

    # -- helpers ------------------------------------------------------------

    @property
    def origin(self) -> str:
        """The log's origin (C2SP checkpoint origin line of epoch 0)."""
        return self._origin

    @property
    def replica_id(self) -> str:
        """This chain's replica id (in every event and checkpoint it writes)."""
        return self._replica

    @property
    def epoch(self) -> int:
        return self._epoch

    def witness_status(self) -> dict[str, str | None]:
        """Each witness's last error (None: fine); empty without witnesses."""
        return self._witnesses.status() if self._witnesses else {}

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
    return datetime.now(UTC)


_day_cache: list = [-1, ""]


def _day_file_name() -> str:
    """The file an append goes to now (UTC day); tests replace it to make old days."""
    day = int(time.time() // 86400)
    if day != _day_cache[0]:
        _day_cache[:] = [day, datetime.fromtimestamp(day * 86400, UTC).strftime("events-%Y-%m-%d.jsonl")]
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
    if isinstance(exc, (ChainBroken, JournalIntegrityError, WitnessError)):
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


def accept_truncation(
    directory: Path,
    audit_key: bytes,
    signing_key: SigningKey,
    *,
    checkpoint_dir: Path | None = None,
    checkpoint: Path | None = None,
    witnesses: Witnesses | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """Accept that the journal lost events it had when ``checkpoint`` (default:
    the newest trusted one it falls short of) was signed.

    Cuts a torn tail, appends a signed ``journal_truncated`` event (the lost
    seq range, the checkpoint, where the chain resumes; no values), starts the
    next epoch and signs a checkpoint of it (local and witnesses), so the
    journal verifies and the sidecar starts again. Refuses a journal that was
    rewritten (differs from a checkpoint it is long enough for), one pinned to
    another key, and one that lost nothing. Returns the signed statement.
    """
    j = Journal(directory, audit_key, signing_key, checkpoint_dir=checkpoint_dir, witnesses=witnesses,
                origin=origin, _accept=_AcceptLoss(Path(checkpoint) if checkpoint is not None else None))
    try:
        if j.integrity_error is not None:
            raise j.integrity_error
        if j.accepted is None or not j.usable:
            raise AuditUnavailable(f"audit journal unavailable: {j.failure}")
        return j.accepted
    finally:
        j.close()
