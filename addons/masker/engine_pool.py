"""Masking in worker processes, so that every core masks requests.

The rule-based passes (regex, spoken forms) and the token code are pure
Python: inside one process the GIL runs them one request at a time, beside
mitmproxy's own event loop. ``PooledEngine`` sends ``mask_texts`` to worker
processes instead. Each worker opens its own runtime over the same policy
file, data dir and keys: the journal keeps one HMAC chain across processes
(``flock``, see ``masker.audit.journal``) and the vault is one SQLite file
in WAL mode, so a token a worker mints is rehydrated by the proxy process.

``rehydrate`` and ``record`` stay in the calling process: they are cheap,
and stream callbacks need them at once.

Fail closed: a worker that cannot start makes the engine unavailable (the
pool is started and checked before the engine is handed out); a worker that
dies fails the requests it held (``MaskingError`` ``engine_crashed``, 502)
and the pool is replaced for the next request.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.util import Finalize
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from masker.audit.events import AuditUnavailable, Event
from masker.engine import MaskingError, TextField
from masker.scope import Scope

if TYPE_CHECKING:
    from masker.runtime import Runtime

log = logging.getLogger("masker")

MAX_WORKERS = 64
START_TIMEOUT_S = 300.0  # loading the NER model on a busy node can take a while

# The worker process's own runtime (set by ``_start_worker``).
_worker_runtime: Runtime | None = None


def default_workers(cpus: int | None = None) -> int:
    """Worker processes by default: one per core up to 4; none on a single core."""
    cpus = cpus or os.cpu_count() or 1
    return 0 if cpus < 2 else min(4, cpus)


class WorkerStartError(Exception):
    """The worker processes could not be started (no PHI in the message)."""


class PooledEngine:
    """The ``Engine`` protocol with ``mask_texts`` run by a process pool."""

    def __init__(self, runtime: Runtime, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        self._runtime = runtime
        self._local = runtime.engine
        self.policy = runtime.policy
        self._workers = workers
        self._lock = threading.Lock()
        self._closed = False
        self._audit_failure: str | None = None
        self._pool = self._new_pool()
        self._check_started(self._pool)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def audit_failure(self) -> str | None:
        """Why a worker's journal refused an append (it stays latched, like the journal)."""
        return self._audit_failure

    def mask_texts(self, fields: Sequence[TextField], scope: Scope) -> list[str]:
        pool = self._current_pool()
        try:
            return pool.submit(_mask, list(fields), scope).result()
        except AuditUnavailable as e:
            self._audit_failure = self._audit_failure or (str(e) or "a worker's journal refused an append")
            raise
        except BrokenProcessPool:
            self._replace(pool)
            raise MaskingError("engine_crashed", "a masking worker process stopped; nothing was forwarded") from None

    def rehydrate(self, text: str, scope: Scope, events: list[Event] | None = None, *, json_escape: bool = False) -> str:
        return self._local.rehydrate(text, scope, events, json_escape=json_escape)

    def record(self, events: Sequence[Event]) -> None:
        self._local.record(events)

    def close(self) -> None:
        """Stop the workers; each closes its runtime (final journal checkpoint) on the way out."""
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=True, cancel_futures=True)

    # -- pool management -----------------------------------------------------

    def _new_pool(self) -> ProcessPoolExecutor:
        rt = self._runtime
        # spawn, not fork: the proxy process runs threads and an event loop.
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(rt.policy_path, rt.data_dir, dict(rt.env), rt.model_dir, rt.policy.hash, self._ner_threads()),
        )

    def _ner_threads(self) -> int:
        """Threads for each worker's NER session: a share of the cores, at least two.

        Two threads keep one request's NER latency down; with spinning off
        (``masker.detect.ner``), idle sessions do not take cores from busy ones.
        """
        cpus = os.cpu_count() or 1
        return min(cpus, max(2, cpus // self._workers))

    def _check_started(self, pool: ProcessPoolExecutor) -> None:
        # Submitting before any worker is idle spawns one process per task.
        futures = [pool.submit(os.getpid) for _ in range(self._workers)]
        done, not_done = wait(futures, timeout=START_TIMEOUT_S)
        try:
            if not_done:
                raise WorkerStartError(f"masking workers did not start within {START_TIMEOUT_S:.0f}s")
            for f in done:
                f.result()
        except BrokenProcessPool:
            pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerStartError("a masking worker failed to start (see its log lines)") from None
        except WorkerStartError:
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def _current_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise MaskingError("engine_closed", "Masker is shutting down; nothing was forwarded", 503)
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool for later requests (once, however many requests saw the breakage)."""
        with self._lock:
            if self._closed or self._pool is not broken:
                return
            log.error("a masking worker process stopped; starting a new pool")
            self._pool = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)


# -- in the worker processes ---------------------------------------------------


def _start_worker(
    policy_path: Path,
    data_dir: Path,
    env: Mapping[str, str],
    model_dir: Path | None,
    policy_hash: str,
    ner_threads: int,
) -> None:
    global _worker_runtime
    from masker.runtime import StartupError, open_runtime

    # Ctrl-C reaches the whole process group: the proxy process stops the
    # pool in order (workers close their journals); a worker must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    runtime = open_runtime(policy_path, data_dir, env, model_dir=model_dir, announce=False, ner_threads=ner_threads)
    if runtime.policy.hash != policy_hash:
        runtime.close()
        raise StartupError("the policy file changed while the masking workers started")
    _worker_runtime = runtime
    Finalize(runtime, runtime.close, exitpriority=10)


def _mask(fields: list[TextField], scope: Scope) -> list[str]:
    if _worker_runtime is None:
        raise MaskingError("engine_unavailable", "masking worker has no runtime", 503)
    return _worker_runtime.engine.mask_texts(fields, scope)
