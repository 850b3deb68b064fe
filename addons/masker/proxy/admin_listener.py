"""Starts and stops the admin listener (``masker.admin``) inside the proxy's event loop.

Option ``masker_admin_listen`` (``HOST:PORT``, default ``127.0.0.1:8090``;
empty turns it off) and the token ``masker_admin_token`` (``$MASKER_ADMIN_TOKEN``):
without a token the admin API is off, and start-up says so. The address
must differ from every proxy listener. A port that cannot be bound stops
start-up (exit 1), like any listener that does not listen.

``SidecarBackend`` is the ``AdminBackend`` over the engine holder and the
live view's buffer (``masker.proxy.live_capture`` fills it).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.netutil
from mitmproxy import ctx, exceptions

from masker import metrics
from masker.admin.app import make_app
from masker.admin.backend import new_cookie_value
from masker.admin.journal_view import JournalView
from masker.admin.live import LiveBuffer
from masker.agents import Agent, AgentStore
from masker.audit.cli import signed_with_dev_key
from masker.audit.report import PUB_SUFFIX, SIG_SUFFIX, build_report
from masker.detect import registry
from masker.policy import recall
from masker.policy.catalog import ReloadOutcome
from masker.policy.coverage import coverage_matrix, with_measured_recall
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.options import default_admin_token

log = logging.getLogger("masker.proxy")

DEFAULT_ADMIN_LISTEN = "127.0.0.1:8090"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) -> (host, port); raises ``ValueError``."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


class SidecarBackend:
    """What the admin handlers call; every method that blocks is called from a thread."""

    def __init__(self, holder: EngineHolder, token: str, live: LiveBuffer) -> None:
        self.holder = holder
        self.admin_token = token
        self.cookie_value = new_cookie_value()
        self._live = live
        self._writes = threading.Lock()  # one agent write + reload at a time
        self._journal: JournalView | None = None
        self._journal_lock = threading.Lock()

    def live(self) -> LiveBuffer:
        return self._live

    def journal(self) -> JournalView:
        runtime = self.holder.runtime
        if runtime is None:
            raise LookupError("no running engine")
        with self._journal_lock:
            if self._journal is None:  # the keys come from the environment: the same for every rebuild
                self._journal = JournalView(self.holder.data_dir / "journal", runtime.audit_key, runtime.signing_key.verify_key)
            return self._journal

    def session_report(self, session: str) -> dict[str, Any]:
        runtime = self.holder.runtime
        if runtime is None:
            raise LookupError("no running engine")
        directory, policy, model_dir = self.holder.data_dir, runtime.policy, runtime.model_dir
        model = recall.model_id(model_dir) if model_dir is not None else None
        record = recall.load_record(model_dir)
        json_path, pdf_path = build_report(
            directory / "journal", runtime.audit_key, session, runtime.signing_key,
            coverage=lambda: with_measured_recall(
                coverage_matrix(policy, registry.detector_kinds(model_dir)), record, model, policy.hash),
            policy=policy, out_dir=directory / "reports",
            dev_signing_key=signed_with_dev_key(runtime.signing_key, directory),
            evaluation=recall.evaluation_summary(record, model, policy.hash),
        )
        signature = json_path.with_name(json_path.name + SIG_SUFFIX).read_bytes()
        pub = json_path.with_name(json_path.name.removesuffix(".json") + PUB_SUFFIX).read_text()
        return {"report": json.loads(json_path.read_bytes()), "signature": base64.b64encode(signature).decode(),
                "public_key_pem": pub, "files": {"json": json_path.name, "pdf": pdf_path.name}}

    def data_dir(self) -> Path:
        return self.holder.data_dir

    def engine(self) -> Any:
        return self.holder.engine

    def reload_policy(self, reason: str) -> ReloadOutcome:
        return self.holder.reload(reason)

    def policy_state(self) -> dict[str, Any] | None:
        runtime = self.holder.runtime
        if runtime is None:
            return None
        engines = runtime.engine
        return {
            "generation": engines.generation,
            "source": engines.catalog.source,
            "policy": {"name": engines.policy.name, "hash": engines.policy.hash},
            "agents": {name: {"name": p.name, "hash": p.hash} for name, p in sorted(engines.policies.by_agent.items())},
            "upstreams": dict(sorted(engines.policies.upstreams.items())),
        }

    def agents(self) -> AgentStore:
        runtime = self.holder.runtime
        if runtime is None:
            raise LookupError("no running engine")
        return runtime.agents

    def key_env(self) -> Mapping[str, str]:
        runtime = self.holder.runtime
        return runtime.env if runtime is not None else os.environ

    def write_agent(self, agent: Agent, create: bool) -> tuple[Agent, ReloadOutcome]:
        store = self.agents()
        with self._writes:
            previous = store.get(agent.name)
            stored = store.create(agent) if create else store.update(agent)
            outcome = self.holder.reload(f"agent {agent.name} {'created' if create else 'updated'}")
            if not outcome.ok:
                if previous is None:
                    store.delete(agent.name)
                else:
                    store.update(previous)
            return stored, outcome

    def delete_agent(self, name: str) -> tuple[bool, ReloadOutcome]:
        store = self.agents()
        with self._writes:
            previous = store.get(name)
            if previous is None or not store.delete(name):
                return False, ReloadOutcome(False, 0, message="no such agent")
            outcome = self.holder.reload(f"agent {name} deleted")
            if not outcome.ok:
                store.create(previous)
            return True, outcome

    def verify(self) -> dict[str, Any]:
        return self.holder.verify()

    def metrics(self) -> tuple[bytes, str]:
        return metrics.render()


class AdminListener:
    def __init__(self, holder: EngineHolder, live: LiveBuffer) -> None:
        self._holder = holder
        self._live = live
        self._server: tornado.httpserver.HTTPServer | None = None
        self.backend: SidecarBackend | None = None
        self.address: tuple[str, int] | None = None  # where it listens (the bound port when 0 was asked)
        # parsed by ``configure``: masker_admin_listen (None: off) and the shared masker_admin_token
        self._listen: tuple[str, int] | None = parse_listen(DEFAULT_ADMIN_LISTEN)
        self._token = default_admin_token()

    def load(self, loader: Any) -> None:
        loader.add_option(
            "masker_admin_listen", str, DEFAULT_ADMIN_LISTEN,
            "Admin listener HOST:PORT (admin API, live view, /metrics); empty: off. Needs masker_admin_token.",
        )

    def configure(self, updated: set[str]) -> None:
        if "masker_admin_token" in updated:
            self._token = ctx.options.masker_admin_token
        if "masker_admin_listen" in updated:
            self._listen = None
            if ctx.options.masker_admin_listen:
                try:
                    host, port = parse_listen(ctx.options.masker_admin_listen)
                except ValueError as e:
                    raise exceptions.OptionsError(f"masker_admin_listen: {e}") from None
                proxy_port = ctx.options.listen_port or 8080
                if port == proxy_port and host in (ctx.options.listen_host or "0.0.0.0", "0.0.0.0", "::"):
                    raise exceptions.OptionsError("masker_admin_listen must not be the proxy's own address")
                self._listen = (host, port)

    def running(self) -> None:
        if self._holder.startup_failure or self._server is not None:
            return
        listen, token = self._listen, self._token
        if listen is None:
            log.info("admin API off (masker_admin_listen is empty)")
            return
        if not token:
            log.info("admin API off: MASKER_ADMIN_TOKEN is not set (no live view, admin API or /metrics)")
            return
        host, port = listen
        self.backend = SidecarBackend(self._holder, token, self._live)
        server = tornado.httpserver.HTTPServer(make_app(self.backend), xheaders=False)
        try:
            sockets = tornado.netutil.bind_sockets(port, host)
        except OSError as e:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            log.error("admin listener cannot listen on %s: %s", where, e.strerror or type(e).__name__)
            ctx.master.shutdown()
            return
        server.add_sockets(sockets)
        self._server = server
        self._live.recording = True
        self.address = (host, sockets[0].getsockname()[1])
        log.info("admin listening on http://%s:%d/ (live view, /api/v1, /metrics; token: $MASKER_ADMIN_TOKEN)",
                 *self.address)

    async def done(self) -> None:
        server, self._server = self._server, None
        self._live.recording = False
        if server is not None:
            server.stop()
            await server.close_all_connections()
