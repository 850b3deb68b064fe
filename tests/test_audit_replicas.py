"""Replicas: a replica id in every event and checkpoint, and one report over several replicas' journals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from masker.audit import checkpoint as cpmod
from masker.audit.events import Event
from masker.audit.journal import REPLICA_FILE, Journal
from masker.audit.merkle import leaf_hash, root
from masker.audit.report import ReportError, build_report, verify_report
from masker.audit.verify import canonical, chain_hash, encode_line, journal_files, verify_journal
from masker.cli import main as main_for_tests
from masker.policy.load import default_policy_path, load_policy

KEY = bytes(range(32))
SK = SigningKey(b"\x05" * 32)
CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
SESSION = "intake-7"
COVERAGE = {"D": {"category": "Telephone numbers", "status": "full", "kinds": ["PHONE"], "covered": ["PHONE"],
                  "gaps": [], "note": ""}}


@pytest.fixture(scope="module")
def policy():
    return load_policy(default_policy_path())


def _lines(jdir: Path) -> list[dict]:
    return [json.loads(line) for p in journal_files(jdir) for line in p.read_text("utf-8").splitlines()]


@pytest.fixture
def replicas(tmp_path: Path, policy) -> tuple[Path, Path]:
    """Two data dirs, one session's events interleaved in time: a at seconds 1, 3, 5; b at 2, 4, 6."""
    p = {"policy": policy.name, "policy_hash": policy.hash, "agent": "nurse-bot", "session": SESSION}
    dirs = (tmp_path / "a", tmp_path / "b")
    journals = [Journal(dirs[0] / "journal", KEY, SK, replica_id="ward-a"),
                Journal(dirs[1] / "journal", KEY, SK, replica_id="ward-b")]
    for second in range(1, 7):
        j = journals[(second - 1) % 2]
        j.append([Event(kind="detection", entity_kind="PHONE", span=(0, 4), ts=f"2025-03-04T05:06:0{second}.000000Z",
                        **p)])
        j.append([Event(kind="detection", agent="other", session="another", entity_kind="NAME")])
    for j in journals:
        j.close()
    return dirs


def _build(dirs, out: Path, policy):
    return build_report([d / "journal" for d in dirs], KEY, SESSION, SK, coverage=COVERAGE, policy=policy,
                        out_dir=out, created=CREATED)


def test_every_event_and_checkpoint_names_the_replica(replicas) -> None:
    a, _ = replicas
    assert {e["replica"] for e in _lines(a / "journal")} == {"ward-a"}
    newest = cpmod.load(cpmod.latest(a / "checkpoints"))
    assert newest.replica == "ward-a" and cpmod.check(newest, SK.verify_key) is None
    assert (a / "journal" / REPLICA_FILE).read_text("ascii").strip() == "ward-a"


def test_the_default_replica_id_is_random_kept_and_pinned(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", KEY, SK) as j:
        first = j.replica_id
    assert first.startswith("r-")
    with Journal(tmp_path / "j", KEY, SK) as j:
        assert j.replica_id == first and j.usable
    with Journal(tmp_path / "j", KEY, SK, replica_id="ward-z") as j:  # one chain keeps one id
        assert not j.usable and "replica id" in (j.failure or "")
    with Journal(tmp_path / "other", KEY, SK) as j:
        assert j.replica_id != first


@pytest.mark.parametrize("bad", ["ward a", "tel-5551234567", "10.0.0.7"])
def test_an_invalid_replica_id_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="replica id"):
        Journal(tmp_path / "j", KEY, SK, replica_id=bad)


def test_a_journal_without_replica_ids_still_verifies(tmp_path: Path) -> None:
    jdir = tmp_path / "j"
    with Journal(jdir, KEY, SK, pin_key=False) as j:
        j.append([Event(kind="detection", session=SESSION)])
    path = journal_files(jdir)[0]
    prev, out = "0" * 64, []
    for doc in _lines(jdir):  # rewrite as an older version wrote it: no replica field
        body = {k: v for k, v in doc.items() if k not in ("replica", "curr_hash", "prev_hash")}
        b = canonical(body)
        curr = chain_hash(KEY, prev, b)
        out.append(encode_line(b, prev, curr))
        prev = curr
    path.write_bytes(b"".join(out))
    assert verify_journal(jdir, KEY, verify_key=SK.verify_key).ok


def test_one_report_over_two_replicas_verifies(replicas, tmp_path: Path, policy) -> None:
    json_path, pdf_path = _build(replicas, tmp_path / "out", policy)
    doc = json.loads(json_path.read_bytes())
    assert [r["replica"] for r in doc["replicas"]] == ["ward-a", "ward-b"]
    assert doc["merge_order"] == ["ts", "replica", "seq"] and doc["events"]["count"] == 6
    for r, d in zip(doc["replicas"], replicas):
        assert r["journal"]["last_hash"] == _lines(d / "journal")[-1]["curr_hash"]
        assert r["events"]["count"] == 3
    merged = sorted((e for d in replicas for e in _lines(d / "journal") if e["session"] == SESSION),
                    key=lambda e: e["ts"])
    assert [e["replica"] for e in merged] == ["ward-a", "ward-b"] * 3  # interleaved in time
    bodies = [canonical({k: v for k, v in e.items() if k not in ("curr_hash", "prev_hash")}) for e in merged]
    assert doc["merkle_root_hex"] == root([leaf_hash(b) for b in bodies]).hex()
    journals = [d / "journal" for d in replicas]
    for report in (json_path, pdf_path):
        assert verify_report(report, pubkey=SK.verify_key, journal_dir=journals, audit_key=KEY).ok
    assert verify_report(json_path, pubkey=SK.verify_key, journal_dir=journals[::-1], audit_key=KEY).ok


def test_one_journal_is_not_enough_nor_the_same_one_twice(replicas, tmp_path: Path, policy) -> None:
    json_path, _ = _build(replicas, tmp_path / "out", policy)
    a, b = (d / "journal" for d in replicas)
    for given in ([a], [b], a):
        result = verify_report(json_path, pubkey=SK.verify_key, journal_dir=given, audit_key=KEY)
        assert not result.ok
    assert "no journal given for ward-b" in verify_report(
        json_path, pubkey=SK.verify_key, journal_dir=[a], audit_key=KEY).message
    assert not verify_report(json_path, pubkey=SK.verify_key, journal_dir=[a, a, b], audit_key=KEY).ok
    with pytest.raises(ReportError, match="same replica id"):
        _build((replicas[0], replicas[0]), tmp_path / "out2", policy)


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("how", ["remove", "alter"])
def test_removing_or_altering_an_event_in_either_journal_fails(replicas, tmp_path: Path, policy, which: int,
                                                               how: str) -> None:
    json_path, _ = _build(replicas, tmp_path / "out", policy)
    journals = [d / "journal" for d in replicas]
    path = journal_files(journals[which])[-1]
    lines = path.read_bytes().splitlines(keepends=True)
    if how == "remove":  # the chain's last event: what is left is still a valid chain
        path.write_bytes(b"".join(lines[:-1]))
    else:  # a session event in the middle: a span changed
        i = next(i for i, line in enumerate(lines) if SESSION.encode() in line and i > 2)
        lines[i] = lines[i].replace(b'"span":[0,4]', b'"span":[0,5]')
        path.write_bytes(b"".join(lines))
    result = verify_report(json_path, pubkey=SK.verify_key, journal_dir=journals, audit_key=KEY)
    assert not result.ok


def test_the_cli_reports_over_and_verifies_against_several_data_dirs(replicas, tmp_path: Path, policy,
                                                                     monkeypatch, capsys) -> None:
    import base64

    monkeypatch.setenv("MASKER_AUDIT_KEY", base64.b64encode(KEY).decode())
    monkeypatch.setenv("MASKER_SIGNING_KEY", base64.b64encode(bytes(SK)).decode())
    a, b = replicas
    assert main_for_tests(["report", SESSION, "--journal", str(a), "--journal", str(b / "journal"),
                           "--out", str(tmp_path / "out"), "--data-dir", str(a)]) == 0
    json_path = Path(capsys.readouterr().out.splitlines()[0])
    pin = ["--pubkey", base64.b64encode(bytes(SK.verify_key)).decode()]
    assert main_for_tests(["report", "verify", str(json_path), *pin, "--journal", str(a), "--journal", str(b)]) == 0
    assert main_for_tests(["report", "verify", str(json_path), *pin, "--journal", str(a)]) == 1
    assert "ward-b" in capsys.readouterr().err
