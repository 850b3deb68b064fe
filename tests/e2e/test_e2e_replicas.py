"""Replicas: real sidecars (``masker run``, different ports and data dirs) sharing one real PostgreSQL.

A token minted through replica A is restored through replica B, a session
dropped on A is gone on B, an agent created on A is served by B (LISTEN /
NOTIFY, no restart), and a sidecar whose database goes away answers 503
``vault_unavailable`` and turns unready, then recovers. Clients are the
official openai SDK; the fake upstream echoes (or replays) what it got.
Replica A gets the URL as ``--database-url`` and one worker process, B as
``MASKER_DATABASE_URL`` and masks in its proxy process.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from openai import APIStatusError, OpenAI

from tests.e2e.fake_upstream import REPLAY_PREVIOUS
from tests.e2e.phi import values_in
from tests.e2e.sidecar import ROOT, Sidecar, free_port, sidecar_env, stop_sidecar
from tests.helpers.pg import fresh_schema, server_url

TOKEN = secrets.token_urlsafe(24)
PHONE = "555-123-4567"
CALL = f"Please call me back at {PHONE} today."  # regex-only policy: no name in it
POLICY = (ROOT / "configs" / "mask_policy.yaml").read_text().replace("passes: [regex, ner]", "passes: [regex]")
REDACTING = POLICY.replace("tokenize", "redact")


@contextlib.contextmanager
def replica(data_dir: Path, upstream, ca: Path, url: str, *, workers: int, flag: bool) -> Iterator[tuple[Sidecar, int]]:
    """A sidecar on ``url``: (the sidecar, its admin port), ready (``/readyz`` 200)."""
    (data_dir / "policy.yaml").write_text(POLICY)
    port, admin_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "masker.cli", "run", "--listen", f"127.0.0.1:{port}",
           "--mode", f"reverse:https://127.0.0.1:{upstream.port}", "--data-dir", str(data_dir),
           "--policy", str(data_dir / "policy.yaml"), "--workers", str(workers), "--detect-timeout", "10",
           "--admin-listen", f"127.0.0.1:{admin_port}", "--set", f"ssl_verify_upstream_trusted_ca={ca}"]
    env = {**sidecar_env(upstream), "MASKER_ADMIN_TOKEN": TOKEN}
    if flag:
        cmd += ["--database-url", url]
    else:
        env["MASKER_DATABASE_URL"] = url
    log = data_dir / "sidecar.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    sc = Sidecar(port, data_dir, proc, log)
    try:
        assert wait_for(lambda: _ready(sc) == 200, 60), sc.log_text()[-3000:]
        yield sc, admin_port
    finally:
        stop_sidecar(sc)


def _ready(sc: Sidecar) -> int | None:
    assert sc.proc.poll() is None, f"sidecar exited ({sc.proc.returncode}):\n{sc.log_text()[-3000:]}"
    try:
        return httpx.get(f"{sc.url}/readyz", timeout=5, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    yield from fresh_schema()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, upstream, upstream_certs, database) -> Iterator[tuple[tuple[Sidecar, int], tuple[Sidecar, int]]]:
    with replica(tmp_path_factory.mktemp("replica-a"), upstream, upstream_certs[0], database, workers=1, flag=True) as a, \
         replica(tmp_path_factory.mktemp("replica-b"), upstream, upstream_certs[0], database, workers=0, flag=False) as b:
        yield a, b


def chat(sc: Sidecar, text: str, session: str, agent: str = "billing-bot") -> str:
    client = OpenAI(api_key="sk-test", base_url=f"{sc.url}/proxy/{agent}/v1", max_retries=0, timeout=30,
                    default_headers={"X-Masker-Session": session}, http_client=httpx.Client(trust_env=False))
    r = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": text}])
    return r.choices[0].message.content or ""


def admin(admin_port: int, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(method, f"http://127.0.0.1:{admin_port}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=30, trust_env=False, content=None if body is None else json.dumps(body))


def test_a_token_minted_on_a_is_restored_on_b_in_its_scope_only(replicas, upstream, database):
    (a, _), (b, _) = replicas
    # a UUID: 8 random hex characters are all digits about 2 % of the time, which ids refuse
    session = f"call-{uuid.uuid4()}"
    assert values_in(chat(a, CALL, session)) == ["PHONE"]  # restored on A
    sent = upstream.received[-1].body.decode()
    assert "MSKV1.PHONE." in sent and not values_in(sent)
    assert values_in(chat(b, f"What number? {REPLAY_PREVIOUS}", session)) == ["PHONE"]  # A's token, restored by B
    elsewhere = chat(b, f"What number? {REPLAY_PREVIOUS}", "another-session")
    assert "[REDACTED:PHONE]" in elsewhere and not values_in(elsewhere)
    with psycopg.connect(database) as conn:  # at rest in PostgreSQL: ciphertext only
        rows = conn.execute("SELECT agent, session, token, kind, kid, sealed FROM masker_tokens").fetchall()
    assert rows and not values_in(repr(rows)) and any(r[1] == session for r in rows)


def test_a_session_dropped_on_a_is_gone_on_b(replicas, upstream, database):
    (a, _), (b, _) = replicas
    session = f"erase-{uuid.uuid4()}"
    assert values_in(chat(a, CALL, session)) == ["PHONE"]
    done = subprocess.run([sys.executable, "-m", "masker.cli", "vault", "drop", "--session", session,
                           "--data-dir", str(a.data_dir), "--database-url", database],
                          cwd=ROOT, env=sidecar_env(upstream), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "dropped 1 vault rows" in done.stdout, done.stderr[-2000:]
    after = chat(b, f"What number? {REPLAY_PREVIOUS}", session)
    assert "[REDACTED:PHONE]" in after and not values_in(after)
    again = chat(b, CALL, session)  # masked again in that scope: the dropped token is never stored again
    assert values_in(again) == [] and "[REDACTED:PHONE]" in again


def test_an_agent_created_on_a_is_served_by_b_without_a_restart(replicas, upstream):
    (a, a_admin), (b, b_admin) = replicas
    r = admin(a_admin, "POST", "/api/v1/agents", {"name": "redact-bot", "policy_yaml": REDACTING})
    assert r.status_code == 201 and r.json()["reload"]["ok"], r.text
    assert wait_for(lambda: "redact-bot" in admin(b_admin, "GET", "/api/v1/admin/policy").json()["agents"], 15), \
        b.log_text()[-2000:]
    chat(b, CALL, "agents-e2e", agent="redact-bot")
    sent = upstream.received[-1].body.decode()
    assert "[REDACTED:PHONE]" in sent and "MSKV1.PHONE." not in sent and not values_in(sent)
    assert "agents changed on another replica" in b.log_text()
    assert admin(a_admin, "DELETE", "/api/v1/agents/redact-bot").status_code == 200
    assert wait_for(lambda: "redact-bot" not in admin(b_admin, "GET", "/api/v1/admin/policy").json()["agents"], 15)
    chat(b, CALL, "agents-e2e", agent="redact-bot")
    assert "MSKV1.PHONE." in upstream.received[-1].body.decode()


class Relay:
    """A TCP relay to the PostgreSQL server that can be cut (every connection closed) and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> Relay:
        server = socket.create_server(("127.0.0.1", self.port))
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            with self._lock:
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): close alone would not
            self._server.close()
            self._server = None
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._conns.clear()


def test_without_its_database_a_sidecar_fails_closed_and_recovers(tmp_path_factory, upstream, upstream_certs, database):
    parts = psycopg.conninfo.conninfo_to_dict(server_url())
    relay = Relay((parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432))).start()
    url = database.replace(f":{parts.get('port') or 5432}/", f":{relay.port}/")
    try:
        with replica(tmp_path_factory.mktemp("replica-c"), upstream, upstream_certs[0], url, workers=0, flag=False) as (c, _):
            assert values_in(chat(c, CALL, "outage")) == ["PHONE"]
            relay.cut()
            count = len(upstream.received)
            with pytest.raises(APIStatusError) as refused:
                chat(c, CALL, "outage")
            assert refused.value.status_code == 503 and refused.value.body["code"] == "vault_unavailable"
            assert len(upstream.received) == count  # nothing was forwarded
            assert wait_for(lambda: _ready(c) == 503, 15)
            reason = httpx.get(f"{c.url}/readyz", trust_env=False, timeout=5).json()["reason"]
            assert "vault database unavailable" in reason
            relay.start()
            assert wait_for(lambda: _ready(c) == 200, 30), c.log_text()[-2000:]
            assert values_in(chat(c, CALL, "outage")) == ["PHONE"]
        assert "secret" not in c.log_text() and "vault_unavailable" in c.log_text()
    finally:
        relay.cut()


def test_an_unreachable_database_stops_start_up_with_a_clear_error(tmp_path_factory, upstream):
    data_dir = tmp_path_factory.mktemp("replica-down")
    port = free_port()
    env = {**sidecar_env(upstream), "MASKER_DATABASE_URL": f"postgresql://masker:pw-{TOKEN}@127.0.0.1:{free_port()}/masker"}
    done = subprocess.run([sys.executable, "-m", "masker.cli", "run", "--listen", f"127.0.0.1:{port}",
                           "--mode", f"reverse:https://127.0.0.1:{upstream.port}", "--data-dir", str(data_dir),
                           "--workers", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "DatabaseUnavailable: cannot reach the database postgresql://127.0.0.1:" in done.stderr, done.stderr[-3000:]
    assert TOKEN not in done.stderr and "masker:" not in done.stderr.replace("masker: ", "")
