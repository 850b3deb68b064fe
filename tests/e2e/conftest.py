"""End-to-end fixtures: fake TLS upstream, the sidecar as a subprocess
(regular mode via ``mitmdump -s addons/masker_sidecar.py`` and reverse mode via
``masker run``), and the combined CA bundle from ``masker ca``.

The engine is chosen in ONE place: the ``engine_factory`` fixture (an
import path for the ``masker_engine_factory`` option).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from fake_upstream import FakeUpstream, make_ca_and_leaf

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
        path = self.data_dir / "fake-journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def engine_factory() -> str:
    """The engine the sidecar runs (the ONE place to switch): "masker.runtime:build_engine" is
    the real one (also via MASKER_E2E_ENGINE). Marker-word tests (FAIL_*, SLOW_*) need the fake."""
    return os.environ.get("MASKER_E2E_ENGINE", "fake_engine:build_engine")


@pytest.fixture(scope="session")
def upstream_certs(tmp_path_factory) -> tuple[Path, Path, Path]:
    return make_ca_and_leaf(tmp_path_factory.mktemp("upstream-ca"))


@pytest.fixture(scope="session")
def upstream(upstream_certs) -> Iterator[FakeUpstream]:
    _, cert, key = upstream_certs
    server = FakeUpstream(cert, key).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_records(request) -> None:
    if "upstream" in request.fixturenames:
        request.getfixturevalue("upstream").received.clear()


def _env(upstream: FakeUpstream) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(E2E), str(ROOT / "addons")])
    env["FAKE_UPSTREAM_PORT"] = str(upstream.port)
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
def start_sidecar(cmd: list[str], data_dir: Path, port: int, upstream: FakeUpstream, *, reverse: bool) -> Iterator[Sidecar]:
    log = data_dir / "sidecar.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(upstream), stdout=out, stderr=subprocess.STDOUT)
    sc = Sidecar(port, data_dir, proc, log)
    try:
        _wait_ready(sc, reverse=reverse)
        yield sc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def mitmdump_cmd(port: int, data_dir: Path, upstream_ca: Path, factory: str, *extra: str) -> list[str]:
    return [
        str(VENV_BIN / "mitmdump"),
        "-s", str(ROOT / "addons" / "masker_sidecar.py"),
        "-s", str(E2E / "redirect_addon.py"),
        "--listen-host", "127.0.0.1", "--listen-port", str(port),
        "--set", f"confdir={data_dir / 'ca'}",
        "--set", "connection_strategy=lazy",  # as `masker run`; keeps the request host through the redirect
        "--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}",
        "--set", f"masker_data_dir={data_dir}",
        "--set", f"masker_engine_factory={factory}",
        "--set", "masker_detect_timeout=2",
        "--set", "masker_max_body=64k",
        *extra,
    ]


@pytest.fixture(scope="session")
def sidecar(tmp_path_factory, upstream, upstream_certs, engine_factory) -> Iterator[Sidecar]:
    """Regular mode (HTTPS_PROXY), the mitmdump script entry."""
    data_dir = tmp_path_factory.mktemp("sidecar")
    port = free_port()
    with start_sidecar(mitmdump_cmd(port, data_dir, upstream_certs[0], engine_factory), data_dir, port, upstream, reverse=False) as sc:
        yield sc


@pytest.fixture(scope="session")
def reverse_sidecar(tmp_path_factory, upstream, upstream_certs, engine_factory) -> Iterator[Sidecar]:
    """Reverse mode (base_url) through ``masker run``."""
    data_dir = tmp_path_factory.mktemp("reverse")
    port = free_port()
    cmd = [
        sys.executable, "-m", "masker.proxy.cli", "run",
        "--listen", f"127.0.0.1:{port}",
        "--mode", f"reverse:https://127.0.0.1:{upstream.port}",
        "--data-dir", str(data_dir),
        "--detect-timeout", "2",
        "--set", f"ssl_verify_upstream_trusted_ca={upstream_certs[0]}",
        "--set", f"masker_engine_factory={engine_factory}",
    ]
    with start_sidecar(cmd, data_dir, port, upstream, reverse=True) as sc:
        yield sc


@pytest.fixture(scope="session")
def bundle(sidecar) -> Path:
    """The combined trust bundle, written by ``masker ca`` for the sidecar's data dir."""
    from masker.proxy import cli

    out = sidecar.data_dir / "bundle.pem"
    assert cli.main(["ca", "--data-dir", str(sidecar.data_dir), "--out", str(out)]) == 0
    return out


@pytest.fixture
def proxied_env(monkeypatch, sidecar, bundle):
    """Environment of an app container pointed at the sidecar (HTTPS_PROXY + bundle)."""
    for name in list(os.environ):
        if "proxy" in name.lower() or name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)

    def setup(agent: str | None = "billing-bot") -> None:
        user = f"{agent}@" if agent else ""
        monkeypatch.setenv("HTTPS_PROXY", f"http://{user}127.0.0.1:{sidecar.port}")
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))

    return setup
