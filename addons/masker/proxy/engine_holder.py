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

If the engine cannot be built (bad policy, missing keys, unreadable data
dir), the proxy keeps running but every request is answered 503
``engine_unavailable`` and ``/readyz`` says so: fail closed, never forward.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from mitmproxy import ctx

from masker.audit.keys import audit_key_from_env
from masker.audit.verify import verify_journal
from masker.engine import Engine
from masker.proxy.options import audit_window, data_dir, detect_timeout
from masker.proxy.recorder import AuditRecorder
from masker.runtime import open_runtime

log = logging.getLogger("masker.proxy")

EngineFactory = Callable[..., Engine]
DEV_KEYS_FILE = "dev-keys.env"  # written by masker.runtime outside production
_WATCHED = {"masker_policy", "masker_data_dir", "masker_audit_window", "masker_workers", "masker_detect_timeout"}


class EngineHolder:
    """``engine`` is the current engine or None; ``problem`` says why not (no PHI).

    ``recorder`` journals the current engine's after-the-fact events
    (``masker.proxy.recorder``); it is flushed and closed before its engine's
    runtime is closed (shutdown or rebuild), so no queued event is lost.

    ``engine`` fixes the engine (unit tests); else ``factory`` (default
    ``masker.runtime.open_runtime``) builds it from the options.
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

    def unready(self) -> str | None:
        """Why requests are refused now (None: ready): no engine, a latched journal or recorder."""
        if self.engine is None:
            return self.problem or "no engine"
        if self.recorder is not None and self.recorder.failure:
            return self.recorder.failure
        audit_failure = getattr(self._runtime, "audit_failure", None)
        failure = audit_failure() if audit_failure is not None else None
        if failure is not None:
            return f"audit journal unavailable: {failure}"
        return None

    def configure(self, updated: set[str]) -> None:
        # Built in ``running`` at startup (once every option is final), then
        # rebuilt whenever an engine option changes.
        if not self._fixed and self._running and updated & _WATCHED:
            self._build()

    def running(self) -> None:
        self._running = True
        if not self._fixed:
            self._build()

    def done(self) -> None:
        self._close()

    def _close(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()  # before the journal closes: held and queued events are appended
        runtime, self._runtime = self._runtime, None
        if not self._fixed:
            self.engine = None
        if runtime is not None:
            try:
                runtime.close()
            except Exception as e:  # noqa: BLE001
                log.error("masker runtime did not close cleanly: %s", type(e).__name__)

    def _build(self) -> None:
        self._close()
        try:
            policy = Path(ctx.options.masker_policy) if ctx.options.masker_policy else None
            built = self._factory(
                policy, data_dir(), os.environ, workers=ctx.options.masker_workers, detect_timeout=detect_timeout()
            )
            if hasattr(built, "engine"):
                self._runtime, self.engine = built, built.engine
            else:
                self.engine = built
            self.recorder = AuditRecorder(self.engine.record, window=audit_window() or 0.0)
            self.problem = None
            log.info("masker engine ready (policy %s)", getattr(self.engine.policy, "name", "?"))
        except Exception as e:  # noqa: BLE001 - fail closed: requests get 503
            self.problem = f"engine could not be built: {type(e).__name__}"
            # warning, not error: mitmproxy exits on startup errors, and a running
            # proxy that answers 503 (and /readyz 503) is the documented behaviour.
            log.warning("masker NOT READY, every request is refused: %s: %s", self.problem, e)

    def verify(self) -> dict[str, Any]:
        """Verify the audit journal of the data dir (for ``POST /audit/verify``)."""
        directory = data_dir()
        key = getattr(self._runtime, "audit_key", None) or _audit_key(directory)
        result = verify_journal(directory / "journal", key)
        return {"ok": bool(result.ok), "event_count": result.event_count, "message": result.message}


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
