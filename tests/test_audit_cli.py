"""``masker audit verify``, ``masker report SESSION``, ``masker report verify``."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from masker.audit.cli import add_commands
from masker.audit.events import Event
from masker.audit.journal import Journal
from masker.audit.keys import fingerprint
from masker.audit.verify import journal_files

KEY = bytes(range(32))
SEED = b"\x09" * 32


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="masker")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASKER_AUDIT_KEY", base64.b64encode(KEY).decode())
    monkeypatch.setenv("MASKER_SIGNING_KEY", base64.urlsafe_b64encode(SEED).decode().rstrip("="))
    monkeypatch.delenv("MASKER_POLICY", raising=False)
    for name in ("MASKER_SIGNING_PUBKEY", "MASKER_WITNESS_DIR", "MASKER_WITNESS_URL", "MASKER_AUDIT_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASKER_SIGNING_KEY_FINGERPRINT", fingerprint(SigningKey(SEED).verify_key))
    with Journal(tmp_path / "journal", KEY, SigningKey(SEED), checkpoint_dir=tmp_path / "checkpoints") as j:
        for i in range(6):
            j.append([Event(kind="detection", agent="bot", session="call-1", entity_kind="PHONE", span=(i, i + 3))])
        j.append([Event(kind="request_forwarded", agent="bot", session="call-1",
                        detail={"host": "api.anthropic.com", "path": "/v1/messages"})])
    return tmp_path


def test_audit_verify_prints_chain_ok_and_the_count(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "verify", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    # journal_opened (the signed key pin) + 7 events; the JSON checkpoint and its C2SP note
    assert out.startswith("chain ok: 8 events") and "checkpoint-000000000008.json" in out
    assert "checkpoint-000000000008.note" in out


def test_verifiers_refuse_to_run_without_a_pinned_key(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MASKER_SIGNING_KEY_FINGERPRINT")
    assert run(["audit", "verify", "--data-dir", str(data_dir)]) == 2  # the private key in the env is no pin
    err = capsys.readouterr().err
    for option in ("--pubkey", "--fingerprint", "MASKER_SIGNING_PUBKEY", "MASKER_SIGNING_KEY_FINGERPRINT"):
        assert option in err
    assert run(["report", "call-1", "--data-dir", str(data_dir)]) == 0
    json_path = Path(capsys.readouterr().out.split()[0])
    assert run(["report", "verify", str(json_path)]) == 2
    assert "no pinned signing key" in capsys.readouterr().err
    pem = json_path.with_name(json_path.stem + ".pub.pem")
    assert run(["audit", "verify", "--data-dir", str(data_dir), "--pubkey", str(pem)]) == 0
    monkeypatch.setenv("MASKER_SIGNING_PUBKEY", base64.b64encode(bytes(SigningKey(SEED).verify_key)).decode())
    assert run(["report", "verify", str(json_path)]) == 0
    other = SigningKey.generate().verify_key
    assert run(["audit", "verify", "--data-dir", str(data_dir), "--fingerprint", fingerprint(other)]) == 1
    assert "another key" in capsys.readouterr().err


def test_audit_verify_names_the_first_broken_seq(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = journal_files(data_dir / "journal")[0]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    assert run(["audit", "verify", "--journal", str(data_dir / "journal"), "--no-checkpoint",
                "--data-dir", str(data_dir)]) == 1
    assert "FAILED at seq 2" in capsys.readouterr().err
    path.write_bytes(b"".join(lines[:5]))  # cut tail: the newest checkpoint catches it
    assert run(["audit", "verify", "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "FAILED at seq 5" in err and "accept-truncation" in err


def test_audit_verify_without_a_key_is_a_usage_error(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "verify", "--data-dir", str(data_dir / "elsewhere")]) == 2
    assert "no journal directory" in capsys.readouterr().err
    monkeypatch.delenv("MASKER_AUDIT_KEY")
    assert run(["audit", "verify", "--data-dir", str(data_dir)]) == 2
    assert "MASKER_AUDIT_KEY" in capsys.readouterr().err


def test_report_then_verify_json_and_pdf(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["report", "call-1", "--data-dir", str(data_dir)]) == 0
    json_path, pdf_path = (Path(p) for p in capsys.readouterr().out.split())
    assert json_path.parent == data_dir / "reports" and pdf_path.suffix == ".pdf"
    doc = json.loads(json_path.read_bytes())
    assert doc["upstream"][0]["host"] == "api.anthropic.com"
    assert set(doc["coverage"]["categories"]) >= set("ABCDEFGHIJKLMNOPQR")  # computed at generation
    pem = json_path.with_name(json_path.stem + ".pub.pem")
    for target in (json_path, pdf_path):
        assert run(["report", "verify", str(target), "--pubkey", str(pem),
                    "--journal", str(data_dir / "journal")]) == 0
        assert capsys.readouterr().out.startswith("report ok")
    json_path.write_bytes(json_path.read_bytes().replace(b'"count":7', b'"count":8'))
    assert run(["report", "verify", str(json_path)]) == 1
    assert "signature does not verify" in capsys.readouterr().err


def test_report_for_an_unknown_session_fails(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["report", "nobody", "--data-dir", str(data_dir)]) == 2
    assert "no journal events" in capsys.readouterr().err
    assert run(["report", "verify"]) == 2
