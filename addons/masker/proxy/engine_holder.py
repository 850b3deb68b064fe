"""Builds the masking engine from options and hands it to the other addons.

The factory is a constructor argument (``EngineHolder(factory=...)``, through
``sidecar_addons(engine_factory=...)``), default ``masker.runtime.open_runtime``;
it is deliberately not an option: options can be changed at run time
(``--set``, mitmweb's options editor) and must never swap the code that masks.
Tests that need a fake engine start a test-only entry script
(``tests/e2e/fake_sidecar.py``). It is called as ``factory(policy, data_dir,
env, workers=N, detect_timeout=T)`` and returns a runtime holding the engine
as ``.engine`` (closed at shutdown: the journal's final checkpoint; its
``audit_key`` verifies the journal) or a bare engine (the test fakes).

Start-up contract. If the engine cannot be built when the proxy starts (a
missing or invalid policy, missing keys under ``MASKER_ENV=production``, a
worker that cannot start, an unreadable data dir), every reason is logged
at ERROR (policy issues as ``FILE:LINE: CODE: PATH: message``, a missing
file as ``policy file not found: PATH``) and the process exits 1: mitmproxy
stops on an error logged during start-up, and the holder asks it to shut
down as well. The one exception is the documented development fallback:
with ``MASKER_DEV=1`` outside production, an invalid (not a missing) policy
is logged as warnings and the shipped default policy is used instead.

If a rebuild fails later (an engine option changed at run time), the proxy
keeps running but every request is answered 503 ``engine_unavailable`` and
``/readyz`` says so: fail closed, never forward.

Policy reload (``reload``: the admin API, SIGHUP, the file watch) is not a
rebuild: the runtime stays open (vault, journal, workers, NER model) and
only the policies change, atomically (``masker.policy.catalog``). An invalid
policy file or agent policy is refused and the running generation stays.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import ctx, exceptions

from masker import metrics
from masker.audit.keys import audit_key_from_env
from masker.audit.verify import verify_journal
from masker.audit.witness import witness_dirs_from_env
from masker.engine import Engine
from masker.engine_pool import MAX_WORKERS, default_workers
from masker.policy.catalog import ReloadOutcome, issues_json
from masker.policy.load import PolicyError, check_policy_file, default_policy_path
from masker.proxy.options import (
    DEFAULT_DETECT_TIMEOUT,
    parse_data_dir,
    parse_detect_timeout,
    parse_policy,
)
from masker.proxy.recorder import AuditRecorder
from masker.runtime import Runtime, StartupError, is_production, open_runtime

log = logging.getLogger("masker.proxy")

EngineFactory = Callable[..., Engine | Runtime]  # open_runtime builds a Runtime; test factories a bare Engine
DEV_KEYS_FILE = "dev-keys.env"  # written by masker.runtime outside production
_WATCHED = {"masker_policy", "masker_data_dir", "masker_audit_window", "masker_workers", "masker_detect_timeout"}
DEFAULT_AUDIT_WINDOW = "0.02"


def parse_audit_window(raw: str) -> float:
    """``masker_audit_window`` in seconds, in [0, 5]."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 5:
        raise exceptions.OptionsError(f"masker_audit_window must be a number of seconds in [0, 5], not {raw!r}")
    return value


def parse_workers(value: int) -> int:
    if not 0 <= value <= MAX_WORKERS:
        raise exceptions.OptionsError(f"masker_workers must be between 0 and {MAX_WORKERS}")
    return value


class EngineHolder:
    """``engine`` is the current engine or None; ``problem`` says why not (no PHI).

    ``recorder`` journals the current engine's after-the-fact events
    (``masker.proxy.recorder``); it is flushed and closed before its engine's
    runtime is closed (shutdown or rebuild), so no queued event is lost.

    ``engine`` fixes the engine (unit tests); else ``factory`` (default
    ``masker.runtime.open_runtime``) builds it from the options. Owns
    ``masker_workers`` and ``masker_audit_window``; parses those and the
    shared engine options (policy, data dir, detect timeout) in ``configure``.
    """

    def __init__(self, engine: Engine | None = None, *, factory: EngineFactory | None = None) -> None:
        if engine is not None and factory is not None:
            raise ValueError("EngineHolder takes an engine or a factory, not both")
        self._factory: EngineFactory = factory if factory is not None else open_runtime
        self._fixed = engine is not None
        self._running = False
        self.engine: Engine | None = engine
        self.recorder: AuditRecorder | None = AuditRecorder(engine.record) if engine is not None else None
        self._runtime: Any = None
        self.problem: str | None = None if engine is not None else "engine not built yet"
        self.startup_failure: str | None = None  # why the engine could not be built at start-up
        self.build_seconds: float | None = None
        self._reload_lock = threading.Lock()
        # the engine options as parsed by ``configure`` (these defaults are the options' own)
        self._policy: Path | None = None
        self._data_dir = parse_data_dir("")
        self._workers = default_workers()
        self._detect_timeout = parse_detect_timeout(DEFAULT_DETECT_TIMEOUT)
        self._audit_window = parse_audit_window(DEFAULT_AUDIT_WINDOW)

    def load(self, loader: Any) -> None:
        loader.add_option(
            "masker_workers",
            int,
            default_workers(),
            "Worker processes that mask requests (0: mask inside the proxy process). "
            "Default: one per core up to 4, none on a single core.",
        )
        loader.add_option(
            "masker_audit_window",
            str,
            DEFAULT_AUDIT_WINDOW,
            "Seconds the audit recorder waits to batch after-the-fact events (request_forwarded, rehydration) "
            "into one journal append; detection events are always journaled before the request is forwarded.",
        )

    @property
    def data_dir(self) -> Path:
        """``masker_data_dir`` as parsed (else ``$MASKER_DATA_DIR``, else ``./.data``)."""
        return self._data_dir

    @property
    def policy_file(self) -> Path:
        """The policy file a reload reads: ``masker_policy``, else the shipped one."""
        return self._policy or default_policy_path()

    def unready(self) -> str | None:
        """Why requests are refused now (None: ready): no engine, a latched journal or recorder, an
        unreachable vault database (until it answers again)."""
        if self.engine is None:
            return self.problem or "no engine"
        if self.recorder is not None and self.recorder.failure:
            return self.recorder.failure
        failure = self.runtime.audit_failure() if self.runtime is not None else None
        if failure is not None:
            return f"audit journal unavailable: {failure}"
        vault_failure = self.runtime.vault.failure if self.runtime is not None else None
        if vault_failure is not None:
            return f"vault database unavailable: {vault_failure}"
        return None

    def configure(self, updated: set[str]) -> None:
        o = ctx.options
        if "masker_workers" in updated:
            self._workers = parse_workers(o.masker_workers)
        if "masker_audit_window" in updated:
            self._audit_window = parse_audit_window(o.masker_audit_window)
        if "masker_detect_timeout" in updated:
            self._detect_timeout = parse_detect_timeout(o.masker_detect_timeout)
        if "masker_policy" in updated:
            self._policy = parse_policy(o.masker_policy)
        if "masker_data_dir" in updated:
            self._data_dir = parse_data_dir(o.masker_data_dir)
        # Built in ``running`` at startup (once every option is final), then
        # rebuilt whenever an engine option changes.
        if not self._fixed and self._running and updated & _WATCHED:
            self._build()

    def running(self) -> None:
        self._running = True
        if not self._fixed:
            self._build(startup=True)

    def done(self) -> None:
        self._close()

    def _close(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()  # before the journal closes: held and queued events are appended
        runtime, self._runtime = self._runtime, None
        metrics.set_journal_latched(None)
        metrics.set_vault_rows(None)
        if not self._fixed:
            self.engine = None
        if runtime is not None:
            try:
                runtime.close()
            except Exception as e:  # noqa: BLE001
                log.error("masker runtime did not close cleanly: %s", type(e).__name__)

    def _build(self, startup: bool = False) -> None:
        self._close()
        started = time.monotonic()
        try:
            policy = self._policy_path()
            workers = self._workers
            log.info("loading policy %s, data dir %s, %s", policy or f"{default_policy_path()} (shipped)", self._data_dir,
                     f"{workers} worker processes" if workers else "masking in the proxy process")
            built = self._factory(
                policy, self._data_dir, os.environ, workers=workers, detect_timeout=self._detect_timeout
            )
            if isinstance(built, Runtime):
                self._runtime, self.engine = built, built.engine
                metrics.set_journal_latched(lambda: built.audit_failure() is not None)
                metrics.set_vault_rows(built.vault.count)
            else:  # a bare engine (the test entry script's fake)
                self.engine = built
            self.recorder = AuditRecorder(self.engine.record, window=self._audit_window)
            self.problem = None
            self.build_seconds = time.monotonic() - started
            log.info("masker engine ready in %.1f s (%s)", self.build_seconds, self.describe())
        except Exception as e:  # noqa: BLE001 - fail closed
            self.problem = f"engine could not be built: {type(e).__name__}"
            if startup:
                self.startup_failure = self.problem
                for line in explain(e):
                    log.error("masker cannot start: %s", line)
                log.error("masker refuses to start: %s", self.problem)
                ctx.master.shutdown()  # mitmproxy's start-up error check exits 1 as well
            else:
                # a running proxy that answers 503 (and /readyz 503) until the options are fixed
                log.warning("masker NOT READY, every request is refused: %s: %s", self.problem, "; ".join(explain(e)))

    @property
    def runtime(self) -> Runtime | None:
        """The open runtime (None with a fixed engine or a factory that returns a bare engine)."""
        return self._runtime if isinstance(self._runtime, Runtime) else None

    def reload(self, reason: str) -> ReloadOutcome:
        """Reload the policy file and the stored agents' policies; blocking (call it off the event loop).

        The file named by ``masker_policy`` (else the shipped one) is read
        once, validated with every agent policy, and swapped in; a request
        already masking finishes on the previous generation. Refused (the
        running generation stays) when anything is invalid. Logged, counted
        in ``masker_policy_reloads_total`` and, when it succeeds, journaled
        as ``policy_loaded`` with the previous and the new hashes.
        """
        with self._reload_lock:
            runtime = self.runtime
            if runtime is None or self.engine is None:
                return ReloadOutcome(False, 0, message=f"no running engine to reload ({self.problem or 'fixed engine'})")
            old = runtime.engine
            try:
                engines = runtime.reload(runtime.read_catalog(self.policy_file))
            except PolicyError as e:
                metrics.policy_reloaded(False)
                for line in explain(e):
                    log.error("policy reload (%s) refused, generation %d stays: %s", reason, old.generation, line)
                return ReloadOutcome(False, old.generation, old.policy.hash, None, len(old.catalog.agents),
                                     issues_json(e), "invalid policy: the running policy stays")
            except Exception as e:  # noqa: BLE001 - e.g. the journal refused policy_loaded: nothing changed
                metrics.policy_reloaded(False)
                log.error("policy reload (%s) failed, generation %d stays: %s", reason, old.generation, type(e).__name__)
                return ReloadOutcome(False, old.generation, old.policy.hash, None, len(old.catalog.agents),
                                     message=f"reload failed ({type(e).__name__}): the running policy stays")
            self.engine = engines
            metrics.policy_reloaded(True)
            log.info("policy reloaded (%s): generation %d, policy %s (%s -> %s), %d agents", reason, engines.generation,
                     engines.policy.name, old.policy.hash[:12], engines.policy.hash[:12], len(engines.catalog.agents))
            return ReloadOutcome(True, engines.generation, old.policy.hash, engines.policy.hash,
                                 len(engines.catalog.agents), message="reloaded")

    def _policy_path(self) -> Path | None:
        """``masker_policy`` (None: the shipped one); a missing file is an error, never a fallback.

        With ``MASKER_DEV=1`` outside production, an invalid policy is logged
        (warnings: codes, paths, lines) and the shipped default is used.
        """
        path = self._policy
        if path is None:
            return None
        if not path.is_file():
            raise StartupError(f"policy file not found: {path}")
        if os.environ.get("MASKER_DEV", "").strip() == "1" and not is_production(os.environ):
            policy, issues = check_policy_file(path, None)  # keys: dev keys are made for its kid
            if policy is None or issues:
                for issue in issues:
                    log.warning("invalid mask policy: %s", issue.format(str(path)))
                log.warning("MASKER_DEV=1: using the shipped default policy %s instead of %s", default_policy_path(), path)
                return None
        return path

    def describe(self) -> str:
        """What runs: policy, workers, NER provider (no values)."""
        engine = self.engine
        if engine is None:
            return self.problem or "no engine"
        parts = [f"policy {engine.policy.name} ({engine.policy.hash[:12]})"]
        runtime = self.runtime
        if runtime is not None:
            agents = len(runtime.catalog.agents)
            if agents:
                parts.append(f"{agents} agents")
            pool = runtime.pool
            parts.append(f"{pool.workers} worker processes" if pool is not None else "masking in the proxy process")
            parts.append(f"ner {runtime.ner_provider() or 'off'}")
        return ", ".join(parts)

    def verify(self) -> dict[str, Any]:
        """Verify the audit journal of the data dir (for ``POST /audit/verify``)."""
        directory = self._data_dir
        runtime = self.runtime
        key = runtime.audit_key if runtime is not None else _audit_key(directory)
        verify_key = runtime.signing_key.verify_key if runtime is not None else None
        # The chain and, under the runtime's own (pinned) key, the signed checkpoints: local and witness copies.
        result = verify_journal(directory / "journal", key, verify_key=verify_key,
                                checkpoint_dirs=[directory / "checkpoints", *witness_dirs_from_env()])
        return {"ok": bool(result.ok), "event_count": result.event_count, "message": result.message}


def explain(e: BaseException) -> list[str]:
    """Why the engine could not be built, one line per reason; no values (policy
    issues name codes, paths and lines; key errors name variables)."""
    if isinstance(e, PolicyError):
        return [issue.format(e.source) for issue in e.issues] or [str(e)]
    text = str(e)
    return [f"{type(e).__name__}: {text}" if text else type(e).__name__]


def _audit_key(directory: Path) -> bytes:
    """MASKER_AUDIT_KEY from the environment, else from the dev-only ``dev-keys.env``."""
    env: dict[str, str] = {}
    dev = directory / DEV_KEYS_FILE
    if dev.exists():
        for line in dev.read_text().splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                env[name.strip()] = value.strip()
    env.update(os.environ)
    return audit_key_from_env(env)
