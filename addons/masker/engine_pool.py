"""Masking in worker processes, so that every core masks requests.

The rule-based passes (regex, spoken forms) and the token code are pure
Python: inside one process the GIL runs them one request at a time, beside
mitmproxy's own event loop. ``PooledEngine`` sends ``mask_texts`` to worker
processes instead. Each worker opens its own runtime over the same policy
file, data dir and keys: the journal keeps one HMAC chain across processes
(``flock``, see ``masker.audit.journal``) and the vault is one SQLite file
in WAL mode, so a token a worker mints is rehydrated by the proxy process.

Each worker has its own pipe; the request thread sends on it and blocks on
the reply, so a call costs one pickle each way and no extra thread hops (a
``ProcessPoolExecutor`` passes every call through two helper threads, each
waiting for the GIL the event loop holds). ``rehydrate`` and ``record`` stay
in the calling process: they are cheap, and stream callbacks need them at once.

Fail closed: a worker that cannot start makes the engine unavailable (all
workers are started and checked before the engine is handed out); a worker
that dies fails the request it held (``MaskingError`` ``engine_crashed``,
502) and is replaced for the next one.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import queue
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from masker.audit.events import AuditUnavailable, Event
from masker.engine import MaskingError, TextField
from masker.scope import Scope

if TYPE_CHECKING:
    from masker.runtime import Runtime

log = logging.getLogger("masker")

MAX_WORKERS = 64
START_TIMEOUT_S = 300.0  # loading the NER model on a busy node can take a while
STOP_TIMEOUT_S = 30.0  # a worker finishing its request and its final checkpoint

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # a container's CPU limit (cgroup v2)

_CTX = multiprocessing.get_context("spawn")  # not fork: the proxy process runs threads and an event loop


def available_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 quota.

    In a pod, ``os.cpu_count()`` is the node's count; the container's CPU
    limit is ``cpu.max`` (quota and period in microseconds).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def default_workers(cpus: int | None = None) -> int:
    """Worker processes by default: one per core up to 4; none on a single core."""
    cpus = cpus or available_cpus()
    return 0 if cpus < 2 else min(4, cpus)


class WorkerStartError(Exception):
    """The worker processes could not be started (no PHI in the message)."""


class _Worker:
    """One worker process and the proxy's end of its pipe."""

    def __init__(self, start_args: tuple[Any, ...]) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_serve, args=(child, *start_args), name="masker-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.ner_provider: str | None = None

    def wait_ready(self, timeout: float | None) -> None:
        """Block until the worker has opened its runtime; raise what stopped it."""
        if self.ready:
            return
        if not self.conn.poll(timeout):
            raise WorkerStartError(f"a masking worker did not start within {timeout:.0f}s")
        status, value = self.conn.recv()
        if status != "ready":
            raise WorkerStartError(f"a masking worker failed to start: {value}")
        self.ready = True
        self.ner_provider = value["ner_provider"]

    def call(self, fields: list[TextField], scope: Scope, timeout: float | None) -> list[str]:
        self.wait_ready(START_TIMEOUT_S)
        self.conn.send((fields, scope))
        if not self.conn.poll(timeout):
            raise _Overdue
        status, value = self.conn.recv()
        if status == "error":
            raise value
        return value

    def stop(self) -> None:
        try:
            self.conn.send(None)  # the worker closes its runtime (final checkpoint) and exits
        except OSError:
            pass
        self.process.join(STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.conn.close()


class _Overdue(Exception):
    """A worker did not answer within the masking timeout."""


class PooledEngine:
    """The ``Engine`` protocol with ``mask_texts`` run by worker processes.

    With ``timeout`` (seconds), a worker still masking after it is killed and
    replaced: the request fails with 503 ``detect_timeout`` and the worker's
    core is free again (a thread could not be stopped; a process can).
    """

    def __init__(self, runtime: Runtime, workers: int, timeout: float | None = None) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        self._local = runtime.engine  # rehydrates and records only: it is never asked to mask
        self.policy = runtime.policy
        self._workers = workers
        self._timeout = timeout
        self._start_args = (
            runtime.policy_path, runtime.data_dir, dict(runtime.env), runtime.model_dir, runtime.policy.hash,
            _ner_threads(workers),
        )
        self._closed = False
        self._audit_failure: str | None = None
        # Most recently used first: under light load one warm worker (caches, detection
        # cache of the session) serves the requests; the others wake only under load.
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        started = [_Worker(self._start_args) for _ in range(workers)]
        try:
            for w in started:
                w.wait_ready(START_TIMEOUT_S)
        except BaseException:
            for w in started:
                w.stop()
            raise
        self.ner_provider = started[0].ner_provider
        for w in started:
            self._idle.put(w)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def audit_failure(self) -> str | None:
        """Why a worker's journal refused an append (it stays latched, like the journal)."""
        return self._audit_failure

    def mask_texts(self, fields: Sequence[TextField], scope: Scope) -> list[str]:
        if self._closed:
            raise MaskingError("engine_closed", "Masker is shutting down; nothing was forwarded", 503)
        worker = self._idle.get()  # blocks while every worker is busy
        if not worker.process.is_alive():  # died while idle: it held no request
            worker = self._respawn(worker)
        try:
            result = worker.call(list(fields), scope, self._timeout)
        except _Overdue:
            log.warning("a masking worker exceeded the %.1fs timeout; replacing it", self._timeout)
            worker.process.kill()
            self._idle.put(self._respawn(worker))
            raise MaskingError("detect_timeout", f"masking took longer than {self._timeout}s", 503) from None
        except AuditUnavailable as e:
            self._audit_failure = self._audit_failure or (str(e) or "a worker's journal refused an append")
            self._idle.put(worker)
            raise
        except (EOFError, OSError, WorkerStartError):
            self._idle.put(self._respawn(worker))
            raise MaskingError("engine_crashed", "a masking worker process stopped; nothing was forwarded") from None
        except BaseException:
            self._idle.put(worker)
            raise
        self._idle.put(worker)
        return result

    def rehydrate(self, text: str, scope: Scope, events: list[Event] | None = None, *, json_escape: bool = False) -> str:
        return self._local.rehydrate(text, scope, events, json_escape=json_escape)

    def record(self, events: Sequence[Event]) -> None:
        self._local.record(events)

    def close(self) -> None:
        """Stop the workers once their requests are done; each closes its runtime on the way out."""
        self._closed = True
        for _ in range(self._workers):
            try:
                worker = self._idle.get(timeout=STOP_TIMEOUT_S)
            except queue.Empty:
                log.error("a masking worker was still busy at shutdown")
                break
            worker.stop()

    def _respawn(self, dead: _Worker) -> _Worker:
        """A new worker in place of one that died (it opens its runtime before its first request).

        If no process can be started, the dead one stays in the pool and the
        next request tries again (and fails closed meanwhile).
        """
        log.error("a masking worker process stopped (exit code %s); starting a new one", dead.process.exitcode)
        dead.stop()
        try:
            return _Worker(self._start_args)
        except OSError as e:
            log.error("could not start a masking worker: %s", type(e).__name__)
            return dead


def _ner_threads(workers: int) -> int:
    """Threads for each worker's NER session: a share of the cores, at least two.

    Two threads keep one request's NER latency down; with spinning off
    (``masker.detect.ner``), idle sessions do not take cores from busy ones.
    """
    cpus = available_cpus()
    return min(cpus, max(2, cpus // workers))


# -- in the worker processes ---------------------------------------------------


def _serve(
    conn: Connection,
    policy_path: Path,
    data_dir: Path,
    env: Mapping[str, str],
    model_dir: Path | None,
    policy_hash: str,
    ner_threads: int,
) -> None:
    """A worker's life: open the runtime, mask what arrives, close on ``None`` (or a closed pipe)."""
    # Ctrl-C reaches the whole process group: the proxy process stops the
    # workers in order (each closes its journal); a worker must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from masker.runtime import open_runtime

    try:
        runtime = open_runtime(
            policy_path, data_dir, env, model_dir=model_dir, announce=False, ner_threads=ner_threads, ner_spin=False
        )
    except Exception as e:  # noqa: BLE001 - reported to the proxy, which refuses to start
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    try:
        if runtime.policy.hash != policy_hash:
            conn.send(("failed", "the policy file changed while the masking workers started"))
            return
        conn.send(("ready", {"pid": os.getpid(), "ner_provider": runtime.ner_provider()}))
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return  # the proxy process is gone
            if request is None:
                return
            fields, scope = request
            try:
                conn.send(("ok", runtime.engine.mask_texts(fields, scope)))
            except Exception as e:  # noqa: BLE001 - the request fails closed in the proxy
                conn.send(("error", _portable(e)))
    finally:
        runtime.close()


def _portable(error: Exception) -> Exception:
    """``error`` if it survives pickling with its meaning, else a MaskingError naming its type (never its message)."""
    if isinstance(error, (MaskingError, AuditUnavailable)):
        try:
            pickle.loads(pickle.dumps(error))
            return error
        except Exception:  # noqa: BLE001
            pass
    return MaskingError("masking_failed", f"masking failed in a worker ({type(error).__name__})")
