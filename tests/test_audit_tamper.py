"""An audit trail that cannot be quietly rewound: the journal checks itself on
start against its pinned key, its accepted truncations and the newest signed
checkpoints (local and witness copies); verifiers need a pinned key;
checkpoints are C2SP signed notes pushed to witnesses; an operator can accept
a known loss, and it is signed, journaled and reported.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from pypdf import PdfReader

from masker.audit import checkpoint as cpmod
from masker.audit import note
from masker.audit.cli import add_commands
from masker.audit.events import AuditUnavailable, Event
from masker.audit.integrity import (
    JournalBroken,
    JournalRewritten,
    JournalTruncated,
    SigningKeyMismatch,
    UntrustedCheckpoint,
)
from masker.audit.journal import Journal, accept_truncation
from masker.audit.keys import KeyPin, fingerprint
from masker.audit.merkle import CompactRange, leaf_hash
from masker.audit.report import build_report, verify_report
from masker.audit.verify import canonical, chain_hash, encode_line, journal_files, verify_journal
from masker.audit.witness import DirWitness, HttpWitness, Witnesses, from_env

KEY = bytes(range(32))
SK = SigningKey(b"\x07" * 32)
COVERAGE = {"D": {"category": "Telephone numbers", "status": "full", "kinds": ["PHONE"], "covered": ["PHONE"],
                  "gaps": [], "note": ""}}


def ev(i: int, session: str = "s1") -> Event:
    return Event(kind="detection", agent="bot", session=session, entity_kind="PHONE", span=(i, i + 12),
                 token="MSKV1.PHONE.K_HEALTHCARE.ABCDEFGHIJKLMNOPQRSTUVWXYZ", detail={"field": f"m[{i}]"})


class Store:
    """A data dir: journal, local checkpoints, and optionally a witness directory."""

    def __init__(self, root: Path, *, witness: bool = False) -> None:
        self.root = root
        self.jdir, self.cdir, self.wdir = root / "journal", root / "checkpoints", root / "witness"
        if witness:
            self.wdir.mkdir(parents=True)
        self.witness = witness

    def open(self, sk: SigningKey | None = SK, **kw) -> Journal:
        if self.witness and "witnesses" not in kw:
            kw["witnesses"] = Witnesses([DirWitness(self.wdir)])
        return Journal(self.jdir, KEY, sk, checkpoint_dir=self.cdir, **kw)

    def write(self, n: int, session: str = "s1", **kw) -> None:
        with self.open(**kw) as j:
            assert j.usable, j.failure
            j.append([ev(i, session) for i in range(n)])

    def lines(self) -> tuple[Path, list[bytes]]:
        (path,) = journal_files(self.jdir)
        return path, path.read_bytes().splitlines(keepends=True)

    def snapshot(self, name: str) -> Path:
        dest = self.root.parent / f"{self.root.name}-{name}"
        shutil.copytree(self.root, dest, ignore=shutil.ignore_patterns("journal.lock"))
        return dest

    def restore(self, snap: Path, *parts: str) -> None:
        for part in parts:
            shutil.rmtree(self.root / part)
            shutil.copytree(snap / part, self.root / part)

    def verify(self, pin=SK.verify_key, dirs=None, **kw):
        dirs = [self.cdir, *([self.wdir] if self.witness else [])] if dirs is None else dirs
        return verify_journal(self.jdir, KEY, verify_key=pin, checkpoint_dirs=dirs, **kw)


def refused(store: Store, kind: type, **kw) -> Journal:
    """Open the journal, expect it to refuse with ``kind``, and leave the files as they were."""
    before = {p: p.read_bytes() for p in sorted(store.jdir.glob("events-*.jsonl"))}
    cps = sorted(p.name for p in store.cdir.glob("*"))
    j = store.open(**kw)
    try:
        assert isinstance(j.integrity_error, kind), (type(j.integrity_error), j.integrity_error)
        assert not j.usable
        with pytest.raises(AuditUnavailable):
            j.append([ev(99)])
    finally:
        j.close()
    assert {p: p.read_bytes() for p in sorted(store.jdir.glob("events-*.jsonl"))} == before  # no repair, no append
    assert sorted(p.name for p in store.cdir.glob("*")) == cps  # and no checkpoint signed over it
    return j


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="masker")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MASKER_SIGNING_PUBKEY", "MASKER_SIGNING_KEY_FINGERPRINT", "MASKER_WITNESS_DIR",
                 "MASKER_WITNESS_URL", "MASKER_WITNESS_MODE", "MASKER_AUDIT_ORIGIN", "MASKER_SIGNING_KEY_OLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASKER_AUDIT_KEY", base64.b64encode(KEY).decode())
    monkeypatch.setenv("MASKER_SIGNING_KEY", base64.b64encode(bytes(SK)).decode())


# -- the key pin and the genesis event ------------------------------------------------------


def test_a_new_journal_starts_with_a_signed_key_pin(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(3)
    _, lines = s.lines()
    first = json.loads(lines[0])
    assert first["seq"] == 0 and first["kind"] == "journal_opened"
    assert first["detail"]["key_fingerprint"] == fingerprint(SK.verify_key)
    assert first["detail"]["statement"]["origin"].startswith("masker.local/audit/")
    assert s.verify().ok
    # a checkpoint anchors the pin at once, and the shutdown one covers everything
    assert cpmod.load(cpmod.latest(s.cdir)).size == 4
    assert (s.cdir / "checkpoint-000000000001.json").exists()


def test_a_journal_pinned_to_another_key_refuses_to_start(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(3)
    err = refused(s, SigningKeyMismatch, sk=SigningKey.generate()).integrity_error
    assert "MASKER_SIGNING_KEY_OLD" in str(err) and fingerprint(SK.verify_key) in str(err)


def test_a_signed_rotation_moves_the_pin(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(3)
    new = SigningKey(b"\x08" * 32)
    with s.open(sk=new, previous_signing_key=SK) as j:
        assert j.usable, j.failure
        j.append([ev(5)])
    kinds = [json.loads(x)["kind"] for x in s.lines()[1]]
    assert kinds.count("signing_key_rotated") == 1
    with s.open(sk=new) as j:  # the old key is no longer needed
        assert j.usable, j.failure
    assert s.verify(pin=new.verify_key).ok
    assert s.verify(pin=SK.verify_key).ok  # the old key endorsed the new one in the journal
    assert not s.verify(pin=SigningKey.generate().verify_key).ok
    refused(s, SigningKeyMismatch, sk=SK)  # going back to the old key needs a rotation too


def test_an_older_unpinned_journal_gets_its_pin_appended(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(3, pin_key=False)
    s.write(1)
    kinds = [json.loads(x)["kind"] for x in s.lines()[1]]
    assert kinds[3] == "journal_opened" and kinds.count("journal_opened") == 1
    assert s.verify().ok


def test_a_forged_pin_event_breaks_the_journal(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(3)
    path, lines = s.lines()
    rec = json.loads(lines[0])
    del rec["prev_hash"], rec["curr_hash"]
    rec["detail"]["statement"]["public_key_b64"] = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    _reseal(path, [canonical(rec)] + [_body(x) for x in lines[1:]])  # a key holder re-seals the chain
    refused(s, JournalBroken)


# -- truncation and rollback are caught on start ----------------------------------------------


def test_truncated_tail_refuses_to_start_and_is_named(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(10)
    path, lines = s.lines()
    path.write_bytes(b"".join(lines[:7]))
    assert verify_journal(s.jdir, KEY).ok  # the chain alone cannot see it
    err = refused(s, JournalTruncated).integrity_error
    assert err.seq == 7 and "checkpoint-000000000011.json" in str(err) and "accept-truncation" in str(err)
    result = s.verify()
    assert not result.ok and result.first_bad_seq == 7 and "truncated" in result.message


def test_a_cut_mid_line_inside_the_checkpointed_range_is_not_repaired(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(10)
    path, lines = s.lines()
    path.write_bytes(b"".join(lines[:7]) + lines[7][:40])
    err = refused(s, JournalTruncated).integrity_error
    assert "torn" in str(err) and "inside the checkpointed range" in str(err)


def test_a_torn_line_past_the_last_checkpoint_is_repaired(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(10)  # checkpoint at 11
    path, lines = s.lines()
    with open(path, "ab") as fh:
        fh.write(lines[3][:40])  # a crash mid-write after the checkpoint
    with s.open() as j:
        assert j.usable and j.integrity_error is None
    recs = [json.loads(x) for x in s.lines()[1]]
    assert recs[11]["kind"] == "journal_repaired" and recs[11]["detail"]["bytes_removed"] == 40
    assert s.verify().ok


def test_rolling_back_the_journal_alone_is_caught(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(6)
    snap = s.snapshot("old")
    s.write(6)
    s.restore(snap, "journal")
    assert verify_journal(s.jdir, KEY).ok
    refused(s, JournalTruncated)


def test_rolling_back_journal_and_checkpoints_together_is_caught_by_the_witness(tmp_path: Path) -> None:
    s = Store(tmp_path / "d", witness=True)
    s.write(6)
    snap = s.snapshot("old")
    s.write(6)
    assert sorted(p.name for p in s.wdir.glob("*.note"))[-1] == "checkpoint-000000000013.note"
    s.restore(snap, "journal", "checkpoints")
    # without the witness, the rolled-back pair is consistent: undetectable
    with Store(s.root).open() as j:
        assert j.usable, j.failure
        j.close()
    s.restore(snap, "journal", "checkpoints")
    err = refused(s, JournalTruncated).integrity_error
    assert str(s.wdir) in str(err)
    assert not s.verify().ok and s.verify(dirs=[s.cdir]).ok


def test_deleting_everything_is_caught_by_the_witness(tmp_path: Path) -> None:
    s = Store(tmp_path / "d", witness=True)
    s.write(4)
    shutil.rmtree(s.jdir)
    shutil.rmtree(s.cdir)
    refused(s, JournalTruncated)


def test_a_witness_directory_of_another_log_is_refused(tmp_path: Path) -> None:
    a = Store(tmp_path / "a", witness=True)
    a.write(2, origin="example.com/log-a")
    b = Store(tmp_path / "b")
    b.write(2, origin="example.com/log-b")
    err = refused(b, UntrustedCheckpoint, witnesses=Witnesses([DirWitness(a.wdir)])).integrity_error
    assert "another log" in str(err)


def test_a_rewritten_and_resealed_journal_is_caught(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(6)
    path, lines = s.lines()
    bodies = [_body(x) for x in lines]
    rec = json.loads(bodies[3])
    rec["entity_kind"] = "NAME"
    bodies[3] = canonical(rec)
    _reseal(path, bodies)
    refused(s, JournalRewritten)


# -- forged checkpoints and pinned verifiers ----------------------------------------------------


def test_a_forged_checkpoint_under_a_fresh_key(tmp_path: Path, env, capsys: pytest.CaptureFixture[str]) -> None:
    """An insider with the audit key (not the signing key) rewrites the journal, pins a fresh
    key in a new genesis and signs checkpoints with it."""
    s = Store(tmp_path / "d")
    s.write(6)
    path, lines = s.lines()
    mallory = SigningKey.generate()
    forged = [canonical(_opened_by(mallory, json.loads(lines[0])))] + [_body(x) for x in lines[1:4]]
    _reseal(path, forged)
    with Journal(s.jdir, KEY, mallory, checkpoint_dir=tmp_path / "mallory-cps") as j:
        j.append([ev(i) for i in range(5)])  # longer than the genuine journal: its checkpoint is the newest
    for p in (tmp_path / "mallory-cps").iterdir():  # slip them in as the newest checkpoints
        shutil.copy(p, s.cdir / p.name)
    # the old verifier behaviour: no pin, integrity only -> it accepts the forgery
    assert verify_journal(s.jdir, KEY, checkpoint=cpmod.latest(s.cdir)).ok
    # a pinned verifier does not
    pinned = s.verify()
    assert not pinned.ok and "another key" in pinned.message
    assert not s.verify(pin=KeyPin(fingerprints=[fingerprint(SK.verify_key)])).ok
    # the CLI refuses to verify without a pin, and names the options
    assert run(["audit", "verify", "--data-dir", str(s.root)]) == 2
    assert "MASKER_SIGNING_KEY_FINGERPRINT" in capsys.readouterr().err
    assert run(["audit", "verify", "--data-dir", str(s.root), "--fingerprint", fingerprint(SK.verify_key)]) == 1
    assert "another key" in capsys.readouterr().err
    # and the sidecar, holding the real key, refuses to start on it
    refused(s, SigningKeyMismatch)


def test_a_forged_checkpoint_next_to_a_genuine_journal(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(6)
    mallory = SigningKey.generate()
    genuine = cpmod.load(cpmod.latest(s.cdir))
    tree = CompactRange()
    for i in range(99):
        tree.append(leaf_hash(b"%d" % i))
    fake = cpmod.sign(mallory, cpmod.CHECKPOINT, "ab" * 32, tree, genuine.ts, origin=genuine.origin)
    cpmod.save(fake, s.cdir / "checkpoint-000000000099.json")  # claims a longer journal
    err = refused(s, UntrustedCheckpoint).integrity_error
    assert "another key" in str(err)
    assert not s.verify().ok
    (s.cdir / "checkpoint-000000000099.json").write_text("{not json")
    refused(s, UntrustedCheckpoint)


# -- accepting a known loss -----------------------------------------------------------------------


def test_accept_truncation_then_verify_and_report(tmp_path: Path, env, capsys: pytest.CaptureFixture[str]) -> None:
    s = Store(tmp_path / "d", witness=True)
    s.write(5, session="call-1")
    s.write(5, session="call-2")
    path, lines = s.lines()
    path.write_bytes(b"".join(lines[:8]) + lines[8][:25])  # a cut tail and a torn line: seq 8.. lost
    refused(s, JournalTruncated)
    monkey_env = {"MASKER_WITNESS_DIR": str(s.wdir)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in monkey_env.items():
            mp.setenv(k, v)
        newest = cpmod.latest(s.cdir)
        assert run(["audit", "accept-truncation", "--data-dir", str(s.root), "--checkpoint", str(newest)]) == 2
        assert "--yes" in capsys.readouterr().err
        assert run(["audit", "accept-truncation", "--data-dir", str(s.root), "--checkpoint", str(newest),
                    "--yes"]) == 0
        out = capsys.readouterr().out
        assert "seq 8..10 lost" in out and "epoch 1" in out
        assert run(["audit", "accept-truncation", "--data-dir", str(s.root), "--yes"]) == 2  # nothing left to accept
        assert "nothing to accept" in capsys.readouterr().err
        # verifies again, and says what was lost
        assert run(["audit", "verify", "--data-dir", str(s.root), "--pubkey",
                    base64.b64encode(bytes(SK.verify_key)).decode()]) == 0
        out = capsys.readouterr().out
        assert out.startswith("chain ok") and "-e1.json" in out and "seq 8..10 lost" in out
    recs = [json.loads(x) for x in s.lines()[1]]
    cut = recs[8]
    assert cut["kind"] == "journal_truncated" and cut["seq"] == 8
    st = cut["detail"]["statement"]
    assert st["lost"] == {"from_seq": 8, "to_seq": 10, "events_at_least": 3}
    assert st["checkpoint"]["size"] == 11 and st["torn_bytes_removed"] == 25
    assert st["resumed"]["size"] == 8 and cut["prev_hash"] == st["resumed"]["last_hash"]
    assert st["checkpoint"]["merkle_root"] == cpmod.load(newest).merkle_root
    # the sidecar starts again, in epoch 1, and its checkpoints say so
    with s.open() as j:
        assert j.usable and j.epoch == 1, j.failure
        j.append([ev(1, "call-2")])
    assert (s.wdir / "checkpoint-000000000009-e1.note").exists()
    head = cpmod.read_head(s.wdir / "checkpoint-000000000009-e1.note")
    assert head.origin.startswith("masker.local/audit/") and head.epoch == 1
    assert note.split((s.wdir / "checkpoint-000000000009-e1.note").read_text())[0].startswith(head.origin + "/epoch-1\n")
    # reports of sessions that began before the loss say so; others do not
    j1, pdf1 = build_report(s.jdir, KEY, "call-2", SK, coverage=COVERAGE, policy=None, out_dir=tmp_path / "r")
    doc = json.loads(j1.read_bytes())
    assert doc["journal"]["epoch"] == 1
    [t] = doc["journal"]["truncations"]
    assert (t["seq"], t["lost_from_seq"], t["lost_to_seq"], t["lost_events_at_least"]) == (8, 8, 10, 3)
    text = "".join(page.extract_text() for page in PdfReader(pdf1).pages)
    assert "Accepted journal truncations" in text and "8..10 LOST" in text.replace("\n", " ")
    assert verify_report(pdf1, pubkey=SK.verify_key, journal_dir=s.jdir, audit_key=KEY).ok
    s.write(1, session="call-3")
    j3, _ = build_report(s.jdir, KEY, "call-3", SK, coverage=COVERAGE, policy=None, out_dir=tmp_path / "r3")
    assert json.loads(j3.read_bytes())["journal"]["truncations"] == []


def test_rolling_back_past_an_accepted_truncation_is_caught(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(8)
    path, lines = s.lines()
    path.write_bytes(b"".join(lines[:5]))
    snap = s.snapshot("truncated")
    accept_truncation(s.jdir, KEY, SK, checkpoint_dir=s.cdir)
    s.write(3)
    s.restore(snap, "journal")  # put back the journal as it was before the acceptance
    err = refused(s, JournalTruncated).integrity_error
    assert "epoch 1" in str(err)


def test_accepting_refuses_a_rewritten_journal(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(4)  # genesis + 4: checkpoint at 5
    s.write(4)  # checkpoint at 9
    path, lines = s.lines()
    bodies = [_body(x) for x in lines[:7]]
    rec = json.loads(bodies[2])
    rec["span"] = [0, 1]
    bodies[2] = canonical(rec)
    _reseal(path, bodies)  # shorter than 9 AND different from 5: not a plain loss
    with pytest.raises(JournalRewritten):
        accept_truncation(s.jdir, KEY, SK, checkpoint_dir=s.cdir)


def test_a_forged_acceptance_is_refused(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(8)
    path, lines = s.lines()
    path.write_bytes(b"".join(lines[:5]))
    # an audit-key holder writes the acceptance event, signed with a key of their own
    from masker.audit.integrity import truncation_event

    statement = {"origin": "x", "epoch": 1, "checkpoint": {},
                 "lost": {"from_seq": 5, "to_seq": 8, "events_at_least": 4},
                 "resumed": {"size": 5, "last_hash": json.loads(lines[4])["curr_hash"], "merkle_root": "00"}}
    forged = truncation_event(SigningKey.generate(), statement)
    doc = forged.to_json()
    doc["seq"] = 5
    _reseal(path, [_body(x) for x in lines[:5]] + [canonical(doc)])
    refused(s, JournalBroken)


# -- C2SP notes and witnesses -------------------------------------------------------------------


def test_signed_note_matches_the_go_sumdb_note_vector() -> None:
    """golang.org/x/mod/sumdb/note's documented example, byte for byte."""
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    key = SigningKey(seed)
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    assert note.verifier_key("PeterNeumann", key.verify_key) == vkey
    text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    signed = note.sign(text, "PeterNeumann", key)
    assert signed == text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv" \
                            "qfqdngotpRZb6KE6RyyBwJnAM=\n"
    assert note.open_note(signed, [note.parse_verifier_key(vkey)])[0] == text
    # unknown signature lines (a witness cosignature) are ignored; a bad known one is not
    cosigned = signed + "\u2014 witness.example AAAAAAAA\n"
    assert note.open_note(cosigned, [note.parse_verifier_key(vkey)])[0] == text
    with pytest.raises(note.NoteError):
        note.open_note(signed.replace("problem,", "problem;"), [note.parse_verifier_key(vkey)])


def test_checkpoint_notes_are_standard_tlog_checkpoints(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(4)
    cp = cpmod.load(cpmod.latest(s.cdir))
    text = (s.cdir / "checkpoint-000000000005.note").read_text()
    origin = cp.origin
    lines = text.split("\n")
    assert lines[:3] == [origin, "5", base64.b64encode(bytes.fromhex(cp.merkle_root)).decode()] and lines[3] == ""
    assert lines[4].startswith(f"\u2014 {origin} ")
    head, keys = note.open_checkpoint(text, [note.parse_verifier_key(note.verifier_key(origin, SK.verify_key))])
    assert (head.size, head.root.hex()) == (5, cp.merkle_root) and keys == [bytes(SK.verify_key)]
    assert s.verify(dirs=[], checkpoint=s.cdir / "checkpoint-000000000005.note").ok


class _Receiver(BaseHTTPRequestHandler):
    notes: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).notes.append(body.decode())
        self.send_response(201)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.notes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/add-checkpoint", _Receiver.notes
    server.shutdown()
    server.server_close()


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/add-checkpoint"


def test_http_witness_receives_each_checkpoint_note(tmp_path: Path, receiver) -> None:
    url, notes = receiver
    s = Store(tmp_path / "d")
    s.write(3, witnesses=Witnesses([HttpWitness(url)], mode="strict"))
    assert [note.split(n)[0].split("\n")[1] for n in notes] == ["1", "4"]
    assert notes[-1] == (s.cdir / "checkpoint-000000000004.note").read_text()


def test_an_unreachable_witness_is_logged_and_retried_by_default(tmp_path: Path, caplog, receiver) -> None:
    s = Store(tmp_path / "d")
    dead = Witnesses([HttpWitness(_dead_url(), timeout=1)])
    with caplog.at_level(logging.WARNING, logger="masker.audit.witness"):
        with s.open(witnesses=dead) as j:
            j.append([ev(0)])
            assert j.usable
            deadline = 50
            while not j.witness_status().get(dead.witnesses[0].name) and deadline:
                threading.Event().wait(0.1)
                deadline -= 1
            assert "unreachable" in (list(j.witness_status().values())[0] or "")
    assert any("audit witness failed" in r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in caplog.text and "/add-checkpoint" in caplog.text


def test_an_unreachable_witness_latches_in_strict_mode(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    s.write(2)
    j = s.open(witnesses=Witnesses([HttpWitness(_dead_url(), timeout=1)], mode="strict"))
    try:
        assert j.integrity_error is None and not j.usable and "strict" in (j.failure or "")
        with pytest.raises(AuditUnavailable):
            j.append([ev(0)])
    finally:
        j.close()
    missing = Witnesses([DirWitness(tmp_path / "not-mounted")], mode="strict")
    j = s.open(witnesses=missing)
    assert not j.usable and "does not exist" in (j.failure or "")
    j.close()
    assert not (tmp_path / "not-mounted").exists()  # never recreated on the local disk


def test_strict_witness_back_online_unlatches_on_reverify(tmp_path: Path) -> None:
    s = Store(tmp_path / "d")
    wdir = tmp_path / "w"
    j = s.open(witnesses=Witnesses([DirWitness(wdir)], mode="strict"))
    assert not j.usable
    wdir.mkdir()
    assert j.reverify().ok and j.usable
    j.append([ev(0)])
    j.close()
    assert sorted(p.name for p in wdir.glob("*.note"))[-1] == "checkpoint-000000000003.note"


def test_a_witness_directory_never_overwrites_a_different_note(tmp_path: Path) -> None:
    s = Store(tmp_path / "d", witness=True)
    s.write(2)
    target = s.wdir / "checkpoint-000000000003.note"
    target.write_text(target.read_text().replace("masker", "forked", 1))
    with pytest.raises(OSError, match="different"):
        DirWitness(s.wdir).push(_published(s.cdir, "checkpoint-000000000003"))


def test_witness_configuration_from_the_environment(tmp_path: Path) -> None:
    w = from_env({"MASKER_WITNESS_DIR": f"{tmp_path}/a:{tmp_path}/b", "MASKER_WITNESS_URL":
                  "https://user:secret@w.example/add?token=x, http://10.0.0.2:8080/w", "MASKER_WITNESS_MODE": "strict"})
    assert w is not None and w.strict and [x.kind for x in w.witnesses] == ["dir", "dir", "http", "http"]
    assert all("secret" not in x.name and "token" not in x.name for x in w.witnesses)
    assert from_env({}) is None
    with pytest.raises(ValueError):
        from_env({"MASKER_WITNESS_DIR": "/x", "MASKER_WITNESS_MODE": "sometimes"})


# -- the runtime surfaces the refusal ---------------------------------------------------------------


def test_open_runtime_raises_and_does_not_start(tmp_path: Path) -> None:
    from masker.policy.load import default_policy_path
    from masker.runtime import open_runtime

    policy = tmp_path / "regex.yaml"
    policy.write_text(default_policy_path().read_text().replace("passes: [regex, ner]", "passes: [regex]"))
    keys = {"MASKER_ENV": "production", "MASKER_KEY_K_HEALTHCARE": base64.b64encode(b"r" * 32).decode(),
            "MASKER_AUDIT_KEY": base64.b64encode(KEY).decode(),
            "MASKER_SIGNING_KEY": base64.b64encode(bytes(SK)).decode(),
            "MASKER_WITNESS_DIR": str(tmp_path / "witness")}
    (tmp_path / "witness").mkdir()
    data = tmp_path / "data"
    open_runtime(policy, data, keys).close()
    assert list((tmp_path / "witness").glob("*.note"))
    (path,) = journal_files(data / "journal")
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:1]))
    with pytest.raises(JournalTruncated, match="accept-truncation"):
        open_runtime(policy, data, keys)
    # start over (a new data dir and witness), then swap the signing key
    for d in (data / "journal", data / "checkpoints", tmp_path / "witness"):
        shutil.rmtree(d)
    (tmp_path / "witness").mkdir()
    open_runtime(policy, data, keys).close()
    new_key = base64.b64encode(b"z" * 32).decode()
    with pytest.raises(SigningKeyMismatch, match="MASKER_SIGNING_KEY_OLD"):
        open_runtime(policy, data, {**keys, "MASKER_SIGNING_KEY": new_key})
    rotated = {**keys, "MASKER_SIGNING_KEY": new_key, "MASKER_SIGNING_KEY_OLD": keys["MASKER_SIGNING_KEY"]}
    open_runtime(policy, data, rotated).close()
    assert verify_journal(data / "journal", KEY, verify_key=SigningKey(b"z" * 32).verify_key,
                          checkpoint_dirs=[data / "checkpoints", tmp_path / "witness"]).ok


# -- helpers ------------------------------------------------------------------------------------------


def _body(line: bytes) -> bytes:
    rec = json.loads(line)
    del rec["prev_hash"], rec["curr_hash"]
    return canonical(rec)


def _reseal(path: Path, bodies: list[bytes]) -> None:
    """What a holder of the audit key (not the signing key) can do: rewrite and re-chain."""
    out, prev = [], "0" * 64
    for body in bodies:
        curr = chain_hash(KEY, prev, body)
        out.append(encode_line(body, prev, curr))
        prev = curr
    path.write_bytes(b"".join(out))


def _opened_by(sk: SigningKey, rec: dict) -> dict:
    from masker.audit.integrity import opened_event

    doc = opened_event(sk, rec["detail"]["statement"]["origin"]).to_json()
    doc["seq"] = 0
    doc["ts"] = rec["ts"]
    return doc


def _published(cdir: Path, stem: str):
    from masker.audit.witness import Published

    n = (cdir / f"{stem}.note").read_text()
    size = int(stem.rsplit("-", 1)[1])
    return Published(stem, size, 0, n, (cdir / f"{stem}.json").read_bytes())
