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


# -- DEV-ONLY signing keys, measured recall, progress (issue #21) --------------------------------------------


def _dev_keys_file(data_dir: Path, seed: bytes) -> None:
    from masker.runtime import DEV_KEYS_FILE

    (data_dir / DEV_KEYS_FILE).write_text(
        f"# DEV-ONLY KEYS\nMASKER_SIGNING_KEY={base64.b64encode(seed).decode()}\n")


def test_a_report_signed_with_the_dev_key_says_so_and_verify_repeats_it(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pypdf import PdfReader

    _dev_keys_file(data_dir, SEED)  # the env's key is the one the file holds: dev, wherever it was read from
    monkeypatch.setenv("MASKER_ENV", "production")  # even where the environment claims production
    assert run(["report", "call-1", "--data-dir", str(data_dir)]) == 0
    captured = capsys.readouterr()
    json_path, pdf_path = (Path(p) for p in captured.out.split())
    assert "DEV-ONLY" in captured.err
    doc = json.loads(json_path.read_bytes())
    assert doc["signing_key_dev_only"] is True and "DEV-ONLY" in doc["dev_only_statement"]
    first_page = PdfReader(pdf_path).pages[0].extract_text()
    assert first_page.lstrip().startswith("DEV-ONLY SIGNING KEY")
    for target in (json_path, pdf_path):
        assert run(["report", "verify", str(target)]) == 0
        assert "DEV-ONLY signing key" in capsys.readouterr().out


def test_a_report_signed_with_another_key_is_not_dev(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _dev_keys_file(data_dir, b"\x01" * 32)  # the data dir has dev keys, but the env's signing key is not one
    assert run(["report", "call-1", "--data-dir", str(data_dir)]) == 0
    captured = capsys.readouterr()
    json_path = Path(captured.out.split()[0])
    assert json.loads(json_path.read_bytes())["signing_key_dev_only"] is False
    assert "DEV-ONLY" not in captured.err
    assert run(["report", "verify", str(json_path)]) == 0
    assert "DEV-ONLY" not in capsys.readouterr().out


def test_the_report_shows_the_shipped_models_measured_recall(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from masker.detect.ner import default_model_dir
    from masker.policy import recall

    model_dir = default_model_dir()
    if model_dir is None or recall.load_record(model_dir) is None:
        pytest.skip("no shipped model with an evaluation record")
    assert run(["report", "call-1", "--data-dir", str(data_dir)]) == 0
    doc = json.loads(Path(capsys.readouterr().out.split()[0]).read_bytes())
    evaluation = doc["coverage"]["evaluation"]
    assert evaluation["applies"] is True and evaluation["model_id"] == recall.model_id(model_dir)
    names = doc["coverage"]["categories"]["A"]["recall"]["measured"]
    assert {m["set"] for m in names} >= {"asq", "physionet", "presidio"}
    assert all(0 <= m["recall"] <= 1 and m["spans"] > 0 for m in names)
    # photos have no text benchmark: no number, and the reason
    assert doc["coverage"]["categories"]["Q"]["recall"]["measured"] == []
    assert doc["coverage"]["categories"]["Q"]["recall"]["note"].startswith("not measured")


def test_no_progress_lines_without_a_terminal(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["report", "call-1", "--data-dir", str(data_dir)]) == 0
    assert "verifying journal" not in capsys.readouterr().err


def test_progress_lines_on_a_terminal(data_dir: Path) -> None:
    """``masker report`` in a pseudo-terminal shows its stages on stderr; stdout keeps only the paths."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "addons")}
    main = "import sys; from masker.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", main, "report", "call-1", "--data-dir", str(data_dir)],
                          stdout=subprocess.PIPE, stderr=slave, env=env, timeout=120)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.returncode == 0, err.decode(errors="replace")[-500:]
    text = err.decode(errors="replace")
    assert "verifying journal: 8/8 events" in text
    assert "rendering PDF" in text
    assert len(proc.stdout.decode().split()) == 2  # the JSON and PDF paths, nothing else
