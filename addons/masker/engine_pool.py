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
waiting for the GIL the event loop holds). Rehydration and journaling stay
in the calling process (``masker.agent_engines``): they are cheap, and
stream callbacks need them at once.

The worker opens its runtime with ``WorkerSpec.opener`` (a module-level
function, pickled by name: ``masker.runtime.open_worker_runtime``), so this
module never imports the runtime that builds the pool.

Policies: a worker starts with the ``WorkerSpec``'s catalog and never reads
the policy file. Each request names the catalog (policy generation) it is
masked by; a worker that has another generation gets the catalog with the
request and builds its engines first (keeping the previous generation for
requests still in flight on it). So a reload reaches every worker, and no
request is masked by a policy other than the one it started with.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from masker import logs, metrics
from masker.audit.events import AuditUnavailable
from masker.engine import MaskingError, SpanNote, TextField
from masker.policy.catalog import PolicyCatalog
from masker.scope import Scope

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


class WorkerEngines(Protocol):
    """One policy generation as a worker masks by it (``masker.agent_engines.AgentEngines``)."""

    def mask_texts(self, fields: Sequence[TextField], scope: Scope, notes: list[SpanNote] | None = None) -> list[str]: ...


class WorkerRuntime(Protocol):
    """What a worker process holds open (``masker.runtime.Runtime``)."""

    @property
    def engine(self) -> WorkerEngines:
        """The generation of the spec's catalog."""
        ...

    def build(self, catalog: PolicyCatalog) -> WorkerEngines:
        """The engines of another generation; raises when ``catalog`` is invalid."""
        ...

    def ner_provider(self) -> str | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process opens its runtime from (picklable: sent at spawn).

    ``opener`` must be a module-level function (pickled by its name); the
    worker calls it with the spec.
    """

    opener: Callable[[WorkerSpec], WorkerRuntime]
    data_dir: Path
    env: Mapping[str, str]
    model_dir: Path | None
    catalog: PolicyCatalog
    ner_threads: int = 2


class WorkerStartError(Exception):
    """The worker processes could not be started (no PHI in the message)."""


class _Worker:
    """One worker process and the proxy's end of its pipe."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_serve, args=(child, spec), name="masker-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.generation = spec.catalog.generation  # the catalog the worker masks by
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

    def call(
        self, fields: list[TextField], scope: Scope, catalog: PolicyCatalog, want_notes: bool, timeout: float | None
    ) -> tuple[list[str], list[SpanNote]]:
        self.wait_ready(START_TIMEOUT_S)
        new_catalog = catalog if catalog.generation != self.generation else None
        self.conn.send((fields, scope, catalog.generation, new_catalog, want_notes))
        if not self.conn.poll(timeout):
            raise _Overdue
        status, value, samples = self.conn.recv()
        metrics.replay(samples)  # what the worker measured (detections, NER, cache, journal)
        if new_catalog is not None and status != "catalog_failed":
            self.generation = catalog.generation
        if status != "ok":
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

    def __init__(self, spec: WorkerSpec, workers: int, timeout: float | None = None) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        self._workers = workers
        self._timeout = timeout
        self._spec = replace(spec, ner_threads=_ner_threads(workers))
        self._closed = False
        self._audit_failure: str | None = None
        # Most recently used first: under light load one warm worker (caches, detection
        # cache of the session) serves the requests; the others wake only under load.
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        started = [_Worker(self._spec) for _ in range(workers)]
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

    def mask_texts(
        self, fields: Sequence[TextField], scope: Scope, catalog: PolicyCatalog, notes: list[SpanNote] | None = None
    ) -> list[str]:
        """Masked ``fields`` under ``catalog`` (the caller's policy generation), by an idle worker."""
        if self._closed:
            raise MaskingError("engine_closed", "Masker is shutting down; nothing was forwarded", 503)
        worker = self._idle.get()  # blocks while every worker is busy
        if not worker.process.is_alive():  # died while idle: it held no request
            worker = self._respawn(worker)
        try:
            masked, found = worker.call(list(fields), scope, catalog, notes is not None, self._timeout)
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
        if notes is not None:
            notes.extend(found)
        return masked

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
        metrics.worker_restarted()
        dead.stop()
        try:
            return _Worker(self._spec)
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


def _serve(conn: Connection, spec: WorkerSpec) -> None:
    """A worker's life: open the runtime, mask what arrives, close on ``None`` (or a closed pipe)."""
    # Ctrl-C reaches the whole process group: the proxy process stops the
    # workers in order (each closes its journal); a worker must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    metrics.use_worker_mode()
    logs.configure()  # the format the proxy chose (masker run exports MASKER_LOG_FORMAT)
    try:
        runtime = spec.opener(spec)
    except Exception as e:  # noqa: BLE001 - reported to the proxy, which refuses to start
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    try:
        conn.send(("ready", {"pid": os.getpid(), "ner_provider": runtime.ner_provider()}))
        generations: dict[int, WorkerEngines] = {spec.catalog.generation: runtime.engine}
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return  # the proxy process is gone
            if request is None:
                return
            fields, scope, generation, catalog, want_notes = request
            if catalog is not None and generation not in generations:
                try:
                    generations[generation] = runtime.build(catalog)
                except Exception as e:  # noqa: BLE001 - validated in the proxy; fail this request closed
                    _reply(conn, "catalog_failed", MaskingError("policy_unavailable", f"a worker could not build the "
                                                              f"policy generation ({type(e).__name__})", 503))
                    continue
                for old in sorted(generations)[:-KEPT_GENERATIONS]:
                    del generations[old]
            engines = generations.get(generation)
            if engines is None:
                _reply(conn, "error", MaskingError("policy_unavailable", "the request's policy generation is gone", 503))
                continue
            notes: list[SpanNote] | None = [] if want_notes else None
            try:
                _reply(conn, "ok", (engines.mask_texts(fields, scope, notes), notes or []))
            except Exception as e:  # noqa: BLE001 - the request fails closed in the proxy
                _reply(conn, "error", _portable(e))
    finally:
        runtime.close()


def _reply(conn: Connection, status: str, value: object) -> None:
    conn.send((status, value, metrics.take_worker_samples()))


KEPT_GENERATIONS = 2  # the current policy generation and the one before (requests still in flight on it)


def _portable(error: Exception) -> Exception:
    """``error`` if it survives pickling with its meaning, else a MaskingError naming its type (never its message)."""
    if isinstance(error, (MaskingError, AuditUnavailable)):
        try:
            pickle.loads(pickle.dumps(error))
            return error
        except Exception:  # noqa: BLE001
            pass
    return MaskingError("masking_failed", f"masking failed in a worker ({type(error).__name__})")
