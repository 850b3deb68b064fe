"""Starting and reading sidecars in the end-to-end tests (helpers; the fixtures are in ``conftest``).

A sidecar is a subprocess: ``mitmdump -s`` with an entry script
(``ENTRY_SCRIPTS``: the real engine, or ``fake_sidecar.py`` with
``fake_engine``), or ``masker run``. Its environment (``sidecar_env``) puts
``tests/e2e`` and ``addons`` on its PYTHONPATH, so the entry scripts import
``fake_engine`` and ``masker`` by name.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.fake_upstream import FakeUpstream
from tests.e2e.phi import PHI

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class Sidecar:
    port: int
    data_dir: Path
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def journal(self) -> list[dict]:
        """Every journaled event: the real journal's day files, or the fake engine's file."""
        paths = sorted((self.data_dir / "journal").glob("events-*.jsonl")) + [self.data_dir / "fake-journal.jsonl"]
        return [json.loads(line) for p in paths if p.exists() for line in p.read_text().splitlines() if line]

    def wait_journal(self, ready: Callable[[list[dict]], bool], timeout: float = 10.0) -> list[dict]:
        """The journal once ``ready(events)`` holds: request_forwarded and rehydration
        events are appended by a background recorder shortly after the response."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.journal()
            if ready(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.05)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


REQUEST_KINDS = ("detection", "redaction_applied", "request_forwarded", "rehydration")


def request_events(sc: Sidecar, session: str, kinds: tuple[str, ...] = REQUEST_KINDS) -> list[dict]:
    """The journal events of one session, once every kind in ``kinds`` is there
    (asserted); the journal as a whole must hold no test PHI value."""
    def mine(events: list[dict]) -> list[dict]:
        return [e for e in events if e.get("session") == session]

    events = sc.wait_journal(lambda evs: set(kinds) <= {e["kind"] for e in mine(evs)})
    got = mine(events)
    assert set(kinds) <= {e["kind"] for e in got}, sorted({e["kind"] for e in got})
    text = json.dumps(events)
    assert not [kind for value, kind in PHI.items() if value in text], "PHI value in the journal"
    return got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REAL_ENGINE = "masker.runtime:open_runtime"
FAKE_ENGINE = "fake_engine:build_engine"
# The mitmdump -s entry script for each engine (the factory is passed in code, never an option).
ENTRY_SCRIPTS = {REAL_ENGINE: ROOT / "addons" / "masker_sidecar.py", FAKE_ENGINE: E2E / "fake_sidecar.py"}
# One set of keys for every sidecar of the session (base64 of 32 random bytes each).
KEYS = {name: base64.b64encode(secrets.token_bytes(32)).decode()
        for name in ("MASKER_KEY_K_HEALTHCARE", "MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY")}


def sidecar_env(upstream: FakeUpstream) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("MASKER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(E2E), str(ROOT / "addons")])
    env["FAKE_UPSTREAM_PORT"] = str(upstream.port)
    env.update(KEYS)
    return env


def _wait_ready(sc: Sidecar, *, reverse: bool) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sc.proc.poll() is not None:
            raise RuntimeError(f"sidecar exited ({sc.proc.returncode}):\n{sc.log_text()[-3000:]}")
        try:
            if reverse:
                r = httpx.get(f"{sc.url}/readyz", timeout=2)
            else:
                r = httpx.get("http://masker.local/readyz", proxy=sc.url, timeout=2)
            if r.status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"sidecar not ready:\n{sc.log_text()[-3000:]}")


@contextlib.contextmanager
def start_sidecar(cmd: list[str], data_dir: Path, port: int, upstream: FakeUpstream, *, reverse: bool,
                  env: dict[str, str] | None = None) -> Iterator[Sidecar]:
    log = data_dir / "sidecar.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**sidecar_env(upstream), **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    sc = Sidecar(port, data_dir, proc, log)
    try:
        _wait_ready(sc, reverse=reverse)
        yield sc
    finally:
        stop_sidecar(sc)


@contextlib.contextmanager
def start_admin_sidecar(data_dir: Path, upstream: FakeUpstream, upstream_ca: Path, token: str,
                  *extra: str) -> Iterator[tuple[Sidecar, int]]:
    """``masker run`` in reverse mode (real engine) with its admin listener on a free port: (sidecar, admin port)."""
    port, admin_port = free_port(), free_port()
    cmd = [
        sys.executable, "-m", "masker.cli", "run",
        "--listen", f"127.0.0.1:{port}",
        "--mode", f"reverse:https://127.0.0.1:{upstream.port}",
        "--data-dir", str(data_dir),
        "--admin-listen", f"127.0.0.1:{admin_port}",
        "--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}",
        *extra,
    ]
    with start_sidecar(cmd, data_dir, port, upstream, reverse=True, env={"MASKER_ADMIN_TOKEN": token}) as sc:
        _wait_admin(sc, admin_port)
        yield sc, admin_port


def _wait_admin(sc: Sidecar, admin_port: int) -> None:
    """Until THIS sidecar's log says its admin listener is bound on ``admin_port``
    and the port answers: a ready proxy port alone let tests reach the admin
    port before it listened (a clean-clone CI run got 'connection refused')."""
    bound = f"admin listening on http://127.0.0.1:{admin_port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sc.proc.poll() is not None:
            raise RuntimeError(f"sidecar exited ({sc.proc.returncode}):\n{sc.log_text()[-3000:]}")
        if bound in sc.log_text():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", admin_port), timeout=2):
                return
        time.sleep(0.2)
    raise RuntimeError(f"admin listener not ready on {admin_port}:\n{sc.log_text()[-3000:]}")


def stop_sidecar(sc: Sidecar) -> None:
    """SIGTERM (a clean shutdown: mitmproxy's ``done`` runs), SIGKILL after 10 s."""
    sc.proc.terminate()
    try:
        sc.proc.wait(10)
    except subprocess.TimeoutExpired:
        sc.proc.kill()
        sc.proc.wait(5)


def mitmdump_cmd(
    port: int, data_dir: Path, upstream_ca: Path, factory: str, *extra: str, confdir: Path | None = None
) -> list[str]:
    """``factory``: REAL_ENGINE or FAKE_ENGINE, which picks the entry script (``ENTRY_SCRIPTS``).
    ``confdir``: the interception CA (default ``<data_dir>/ca``); sidecars sharing one share a client bundle."""
    if factory not in ENTRY_SCRIPTS:
        raise ValueError(f"no sidecar entry script for engine {factory!r}; add one like tests/e2e/fake_sidecar.py")
    return [
        str(VENV_BIN / "mitmdump"),
        "-s", str(ENTRY_SCRIPTS[factory]),
        "-s", str(E2E / "redirect_addon.py"),
        "--listen-host", "127.0.0.1", "--listen-port", str(port),
        "--set", f"confdir={confdir or data_dir / 'ca'}",
        "--set", "connection_strategy=lazy",  # as `masker run`; keeps the request host through the redirect
        "--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}",
        "--set", f"masker_data_dir={data_dir}",
        "--set", "masker_detect_timeout=2",
        "--set", "masker_max_body=64k",
        *extra,
    ]
