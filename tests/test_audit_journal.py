"""The audit journal: chain, tamper suite, checkpoints, fail-closed latch,
torn-tail repair, crash (kill -9), threads and processes, retention."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

import masker.audit.journal as journal_mod
from masker.audit import checkpoint as cpmod
from masker.audit.events import AuditUnavailable, Event
from masker.audit.journal import Journal
from masker.audit.merkle import leaf_hash
from masker.audit.verify import (
    ANCHOR_FILE,
    canonical,
    chain_hash,
    encode_line,
    event_proof,
    journal_files,
    verify_journal,
)

KEY = bytes(range(32))
SK = SigningKey(b"\x07" * 32)
REPO = Path(__file__).resolve().parents[1]


def ev(i: int, session: str = "s1") -> Event:
    return Event(
        kind="detection", agent="agent-a", session=session, detector="regex", entity_kind="PHONE",
        span=(i, i + 12), token="MSKV1.PHONE.K_HEALTHCARE.ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        policy="healthcare", policy_hash="ab" * 32, detail={"confidence": 0.93, "field": f"messages[{i}]"},
    )


def make(tmp_path: Path, n: int, **kw: object) -> tuple[Journal, Path, Path]:
    """A journal of ``n`` events. ``pin_key=False``: no ``journal_opened`` event at seq 0, so line i is
    seq i here (the key pin has its own tests in test_audit_tamper.py)."""
    jdir, cdir = tmp_path / "journal", tmp_path / "checkpoints"
    kw.setdefault("pin_key", False)
    j = Journal(jdir, KEY, SK, checkpoint_dir=cdir, **kw)
    for i in range(n):
        j.append([ev(i)])
    return j, jdir, cdir


def lines_of(jdir: Path) -> tuple[Path, list[bytes]]:
    (path,) = journal_files(jdir)
    return path, path.read_bytes().splitlines(keepends=True)


def verify(jdir: Path, cp: Path | None = None):
    return verify_journal(jdir, KEY, checkpoint=cp, verify_key=SK.verify_key)


def test_chain_verifies_and_lines_have_the_documented_fields(tmp_path: Path) -> None:
    j, jdir, _ = make(tmp_path, 5)
    j.close()
    result = verify(jdir)
    assert (result.ok, result.message, result.event_count, result.first_bad_seq) == (True, "chain ok", 5, None)
    _, lines = lines_of(jdir)
    rec = json.loads(lines[2])
    for key in ("seq", "kind", "ts", "agent", "session", "detector", "entity_kind", "span", "token",
                "policy", "policy_hash", "prev_hash", "curr_hash"):
        assert key in rec
    assert rec["seq"] == 2 and rec["ts"].endswith("Z")
    assert rec["prev_hash"] == json.loads(lines[1])["curr_hash"]
    body = {k: v for k, v in rec.items() if k not in ("prev_hash", "curr_hash")}
    assert rec["curr_hash"] == chain_hash(KEY, rec["prev_hash"], rfc8785.dumps(body))
    assert verify_journal(jdir, b"\x01" * 32).ok is False  # another audit key


def test_payloads_are_refused(tmp_path: Path) -> None:
    j, jdir, _ = make(tmp_path, 0)
    with pytest.raises(ValueError):
        j.append([Event(kind="detection", detail={"payload": "Jane Doe 555-0100"})])
    with pytest.raises(ValueError):  # not JSON: the caller's error, the journal stays usable
        j.append([Event(kind="detection", detail={"when": object()})])
    assert j.usable
    j.close()
    assert verify(jdir).ok


# -- tamper suite -------------------------------------------------------------


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    """A closed 10-event journal and the checkpoint written on close."""
    j, jdir, cdir = make(tmp_path, 10)
    j.close()
    cp = cpmod.latest(cdir)
    assert cp is not None and cpmod.load(cp).size == 10
    path, lines = lines_of(jdir)
    return path, cp, lines


@pytest.mark.parametrize("line_no", [0, 4, 9])
def test_any_single_byte_change_in_a_line_is_detected(sealed, line_no: int) -> None:
    path, _, lines = sealed
    target = lines[line_no]
    for pos in range(len(target) - 1):  # every byte but the newline
        mutated = bytearray(target)
        mutated[pos] = mutated[pos] ^ 0x01
        path.write_bytes(b"".join(lines[:line_no] + [bytes(mutated)] + lines[line_no + 1 :]))
        result = verify(path.parent)
        assert not result.ok, (line_no, pos)
        assert result.first_bad_seq is not None and result.first_bad_seq <= line_no + 1


def test_reorder_delete_and_duplicate_are_detected(sealed) -> None:
    path, _, lines = sealed
    cases = {
        "reorder": lines[:3] + [lines[4], lines[3]] + lines[5:],
        "delete": lines[:5] + lines[6:],
        "duplicate middle": lines[:5] + [lines[5], lines[5]] + lines[6:],
        "duplicate last": lines + [lines[-1]],
    }
    expected_bad = {"reorder": 3, "delete": 5, "duplicate middle": 6, "duplicate last": 10}
    for name, content in cases.items():
        path.write_bytes(b"".join(content))
        result = verify(path.parent)
        assert not result.ok and result.first_bad_seq == expected_bad[name], name


def test_truncated_tail_needs_and_is_caught_by_a_checkpoint(sealed) -> None:
    path, cp, lines = sealed
    path.write_bytes(b"".join(lines[:7]))
    assert verify(path.parent).ok  # a chain alone cannot see a cut tail
    result = verify(path.parent, cp)
    assert not result.ok and result.first_bad_seq == 7 and "truncated" in result.message


def test_rollback_to_an_older_copy_is_caught_by_a_checkpoint(tmp_path: Path) -> None:
    j, jdir, cdir = make(tmp_path, 6)
    old = tmp_path / "old-copy"
    shutil.copytree(jdir, old)
    for i in range(6, 9):
        j.append([ev(i)])
    j.close()
    cp = cpmod.latest(cdir)
    shutil.rmtree(jdir)
    shutil.copytree(old, jdir)
    assert verify(jdir).ok
    result = verify(jdir, cp)
    assert not result.ok and result.first_bad_seq == 6


def test_a_resealed_forged_tail_is_caught_by_a_checkpoint(sealed) -> None:
    path, cp, lines = sealed
    forged, prev = lines[:4], json.loads(lines[3])["curr_hash"]
    for raw in lines[4:]:
        rec = json.loads(raw)
        del rec["prev_hash"], rec["curr_hash"]
        if rec["seq"] == 4:
            rec["entity_kind"] = "NAME"  # rewrite history, then re-seal with the key
        body = canonical(rec)
        curr = chain_hash(KEY, prev, body)
        forged.append(encode_line(body, prev, curr))
        prev = curr
    path.write_bytes(b"".join(forged))
    assert verify(path.parent).ok  # the key holder re-sealed it
    result = verify(path.parent, cp)
    assert not result.ok and result.first_bad_seq == 9 and "differs from the checkpoint" in result.message


def test_checkpoint_signature_is_checked(sealed, tmp_path: Path) -> None:
    path, cp, _ = sealed
    assert verify(path.parent, cp).ok
    other = verify_journal(path.parent, KEY, checkpoint=cp, verify_key=SigningKey.generate().verify_key)
    assert not other.ok and "another key" in other.message
    doc = json.loads(cp.read_text())
    doc["size"] = 5
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    assert "bad signature" in verify(path.parent, forged).message


def test_single_event_inclusion_proof_against_a_checkpoint(sealed) -> None:
    path, cp, lines = sealed
    trusted = cpmod.load(cp)
    proof = event_proof(path.parent, KEY, 6, size=trusted.size)
    assert proof.verify(trusted.merkle_root)
    body = lines[6][: -160] + b"}"  # the line minus its two hashes
    assert proof.leaf_hash == leaf_hash(body).hex()
    wrong_index = type(proof)(5, proof.size, proof.leaf_hash, proof.proof, proof.root)
    assert not wrong_index.verify(trusted.merkle_root)
    with pytest.raises(ValueError):
        event_proof(path.parent, KEY, 10)


def test_checkpoints_every_n_events(tmp_path: Path) -> None:
    j, _, cdir = make(tmp_path, 7, checkpoint_every=3)
    assert sorted(p.name for p in cdir.glob("checkpoint-*.json")) == [
        "checkpoint-000000000003.json", "checkpoint-000000000006.json"]
    assert sorted(p.name for p in cdir.glob("checkpoint-*.note")) == [  # the C2SP note of each
        "checkpoint-000000000003.note", "checkpoint-000000000006.note"]
    j.close()
    assert cpmod.load(cpmod.latest(cdir)).size == 7


# -- fail closed ----------------------------------------------------------------


def test_failed_fsync_latches_and_is_never_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j, jdir, _ = make(tmp_path, 3)
    calls = []

    def broken_fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(5, "Input/output error")

    # appends are made durable with fdatasync where the OS has it
    monkeypatch.setattr(journal_mod.os, "fdatasync" if hasattr(journal_mod.os, "fdatasync") else "fsync", broken_fsync)
    with pytest.raises(AuditUnavailable):
        j.append([ev(3)])
    assert len(calls) == 1
    monkeypatch.undo()  # the disk "works" again: the journal must still refuse
    for _ in range(2):
        with pytest.raises(AuditUnavailable):
            j.append([ev(4)])
    assert not j.usable and "Input/output error" in (j.failure or "")
    assert len(calls) == 1
    _, lines = lines_of(jdir)
    assert len(lines) == 3  # the unacknowledged event was not left behind
    result = j.reverify()
    assert result.ok and j.usable
    j.append([ev(5)])
    j.close()
    recs = [json.loads(x) for x in lines_of(jdir)[1]]
    assert [r["kind"] for r in recs[3:]] == ["journal_reverified", "detection"]
    assert verify(jdir).ok


def test_failed_write_latches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j, jdir, _ = make(tmp_path, 2)

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_mod.os, "write", full_disk)
    with pytest.raises(AuditUnavailable, match="No space left"):
        j.append([ev(2)])
    monkeypatch.undo()
    with pytest.raises(AuditUnavailable):
        j.append([ev(3)])
    assert verify(jdir).ok and verify(jdir).event_count == 2


def test_unwritable_directory_latches_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    j = Journal(blocker / "journal", KEY, SK)
    assert not j.usable
    with pytest.raises(AuditUnavailable):
        j.append([ev(0)])


def test_a_tampered_journal_refuses_appends_at_start(sealed) -> None:
    path, _, lines = sealed
    path.write_bytes(b"".join(lines[:3] + lines[4:]))
    j = Journal(path.parent, KEY, SK)
    assert not j.usable and "seq 3" in (j.failure or "")
    with pytest.raises(AuditUnavailable):
        j.append([ev(0)])


# -- crashes ------------------------------------------------------------------


def test_torn_final_line_is_reported_then_repaired_on_start(sealed) -> None:
    path, cp, lines = sealed
    with open(path, "ab") as fh:
        fh.write(lines[0][:57])  # a crash mid-write
    result = verify(path.parent)
    assert not result.ok and result.first_bad_seq == 10 and "unterminated final line" in result.message
    j = Journal(path.parent, KEY, SK, pin_key=False)  # the tear is past the checkpoint: repaired
    assert j.usable
    j.append([ev(11)])
    j.close()
    recs = [json.loads(x) for x in path.read_bytes().splitlines()]
    assert recs[10]["kind"] == "journal_repaired" and recs[10]["detail"]["bytes_removed"] == 57
    assert verify(path.parent, cp).ok and verify(path.parent).event_count == 12


CRASH_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from masker.audit.events import Event
    from masker.audit.journal import Journal
    j = Journal(Path(sys.argv[1]), bytes(range(32)))
    print("ready", flush=True)
    i = 0
    while True:
        j.append([Event(kind="detection", session="s", detail={"n": i, "pad": "x" * 3000})
                  for _ in range(64)])
        i += 1
    """
)


def test_kill_9_during_heavy_appends_then_repair(tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(jdir)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(0.8)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    j = Journal(jdir, KEY)
    assert j.usable, j.failure
    j.append([ev(0)])
    j.close()
    result = verify_journal(jdir, KEY)
    assert result.ok, result.message
    assert result.event_count >= 65


TEARING_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import masker.audit.journal as jm
    from masker.audit.events import Event
    j = jm.Journal(Path(sys.argv[1]), bytes(range(32)))
    for i in range(20):
        j.append([Event(kind="detection", session="s", detail={"n": i})])
    real_write = os.write

    def torn_write(fd, data):  # the process dies half-way through a batch
        real_write(fd, bytes(data)[: len(data) // 2 + 7])
        os.kill(os.getpid(), signal.SIGKILL)

    jm.os.write = torn_write
    j.append([Event(kind="detection", session="s", detail={"n": k}) for k in range(10)])
    """
)


def test_process_killed_mid_write_leaves_a_torn_tail_that_start_repairs(tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    proc = subprocess.run([sys.executable, "-c", TEARING_WRITER, str(jdir)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (path,) = journal_files(jdir)
    assert not path.read_bytes().endswith(b"\n")
    assert not verify_journal(jdir, KEY).ok
    j = Journal(jdir, KEY)
    j.close()
    result = verify_journal(jdir, KEY)
    assert result.ok, result.message
    recs = [json.loads(x) for x in path.read_bytes().splitlines()]
    assert recs[-1]["kind"] == "journal_repaired"
    assert [r["detail"].get("n") for r in recs[:-1]][:20] == list(range(20))
    assert len(recs) in range(21, 32)  # whole lines of the torn batch may survive, never a partial one


# -- concurrency --------------------------------------------------------------


def test_threads_share_one_unbroken_chain(tmp_path: Path) -> None:
    j, jdir, _ = make(tmp_path, 0)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(40):
                j.append([ev(i, session=f"t{t}"), ev(i + 1, session=f"t{t}")])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    assert not errors
    result = verify(jdir)
    assert result.ok and result.event_count == 8 * 40 * 2
    recs = [json.loads(x) for x in lines_of(jdir)[1]]
    for t in range(8):  # each append's events are contiguous
        seqs = [r["seq"] for r in recs if r["session"] == f"t{t}"]
        assert all(b - a == 1 for a, b in zip(seqs[::2], seqs[1::2]))


PROC_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from masker.audit.events import Event
    from masker.audit.journal import Journal
    j = Journal(Path(sys.argv[1]), bytes(range(32)))
    for i in range(60):
        j.append([Event(kind="detection", session=sys.argv[2], detail={"n": i})])
    j.close()
    """
)


def test_processes_share_one_unbroken_chain(tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    procs = [subprocess.Popen([sys.executable, "-c", PROC_WRITER, str(jdir), f"p{n}"]) for n in range(3)]
    j = Journal(jdir, KEY)
    for i in range(60):
        j.append([ev(i, session="main")])
    j.close()
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    result = verify_journal(jdir, KEY)
    assert result.ok, result.message
    assert result.event_count == 240


# -- retention ----------------------------------------------------------------


def test_prune_keeps_the_rest_verifiable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jdir, cdir = tmp_path / "journal", tmp_path / "checkpoints"
    day = {"name": "events-2020-01-01.jsonl"}
    monkeypatch.setattr(journal_mod, "_day_file_name", lambda: day["name"])
    j = Journal(jdir, KEY, SK, checkpoint_dir=cdir, checkpoint_every=3, pin_key=False)
    for name in ("events-2020-01-01.jsonl", "events-2020-01-02.jsonl", "events-2099-01-01.jsonl"):
        day["name"] = name
        for i in range(3):
            j.append([ev(i)])
    early = cdir / "checkpoint-000000000003.json"
    late = cdir / "checkpoint-000000000009.json"
    assert j.prune(30) == 2
    assert [p.name for p in journal_files(jdir)] == ["events-2099-01-01.jsonl"]
    j.append([ev(99)])
    j.close()
    result = verify(jdir, late)
    assert result.ok and result.event_count == 5 and result.size == 11  # 3 + pruned note + 1
    assert cpmod.load(jdir / ANCHOR_FILE).size == 6
    assert not verify(jdir, early).ok  # older than the cut: cannot vouch
    (jdir / ANCHOR_FILE).unlink()
    assert "without an anchor" in verify(jdir).message


# -- canonical JSON -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_canonical_json_equals_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except Exception:  # lone surrogates etc: both must refuse
        with pytest.raises(Exception):
            canonical(value)
        return
    assert canonical(value) == expected


def test_event_json_has_every_field() -> None:
    """to_json is written by hand: a field added to Event must reach the journal too."""
    from dataclasses import fields

    from masker.audit.events import Event

    e = Event(kind="detection", span=(1, 4), detail={"path": "messages/0/content"})
    doc = e.to_json()
    assert set(doc) == {f.name for f in fields(Event)}
    assert doc["span"] == [1, 4] and doc["detail"] == {"path": "messages/0/content"}
