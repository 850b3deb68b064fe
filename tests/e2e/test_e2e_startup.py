"""``masker run`` as a user meets it: real subprocesses.

* start-up contract: production without keys, an invalid or a missing policy
  exit 1 with the reasons (policy issues with their lines); ``MASKER_DEV=1``
  falls back to the shipped policy and runs;
* the banner comes after the listeners listen and names each with its mode
  (reverse mode only: the default 8080 does not listen and is not named);
* ``--log-format json``: every line is a JSON object with a timestamp;
* one access line per request, with agent, session, route, status, outcome,
  kinds masked and added ms, never a value;
* ``--web``: the UI token printed once on stderr; each flow commented and
  marked; a refused request shown as Masker's own answer; a streamed
  response kept viewable, rehydrated.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.e2e.phi import CHART, values_in
from tests.e2e.sidecar import E2E, KEYS, ROOT, free_port

SESSION_HEADER = "X-Masker-Session"


def _env(upstream_port: int | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("MASKER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(E2E), str(ROOT / "addons")])
    if upstream_port is not None:
        env["FAKE_UPSTREAM_PORT"] = str(upstream_port)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def regex_policy(tmp_path_factory) -> Path:
    """The shipped policy without the NER pass: fast start-ups."""
    from masker.policy.load import default_policy_path

    path = tmp_path_factory.mktemp("policy") / "regex-only.yaml"
    path.write_text(default_policy_path().read_text().replace("passes: [regex, ner]", "passes: [regex]"))
    return path


def _run_to_exit(args: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "masker.cli", "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------ start-up contract


def test_production_without_keys_exits_with_the_missing_variables(tmp_path):
    proc = _run_to_exit(["--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path), "--workers", "0"],
                        _env(MASKER_ENV="production"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "masker refuses to start" in proc.stderr
    for name in ("MASKER_KEY_K_HEALTHCARE", "MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY"):
        assert name in proc.stderr
    assert "ready in" not in proc.stderr and "listening on" not in proc.stderr
    assert not (tmp_path / "dev-keys.env").exists()


@pytest.mark.parametrize("production", [True, False])
def test_invalid_policy_exits_with_each_issue_and_its_line(tmp_path, production):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nbogus: 2\n")
    env = _env(**KEYS, **({"MASKER_ENV": "production"} if production else {}))
    proc = _run_to_exit(["--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path), "--workers", "0",
                         "--policy", str(bad)], env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f"{bad}:3: unknown_key: bogus" in proc.stderr
    assert f"{bad}:1: missing_key: kid" in proc.stderr
    assert "ready in" not in proc.stderr and "Traceback" not in proc.stderr


def test_missing_policy_says_file_not_found_with_the_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    proc = _run_to_exit(["--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path), "--workers", "0",
                         "--policy", str(missing)], _env(**KEYS, MASKER_ENV="production"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f"policy file not found: {missing}" in proc.stderr
    assert "yaml_error" not in proc.stderr


def test_mitmdump_script_with_a_missing_policy_exits_too(tmp_path, upstream_certs):
    """The same contract under ``mitmdump -s``: mitmproxy exits on the error logged at start-up."""
    from tests.e2e.sidecar import REAL_ENGINE, mitmdump_cmd

    missing = tmp_path / "missing.yaml"
    cmd = mitmdump_cmd(free_port(), tmp_path, upstream_certs[0], REAL_ENGINE, "--set", f"masker_policy={missing}",
                       "--set", "masker_workers=0")
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(**KEYS), capture_output=True, text=True, timeout=90)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert f"policy file not found: {missing}" in out


# ------------------------------------------------------------ running sidecars


@contextlib.contextmanager
def _sidecar(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "masker.cli", "run", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "ready in" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sidecar did not start ({proc.poll()}):\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_dev_fallback_runs_the_shipped_policy(tmp_path, upstream):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nbogus: 2\n")
    port = free_port()
    log = tmp_path / "dev.log"
    with _sidecar(["--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data"), "--workers", "0",
                   "--policy", str(bad)], _env(upstream.port, MASKER_DEV="1"), log):
        ready = httpx.get("http://masker.local/readyz", proxy=f"http://127.0.0.1:{port}", timeout=10)
    text = log.read_text()
    assert ready.status_code == 200
    assert f"invalid mask policy: {bad}:3: unknown_key: bogus" in text
    assert "MASKER_DEV=1: using the shipped default policy" in text
    assert "policy healthcare-default" in text


def _records(log: Path) -> list[dict]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line[:200]!r}")
    return records


def test_reverse_mode_banner_json_logs_and_one_access_line_per_request(tmp_path, upstream, upstream_certs, regex_policy):
    port, unused = free_port(), free_port()
    log = tmp_path / "json.log"
    args = ["--listen", f"127.0.0.1:{unused}", "--mode", f"reverse:https://127.0.0.1:{upstream.port}@{port}",
            "--data-dir", str(tmp_path / "data"), "--workers", "0", "--policy", str(regex_policy),
            "--log-format", "json", "--set", f"ssl_verify_upstream_trusted_ca={upstream_certs[0]}"]
    base = f"http://127.0.0.1:{port}"
    chat = {"model": "gpt-test", "messages": [{"role": "user", "content": CHART}]}
    with _sidecar(args, _env(upstream.port, **KEYS), log):
        with httpx.Client(trust_env=False, timeout=20) as c:
            assert c.get(f"{base}/readyz").status_code == 200  # local: no access line
            ok = c.post(f"{base}/proxy/triage-bot/v1/chat/completions", json=chat, headers={SESSION_HEADER: "call-1"})
            bad = c.post(f"{base}/v1/chat/completions", content=b"{not json",
                         headers={"content-type": "application/json", SESSION_HEADER: "call-2"})
            with c.stream("POST", f"{base}/v1/chat/completions", json={**chat, "stream": True},
                          headers={SESSION_HEADER: "call-3"}) as streamed:
                body = b"".join(streamed.iter_bytes())
            with pytest.raises(httpx.ConnectError):
                c.get(f"http://127.0.0.1:{unused}/readyz")  # --listen is not used: every mode names its port
        deadline = time.monotonic() + 10
        while len([r for r in _records(log) if r["logger"] == "masker.access"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert ok.status_code == 200 and bad.status_code == 400 and streamed.status_code == 200 and b"[DONE]" in body
    records = _records(log)
    assert values_in(log.read_text()) == [], "a PHI value in the log"
    for r in records:
        assert {"ts", "level", "logger", "msg"} <= set(r)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"])
    msgs = [r["msg"] for r in records]
    listening = [m for m in msgs if m.startswith("listening on")]
    assert listening == [f"listening on 127.0.0.1:{port}: reverse proxy to https://127.0.0.1:{upstream.port} "
                         f"(base_url http://127.0.0.1:{port}/proxy/AGENT/...)"]
    ready = next(i for i, m in enumerate(msgs) if m.startswith("masker ready in"))
    assert msgs.index(listening[0]) < ready
    assert not [m for m in msgs if str(unused) in m or ":8080" in m]
    for step in ("loading policy", "masker engine ready in"):
        assert any(m.startswith(step) for m in msgs[:ready]), step

    access = [r for r in records if r["logger"] == "masker.access"]
    assert len(access) == 3, [a.get("outcome") for a in access]
    by_session = {a["session"]: a for a in access}
    first = by_session["call-1"]
    assert (first["agent"], first["route"], first["status"], first["outcome"], first["by"]) == (
        "triage-bot", "/v1/chat/completions", 200, "forwarded", "upstream")
    assert {"DOB", "MRN", "PHONE"} <= set(first["masked"]) and all(isinstance(n, int) for n in first["masked"].values())
    assert isinstance(first["added_ms"], (int, float)) and first["added_ms"] >= 0
    refused = by_session["call-2"]
    assert (refused["status"], refused["outcome"], refused["by"], refused["masked"]) == (400, "invalid_json", "masker", {})
    assert by_session["call-3"]["outcome"] == "forwarded" and by_session["call-3"]["status"] == 200


def test_worker_processes_log_in_the_chosen_format(tmp_path, upstream, upstream_certs):
    port = free_port()
    log = tmp_path / "workers.log"
    args = ["--mode", f"reverse:https://127.0.0.1:{upstream.port}@{port}", "--data-dir", str(tmp_path / "data"),
            "--workers", "1", "--log-format", "json", "--admin-listen", "",
            "--set", f"ssl_verify_upstream_trusted_ca={upstream_certs[0]}"]
    with _sidecar(args, _env(upstream.port, **KEYS), log):
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=20, trust_env=False).status_code == 200
    records = _records(log)  # fails on any line that is not JSON, the worker's included
    # the NER model loads only in the worker process (the proxy process of a pool holds none)
    assert any(r["logger"] == "masker.detect.ner" and r["msg"].startswith("ner model loaded") for r in records)


def test_web_token_printed_once_flows_marked_and_streams_viewable(tmp_path, upstream, upstream_certs, regex_policy):
    port, web = free_port(), free_port()
    log = tmp_path / "web.log"
    args = ["--mode", f"reverse:https://127.0.0.1:{upstream.port}@{port}", "--web", "--web-listen", f"127.0.0.1:{web}",
            "--data-dir", str(tmp_path / "data"), "--workers", "0", "--policy", str(regex_policy),
            "--set", f"ssl_verify_upstream_trusted_ca={upstream_certs[0]}"]
    base = f"http://127.0.0.1:{port}"
    chat = {"model": "gpt-test", "messages": [{"role": "user", "content": CHART}]}
    with _sidecar(args, _env(upstream.port, **KEYS), log):
        text = log.read_text()
        urls = re.findall(rf"http://127\.0\.0\.1:{web}/\?token=([0-9a-f]+)", text)
        assert len(urls) == 1, "the UI URL with its token is printed exactly once"
        token = urls[0]
        assert text.count(token) == 1
        with httpx.Client(trust_env=False, timeout=20) as c:
            assert c.get(f"http://127.0.0.1:{web}/flows").status_code == 403  # the UI wants that token
            c.post(f"{base}/proxy/triage-bot/v1/chat/completions", json=chat, headers={SESSION_HEADER: "w-1"})
            c.post(f"{base}/v1/chat/completions", content=b"{not json",
                   headers={"content-type": "application/json", SESSION_HEADER: "w-2"})
            with c.stream("POST", f"{base}/v1/chat/completions", json={**chat, "stream": True},
                          headers={SESSION_HEADER: "w-3"}) as r:
                sent = b"".join(r.iter_bytes())
            auth = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 10
            while True:
                flows = c.get(f"http://127.0.0.1:{web}/flows", headers=auth).json()
                if len([f for f in flows if f.get("comment")]) >= 3 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            by_session = {}
            for f in flows:
                m = re.search(r"session (w-\d)", f.get("comment", ""))
                if m:
                    by_session[m.group(1)] = f
            assert set(by_session) == {"w-1", "w-2", "w-3"}
            kept = c.get(f"http://127.0.0.1:{web}/flows/{by_session['w-3']['id']}/response/content.data", headers=auth)
            # the "masker spans" content view, as mitmweb's UI fetches it for the request tab
            spans_view = c.get(f"http://127.0.0.1:{web}/flows/{by_session['w-1']['id']}/request/content/masker%20spans.json",
                               headers=auth).json()
            default_view = c.get(f"http://127.0.0.1:{web}/flows/{by_session['w-1']['id']}/request/content/auto.json",
                                 headers=auth).json()
    forwarded, refused = by_session["w-1"], by_session["w-2"]
    assert forwarded["marked"] in (":lock:", "\N{LOCK}") and "forwarded masked" in forwarded["comment"]
    assert "agent triage-bot" in forwarded["comment"] and "PHONE" in forwarded["comment"]
    assert refused["marked"] in (":no_entry:", "\N{NO ENTRY}")  # mitmweb sends the emoji
    assert "REFUSED invalid_json" in refused["comment"] and "nothing was sent upstream" in refused["comment"]
    for f in flows:  # comments hold no value
        assert values_in(f.get("comment", "")) == []
    assert spans_view["view_name"] == "masker spans"
    assert "PHONE" in spans_view["text"] and "MSKV1.PHONE." in spans_view["text"]
    # it shows no more than what left (a regex-only policy: the name is not detected, it left as it was)
    assert set(values_in(spans_view["text"])) <= set(values_in(default_view["text"])) == {"NAME"}
    assert default_view["view_name"] != "masker spans" and "MSKV1.PHONE." in default_view["text"]  # what the provider got
    assert kept.status_code == 200 and kept.content == sent, "the streamed body is viewable as the client got it"
    assert b"MSKV1." not in kept.content and b"[DONE]" in kept.content
    assert log.read_text().count(token) == 1, "the token is in no log line"
