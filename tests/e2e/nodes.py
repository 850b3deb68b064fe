"""A data dir (and witness dir) with the real sidecar started on it by hand: ``Node``,
shared by the tamper and crash tests (each start a fresh ``masker run`` subprocess)."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from nacl.signing import SigningKey

from masker.audit.verify import journal_files
from masker.policy.load import default_policy_path
from tests.e2e.sidecar import KEYS, ROOT, free_port

TEXT = "Please call me back on 555-123-4567 today."
SIGNING_PUB_B64 = base64.b64encode(bytes(SigningKey(base64.b64decode(KEYS["MASKER_SIGNING_KEY"])).verify_key)).decode()


class Node:
    """One data dir (+ witness dir) and how to start the real sidecar on it."""

    def __init__(self, root: Path, upstream, certs) -> None:
        self.root = root
        self.data = root / "data"
        self.witness = root / "witness-volume"
        self.witness.mkdir(parents=True)
        self.policy = root / "regex.yaml"
        self.policy.write_text(default_policy_path().read_text().replace("passes: [regex, ner]", "passes: [regex]"))
        self.upstream, self.certs = upstream, certs
        self.log = root / "sidecar.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("MASKER_")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "addons"), env.get("PYTHONPATH", "")])
        env.update(KEYS)
        env.update({"MASKER_ENV": "production", "MASKER_WITNESS_DIR": str(self.witness)})
        return env

    def refused(self, kind: str, upstream, session: str) -> None:
        """Start the sidecar and expect it never to become ready, naming ``kind``: it either exits
        non-zero at start-up (the start-up contract) or answers /readyz 503 and refuses requests."""
        mark = self.log.stat().st_size if self.log.exists() else 0
        proc, url = self._spawn()
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    r = httpx.get(f"{url}/readyz", timeout=2, trust_env=False)
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                assert r.status_code == 503, (r.status_code, r.text)
                if kind not in r.json().get("reason", ""):  # "engine not built yet": still starting
                    time.sleep(0.2)
                    continue
                upstream.received.clear()
                assert post_text(url, session).status_code == 503 and upstream.received == []
                break
            else:
                assert proc.returncode not in (None, 0), "the sidecar neither exited nor answered"
        finally:
            self._stop(proc)
        text = self.log.read_text()[mark:]
        assert kind in text, text[-3000:]
        if kind == "JournalTruncated":
            assert "accept-truncation" in text

    def _spawn(self) -> tuple[subprocess.Popen, str]:
        port = free_port()
        cmd = [
            sys.executable, "-m", "masker.cli", "run", "--listen", f"127.0.0.1:{port}",
            "--mode", f"reverse:https://127.0.0.1:{self.upstream.port}", "--data-dir", str(self.data),
            "--policy", str(self.policy), "--workers", "0", "--detect-timeout", "5",
            "--set", f"ssl_verify_upstream_trusted_ca={self.certs[0]}",
        ]
        with self.log.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        return proc, f"http://127.0.0.1:{port}"

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    @contextlib.contextmanager
    def start(self) -> Iterator[tuple[str, int, str | None]]:
        """Yields (url, readyz status, readyz reason) once the proxy answers /readyz."""
        proc, url = self._spawn()
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"sidecar exited ({proc.returncode}):\n{self.log.read_text()[-3000:]}")
                r = None
                try:
                    r = httpx.get(f"{url}/readyz", timeout=2, trust_env=False)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    if r is not None and r.status_code == 503:
                        break  # not ready: the caller asserts on the reason
                    raise AssertionError(f"sidecar not answering:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield url, r.status_code, r.json().get("reason")
        finally:
            self._stop(proc)
        assert proc.returncode == 0, self.log.read_text()[-3000:]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = self.env()
        env.pop("MASKER_ENV")  # the CLI may read dev keys; there are none here
        return subprocess.run([sys.executable, "-m", "masker.cli", *args, "--data-dir", str(self.data)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    def snapshot(self, name: str) -> Path:
        dest = self.root / f"snap-{name}"
        shutil.copytree(self.data, dest, ignore=shutil.ignore_patterns("journal.lock", "ca"))
        return dest

    def restore(self, snap: Path, *parts: str) -> None:
        for part in parts:
            shutil.rmtree(self.data / part)
            shutil.copytree(snap / part, self.data / part)

    def journal_file(self) -> Path:
        (path,) = journal_files(self.data / "journal")
        return path


def post_text(url: str, session: str) -> httpx.Response:
    """A chat completion holding ``TEXT`` (a phone number) through the sidecar at ``url``."""
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": TEXT}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30, trust_env=False,
                      headers={"x-masker-session": session})
