"""End-to-end fixtures: fake TLS upstream, the sidecar as a subprocess
(regular mode via ``mitmdump -s addons/masker_sidecar.py`` and reverse mode via
``masker run``), and the combined CA bundle from ``masker ca``.

``sidecar`` and ``reverse_sidecar`` run the REAL engine
(``masker.runtime:open_runtime``: shipped policy with regex + NER, a fresh
data dir, keys in the environment) and ``Sidecar.journal()`` reads the real
HMAC-chained journal. ``fake_sidecar`` runs ``fake_engine`` and exists only
for failures that must be injected (engine crash, stall, timeout, audit down
on demand, rehydration failure). The engine is chosen by the entry script
(``ENTRY_SCRIPTS``: ``tests/e2e/fake_sidecar.py`` passes the fake factory in
code), never by an option: Masker has no engine factory option.

What the tests themselves call (``start_sidecar``, ``mitmdump_cmd``,
``request_events``...) is in ``tests.e2e.sidecar``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fake_upstream import FakeUpstream, make_ca_and_leaf
from tests.e2e.sidecar import FAKE_ENGINE, REAL_ENGINE, Sidecar, free_port, mitmdump_cmd, start_sidecar


@pytest.fixture(scope="session")
def upstream_certs(tmp_path_factory) -> tuple[Path, Path, Path]:
    return make_ca_and_leaf(tmp_path_factory.mktemp("upstream-ca"))


@pytest.fixture(scope="session")
def upstream(upstream_certs) -> Iterator[FakeUpstream]:
    _, cert, key = upstream_certs
    server = FakeUpstream(cert, key).start()
    yield server
    server.stop()


# What a sidecar keeps at rest or writes to its log, under its data dir.
AT_REST = ("**/journal/*.jsonl", "**/checkpoints/*", "**/witness*/**/*", "**/reports/*.json", "**/reports/*.pdf",
           "**/*.log", "**/*.sqlite", "**/*.sqlite-wal")
AT_REST_DEEP_SCAN = 256 * 1024  # characters


@pytest.fixture(scope="session", autouse=True)
def _no_phi_at_rest(tmp_path_factory) -> Iterator[None]:
    """After the whole e2e run (every sidecar stopped: this fixture is torn down
    last), every journal, checkpoint, witness copy, report, log and vault file
    of every sidecar is scanned for every planted value, as written and in its
    normalized and encoded forms. Vault values are encrypted, so a value found
    in a vault file is a value stored in clear. Reports only kinds and files."""
    yield
    from pypdf import PdfReader

    from tests.e2e.leak_helpers import PLANTED, kinds_in

    base = tmp_path_factory.getbasetemp()
    found: dict[str, list[str]] = {}
    seen: set[Path] = set()
    for pattern in AT_REST:
        for path in base.glob(pattern):
            if not path.is_file() or path in seen:
                continue
            seen.add(path)
            if path.suffix == ".pdf":
                text = "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
            else:
                text = path.read_bytes().decode("utf-8", "replace")
            # Every file as written; the normalized and decoded forms too (slow: base64 candidates)
            # for the text files up to a size, not for vault pages (binary, values encrypted).
            if len(text) <= AT_REST_DEEP_SCAN and "sqlite" not in path.name:
                kinds = kinds_in(text)
            else:
                kinds = sorted(kind for kind, value in PLANTED.items() if value in text)
            if kinds:
                found[str(path.relative_to(base))] = kinds
    assert not found, f"planted values at rest or in logs (file: kinds): {found}"


@pytest.fixture(autouse=True)
def _fresh_records(request) -> None:
    if "upstream" in request.fixturenames:
        request.getfixturevalue("upstream").received.clear()


@pytest.fixture(scope="session")
def sidecar(tmp_path_factory, upstream, upstream_certs) -> Iterator[Sidecar]:
    """Regular mode (HTTPS_PROXY), the mitmdump script entry, real engine."""
    data_dir = tmp_path_factory.mktemp("sidecar")
    port = free_port()
    cmd = mitmdump_cmd(port, data_dir, upstream_certs[0], REAL_ENGINE)
    with start_sidecar(cmd, data_dir, port, upstream, reverse=False) as sc:
        yield sc


@pytest.fixture(scope="session")
def fake_sidecar(tmp_path_factory, upstream, upstream_certs, sidecar) -> Iterator[Sidecar]:
    """Regular mode with ``fake_engine``: only for injected failures (marker words).
    Shares the real sidecar's CA, so ``bundle`` works for both."""
    data_dir = tmp_path_factory.mktemp("fake-sidecar")
    port = free_port()
    cmd = mitmdump_cmd(port, data_dir, upstream_certs[0], FAKE_ENGINE, confdir=sidecar.data_dir / "ca")
    with start_sidecar(cmd, data_dir, port, upstream, reverse=False) as sc:
        yield sc


@pytest.fixture(scope="session")
def reverse_sidecar(tmp_path_factory, upstream, upstream_certs) -> Iterator[Sidecar]:
    """Reverse mode (base_url) through ``masker run``, real engine."""
    data_dir = tmp_path_factory.mktemp("reverse")
    port = free_port()
    cmd = [
        sys.executable, "-m", "masker.cli", "run",
        "--listen", f"127.0.0.1:{port}",
        "--mode", f"reverse:https://127.0.0.1:{upstream.port}",
        "--data-dir", str(data_dir),
        "--detect-timeout", "2",
        "--set", f"ssl_verify_upstream_trusted_ca={upstream_certs[0]}",
    ]
    with start_sidecar(cmd, data_dir, port, upstream, reverse=True) as sc:
        yield sc


@pytest.fixture(scope="session")
def bundle(sidecar) -> Path:
    """The combined trust bundle, written by ``masker ca`` for the sidecar's data dir."""
    from masker import cli

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
