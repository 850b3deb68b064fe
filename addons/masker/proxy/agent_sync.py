"""Replicas on PostgreSQL: an agent changed by another replica reloads the policies here too.

Active only with ``MASKER_DATABASE_URL``. Once the engine is built, a
``masker.db.notify.ChangeListener`` thread listens for agent changes and
calls ``EngineHolder.reload`` (atomic: requests in flight finish on the
previous generation); between changes it pings the vault, so ``/readyz``
turns 503 when the database goes away even while no request comes, and
ready again once it answers.
"""

from __future__ import annotations

import os

from masker.db import database_url
from masker.db.notify import ChangeListener
from masker.proxy.engine_holder import EngineHolder


class AgentSync:
    def __init__(self, holder: EngineHolder) -> None:
        self._holder = holder
        self._listener: ChangeListener | None = None

    def running(self) -> None:
        if self._holder.startup_failure or self._listener is not None:
            return
        url = database_url(os.environ)
        if url is not None:
            self._listener = ChangeListener(url, self._holder.reload, on_idle=self._ping).start()

    def _ping(self) -> None:
        runtime = self._holder.runtime
        if runtime is not None:
            runtime.vault.ping()

    def done(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
