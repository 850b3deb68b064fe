"""``kill -9`` of the real sidecar at random points of a load run, then a restart.

A fail-closed sidecar may lose a request that was in flight, but never its
evidence: every request the upstream received had its detection and
redaction events made durable before it left. After each crash the sidecar
must start again on the same data dir (a torn last line past the last
checkpoint is repaired, nothing else), the journal must verify under the
pinned key, and every token the upstream saw must be in a journaled
``redaction_applied`` event. Masking runs in the proxy process
(``--workers 0``), so the kill lands in masking, in the journal's fdatasync
or in forwarding, wherever the load happens to be.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.e2e.nodes import SIGNING_PUB_B64, Node, post_text
from tests.e2e.sidecar import ROOT

TOKEN = re.compile(r"MSKV1\.[A-Z_]+\.[A-Za-z0-9_]+\.[A-Z2-7]{26}")
ROUNDS = 4


def _wait_ready(url: str, proc: subprocess.Popen, node: Node) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"sidecar exited ({proc.returncode}):\n{node.log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"sidecar not ready after a crash:\n{node.log.read_text()[-3000:]}")


def _journaled_tokens(node: Node) -> set[str]:
    tokens = set()
    for path in sorted((node.data / "journal").glob("events-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a torn line is the verifier's business, asserted below
            if event.get("kind") == "redaction_applied" and event.get("token"):
                tokens.add(event["token"])
    return tokens


@pytest.mark.timeout(600)
def test_kill_9_under_load_loses_no_evidence(tmp_path, upstream, upstream_certs) -> None:
    node = Node(tmp_path, upstream, upstream_certs)
    rng = random.Random(20261203)  # reproducible kill points
    upstream.received.clear()
    sent = 0
    for round_ in range(ROUNDS):
        proc, url = node._spawn()
        _wait_ready(url, proc, node)
        stop = threading.Event()
        counter = iter(range(10**6))

        def load() -> None:
            while not stop.is_set():
                try:
                    post_text(url, f"crash-r{round_}-{next(counter)}")
                except httpx.HTTPError:
                    pass  # the sidecar died under this request

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.5, 3.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(35)
        sent = len(upstream.received)
    assert sent > 0, "the load never reached the upstream: the test would prove nothing"

    with node.start() as (_, status, reason):
        assert status == 200, reason
    env = {**node.env(), "MASKER_SIGNING_PUBKEY": SIGNING_PUB_B64}
    env.pop("MASKER_ENV")
    verify = subprocess.run([sys.executable, "-m", "masker.cli", "audit", "verify", "--data-dir", str(node.data)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    forwarded = {t for r in upstream.received for t in TOKEN.findall(r.body.decode("utf-8", "replace"))}
    assert forwarded, "no token reached the upstream"
    missing = forwarded - _journaled_tokens(node)
    assert not missing, f"{len(missing)} of {len(forwarded)} forwarded tokens have no journaled redaction"
