"""The real sidecar (``masker run``, reverse mode) refuses to start on a journal
that was cut short, torn inside its checkpointed range, rolled back (alone, or
together with its local checkpoints: the witness directory catches that) or
given a forged checkpoint; ``/readyz`` says why and nothing is forwarded. An
operator accepts a known loss with ``masker audit accept-truncation``; the
sidecar then starts, the journal verifies against a pinned key, and the
session's report names the loss.

Each start is a fresh ``masker run`` subprocess with its own data dir, witness
directory and keys in the environment (started here, not by conftest: the
witness is configured by environment only).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from nacl.signing import SigningKey

from conftest import KEYS, ROOT, free_port
from phi import values_in

from masker.audit import checkpoint as cpmod
from masker.audit.merkle import CompactRange, leaf_hash
from masker.audit.verify import journal_files
from masker.policy.load import default_policy_path

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
                assert _post(url, session).status_code == 503 and upstream.received == []
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


def _post(url: str, session: str) -> httpx.Response:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": TEXT}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30, trust_env=False,
                      headers={"x-masker-session": session})


@pytest.mark.timeout(600)
def test_a_rewound_journal_keeps_the_sidecar_down_until_the_loss_is_accepted(tmp_path, upstream, upstream_certs):
    node = Node(tmp_path, upstream, upstream_certs)
    sid = uuid.uuid4().hex
    with node.start() as (url, status, _):
        assert status == 200
        assert _post(url, sid).status_code == 200
    first = node.snapshot("first")  # journal + checkpoints after one clean run
    with node.start() as (url, status, _):
        assert status == 200
        assert _post(url, sid).status_code == 200
    good = node.snapshot("good")
    assert sorted(node.witness.glob("*.note")), "the witness got the checkpoints"

    lines = node.journal_file().read_bytes().splitlines(keepends=True)
    # 1. tail cut after a checkpoint
    node.journal_file().write_bytes(b"".join(lines[:-3]))
    node.refused("JournalTruncated", upstream, sid)
    # 2. cut mid-line (a torn last line inside the checkpointed range is not "repaired")
    node.journal_file().write_bytes(b"".join(lines[:-3]) + lines[-3][:50])
    node.refused("JournalTruncated", upstream, sid)
    assert not node.journal_file().read_bytes().endswith(b"\n")  # left as found
    # 3. the journal alone rolled back to an older copy
    node.restore(first, "journal")
    node.refused("JournalTruncated", upstream, sid)
    # 4. journal AND local checkpoints rolled back together: only the witness copy knows
    node.restore(first, "journal", "checkpoints")
    node.refused("JournalTruncated", upstream, sid)
    assert str(node.witness) in node.log.read_text()
    # 5. a forged, newer checkpoint signed by a freshly made key
    node.restore(good, "journal", "checkpoints")
    tree = CompactRange()
    for i in range(len(lines) + 5):
        tree.append(leaf_hash(b"forged %d" % i))
    forged = cpmod.sign(SigningKey.generate(), cpmod.CHECKPOINT, "ab" * 32, tree, "2030-01-01T00:00:00.000000Z")
    cpmod.save(forged, node.data / "checkpoints" / cpmod.file_name(forged))
    node.refused("UntrustedCheckpoint", upstream, sid)
    assert node.cli("audit", "verify").returncode == 2  # no pinned key: refuses to judge
    pinned = node.cli("audit", "verify", "--pubkey", SIGNING_PUB_B64)
    assert pinned.returncode == 1 and "another key" in pinned.stderr
    node.restore(good, "journal", "checkpoints")
    with node.start() as (_, status, _):
        assert status == 200  # the genuine state starts fine

    # 6. a known loss, accepted by the operator
    lines = node.journal_file().read_bytes().splitlines(keepends=True)
    node.journal_file().write_bytes(b"".join(lines[:-4]))
    node.refused("JournalTruncated", upstream, sid)
    assert node.cli("audit", "accept-truncation").returncode == 2  # needs --yes
    accepted = node.cli("audit", "accept-truncation", "--yes")
    assert accepted.returncode == 0, accepted.stderr
    assert "lost" in accepted.stdout
    with node.start() as (url, status, _):
        assert status == 200
        assert _post(url, sid).status_code == 200
    verified = node.cli("audit", "verify", "--pubkey", SIGNING_PUB_B64)
    assert verified.returncode == 0 and verified.stdout.startswith("chain ok"), verified.stderr
    assert "truncation accepted" in verified.stdout
    report = node.cli("report", sid)
    assert report.returncode == 0, report.stderr
    json_path, pdf_path = report.stdout.split()
    doc = json.loads(Path(json_path).read_bytes())
    assert doc["journal"]["truncations"] and doc["journal"]["truncations"][0]["lost_events_at_least"] >= 4
    checked = node.cli("report", "verify", pdf_path, "--journal", str(node.data / "journal"),
                       "--pubkey", SIGNING_PUB_B64)
    assert checked.returncode == 0, checked.stderr
    # no PHI anywhere it was written down
    written = node.log.read_text() + "".join(p.read_text() for p in (node.data / "journal").glob("*.jsonl"))
    written += "".join(p.read_text() for p in node.witness.iterdir())
    assert values_in(written) == []
