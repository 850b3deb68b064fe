"""Masking in worker processes: same tokens, one journal chain, fail closed when a worker dies."""

from __future__ import annotations

import base64
import multiprocessing
import os
import pickle
import signal
import threading
import time
from pathlib import Path

import pytest

from masker.audit.verify import verify_journal
from masker.engine import MaskingError, TextField
from masker.engine_pool import default_workers
from masker.policy.load import default_policy_path
from masker.runtime import open_runtime
from masker.scope import Scope

KEYS = {
    "MASKER_KEY_K_HEALTHCARE": base64.b64encode(b"k" * 32).decode(),
    "MASKER_AUDIT_KEY": base64.b64encode(b"a" * 32).decode(),
    "MASKER_SIGNING_KEY": base64.b64encode(b"s" * 32).decode(),
}
TEXT = "Call me back at 555-867-5309, my SSN is 123-45-6789."
PHI = ("555-867-5309", "123-45-6789")


@pytest.fixture
def regex_policy(tmp_path: Path) -> Path:
    path = tmp_path / "regex-only.yaml"
    path.write_text(default_policy_path().read_text().replace("passes: [regex, ner]", "passes: [regex]"))
    return path


@pytest.fixture
def pooled(tmp_path: Path, regex_policy: Path):
    rt = open_runtime(regex_policy, tmp_path / "data", KEYS)
    rt.start_workers(2)
    yield rt
    rt.close()


def test_workers_mint_the_tokens_the_proxy_process_rehydrates(pooled, tmp_path: Path, regex_policy: Path) -> None:
    scope = Scope("agent", "s1")
    masked = pooled.engine.mask_texts([TextField(TEXT, "user", "messages/0/content")], scope)[0]
    assert not any(v in masked for v in PHI) and "MSKV1.PHONE." in masked
    assert pooled.engine.rehydrate(masked, scope) == TEXT  # vault row written by a worker
    assert pooled.engine.rehydrate(masked, Scope("agent", "other")) != TEXT
    # the same tokens as masking in this process (vault-deterministic)
    local = open_runtime(regex_policy, tmp_path / "local", KEYS)
    try:
        assert local.engine.mask_texts([TextField(TEXT, "user", "m")], scope)[0] == masked
    finally:
        local.close()


def test_workers_and_the_proxy_process_keep_one_verifiable_chain(pooled, tmp_path: Path) -> None:
    scope = Scope("agent", "chain")
    for i in range(6):
        masked = pooled.engine.mask_texts([TextField(f"{TEXT} turn {i}", "user", "m")], scope)[0]
        pooled.engine.rehydrate(masked, scope)  # journaled by the proxy process
    pooled.close()  # workers close first, then the proxy's journal
    result = verify_journal(tmp_path / "data" / "journal", base64.b64decode(KEYS["MASKER_AUDIT_KEY"]))
    assert result.ok, result.message
    lines = "".join(p.read_text() for p in sorted((tmp_path / "data" / "journal").glob("*.jsonl")))
    assert lines.count('"redaction_applied"') == 12 and lines.count('"rehydration"') == 12
    assert lines.count('"policy_loaded"') == 1  # workers do not announce themselves
    assert not any(v in lines for v in PHI)


def test_a_worker_dying_mid_request_fails_it_closed_and_is_replaced(pooled) -> None:
    scope = Scope("agent", "crash")
    fields = [TextField(TEXT, "user", "m")]
    pooled.engine.mask_texts(fields, scope)
    workers = multiprocessing.active_children()
    assert len(workers) == 2
    for p in workers:
        os.kill(p.pid, signal.SIGSTOP)  # the request waits inside a worker ...
    outcome: list[BaseException | list[str]] = []
    caller = threading.Thread(target=lambda: outcome.append(_capture(pooled.engine.mask_texts, fields, scope)))
    caller.start()
    time.sleep(1.5)  # the request is sent and waits on the stopped worker
    for p in workers:
        os.kill(p.pid, signal.SIGKILL)  # ... which dies
    for p in workers:
        p.join(10)
    caller.join(30)
    assert isinstance(outcome[0], MaskingError), type(outcome[0])
    assert (outcome[0].code, outcome[0].status) == ("engine_crashed", 502)
    for _ in range(3):  # new workers take over (one replaced after the crash, one found dead while idle)
        masked = pooled.engine.mask_texts(fields, scope)[0]
        assert not any(v in masked for v in PHI)
    assert not {p.pid for p in workers} & {p.pid for p in multiprocessing.active_children()}


def _capture(fn, *args):
    try:
        return fn(*args)
    except BaseException as e:  # noqa: BLE001
        return e


def test_a_worker_past_the_timeout_is_replaced_and_the_request_refused(tmp_path: Path, regex_policy: Path) -> None:
    rt = open_runtime(regex_policy, tmp_path / "data", KEYS)
    try:
        rt.start_workers(1, timeout=0.05)
        (slow,) = multiprocessing.active_children()
        big = [TextField(f"{TEXT} line {i}. " * 40, "user", f"m/{i}") for i in range(60)]  # ~1 MB
        with pytest.raises(MaskingError) as err:
            rt.engine.mask_texts(big, Scope("agent", "slow"))
        assert (err.value.code, err.value.status) == ("detect_timeout", 503)
        slow.join(10)
        assert not slow.is_alive()  # its core is free again
        masked = rt.engine.mask_texts([TextField(TEXT, "user", "m")], Scope("agent", "slow"))[0]
        assert not any(v in masked for v in PHI)
    finally:
        rt.close()


def test_masking_errors_keep_code_and_status_across_processes() -> None:
    err = pickle.loads(pickle.dumps(MaskingError("residual_phi", "2 identifier(s) remained", 502)))
    assert (err.code, err.status, str(err)) == ("residual_phi", 502, "2 identifier(s) remained")


def test_workers_mask_by_the_catalog_the_proxy_validated_not_the_file(tmp_path: Path, regex_policy: Path) -> None:
    rt = open_runtime(regex_policy, tmp_path / "data", KEYS)
    try:
        # edited after the proxy process read it: the workers never read the file
        regex_policy.write_text(regex_policy.read_text().replace("action: tokenize", "action: redact"))
        rt.start_workers(1)
        masked = rt.engine.mask_texts([TextField(TEXT, "user", "m")], Scope("a", "s"))[0]
        assert "MSKV1.PHONE." in masked and "[REDACTED:" not in masked
    finally:
        rt.close()


def test_a_reload_reaches_every_worker_and_in_flight_generations_stay(tmp_path: Path, regex_policy: Path) -> None:
    rt = open_runtime(regex_policy, tmp_path / "data", KEYS)
    try:
        rt.start_workers(2)
        first = rt.engine
        scope = Scope("a", "s")
        regex_policy.write_text(regex_policy.read_text().replace("action: tokenize", "action: redact"))
        second = rt.reload(rt.read_catalog(regex_policy))
        assert second.generation == first.generation + 1 and second.policy.hash != first.policy.hash
        # both workers (several calls at once) mask by the new generation ...
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(second.mask_texts([TextField(TEXT, "user", "m")], scope)[0]))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 4 and all("[REDACTED:PHONE]" in r and "MSKV1." not in r for r in results)
        # ... and a request that started on the previous generation finishes on it
        assert "MSKV1.PHONE." in first.mask_texts([TextField(TEXT, "user", "m")], scope)[0]
    finally:
        rt.close()


def test_a_container_cpu_limit_caps_the_cores_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import masker.engine_pool as pool

    limit = tmp_path / "cpu.max"
    monkeypatch.setattr(pool, "CGROUP_CPU_MAX", limit)
    monkeypatch.setattr(pool.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    limit.write_text("150000 100000\n")  # 1.5 CPUs
    assert pool.available_cpus() == 2
    limit.write_text("max 100000\n")
    assert pool.available_cpus() == 64
    limit.write_text("50000 100000\n")  # half a CPU: mask inside the proxy process
    assert pool.default_workers() == 0


def test_default_workers() -> None:
    assert default_workers(1) == 0
    assert default_workers(2) == 2
    assert default_workers(32) == 4


def test_a_pooled_runtime_runs_the_ner_model_only_in_its_workers(tmp_path: Path) -> None:
    rt = open_runtime(default_policy_path(), tmp_path / "data", KEYS, workers=1)
    try:
        assert rt.ner is None  # the proxy process holds no model session of its own
        assert rt.ner_provider() == "CPUExecutionProvider"
        text = "My daughter Anna Kowalski will pick me up."
        masked = rt.engine.mask_texts([TextField(text, "user", "m")], Scope("agent", "ner"))[0]
        assert "Kowalski" not in masked and "MSKV1.NAME." in masked  # found by the NER pass, in the worker
    finally:
        rt.close()
    journal = "".join(p.read_text() for p in sorted((tmp_path / "data" / "journal").glob("*.jsonl")))
    assert '"ner_provider":"CPUExecutionProvider"' in journal.replace(" ", "")
