"""``masker policy validate | diff | coverage``: output formats and exit codes."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from masker.kinds import ALL_KINDS
from masker.policy import cli as policy_cli
from masker.policy.load import default_policy_path, load_policy

KEY = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="
SHIPPED = default_policy_path().read_text(encoding="utf-8")


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="masker")
    policy_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["policy", *argv])
    return args.func(args)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("MASKER_KEY_K_HEALTHCARE", KEY)


def shipped_hash() -> str:
    return load_policy(default_policy_path()).hash


# ----------------------------------------------------------------- validate


def test_validate_ok(keyed, capsys):
    assert run("validate", str(default_policy_path())) == 0
    assert capsys.readouterr().out == f"ok healthcare-default {shipped_hash()}\n"


def test_validate_prints_one_line_per_issue(keyed, tmp_path, capsys):
    text = SHIPPED.replace("# token_scope: session", "token_scope: call").replace("media: block", "media: sometimes")
    path = write(tmp_path, "bad.yaml", text)
    assert run("validate", str(path)) == 1
    lines = capsys.readouterr().out.splitlines()
    scope_line = text.splitlines().index("token_scope: call") + 1
    media_line = text.splitlines().index("media: sometimes") + 1
    assert lines == [
        f"{path}:{scope_line}: invalid_value: token_scope: must be one of: session, agent",
        f"{path}:{media_line}: invalid_value: media: must be one of: block, allow",
    ]


def test_validate_names_removed_keys_of_an_old_policy(keyed, tmp_path, capsys):
    text = SHIPPED.replace("kid: K_HEALTHCARE\n", "kid: K_HEALTHCARE\nepsilon: 0.5\n")
    text = text.replace("audit:\n", "audit:\n  log_payloads: true\n")
    path = write(tmp_path, "old.yaml", text)
    assert run("validate", str(path)) == 1
    lines = capsys.readouterr().out.splitlines()
    eps_line = text.splitlines().index("epsilon: 0.5") + 1
    pay_line = text.splitlines().index("  log_payloads: true") + 1
    assert [line.split(": ")[:3] for line in lines] == [
        [f"{path}:{eps_line}", "removed_key", "epsilon"],
        [f"{path}:{pay_line}", "removed_key", "audit.log_payloads"],
    ]
    assert "never stores request or response payloads" in lines[1]


def test_validate_reports_missing_key_of_the_real_environment(monkeypatch, capsys):
    monkeypatch.delenv("MASKER_KEY_K_HEALTHCARE", raising=False)
    assert run("validate", str(default_policy_path())) == 1
    out = capsys.readouterr().out
    assert ": unknown_kid: kid: MASKER_KEY_K_HEALTHCARE is not set" in out


def test_validate_json(keyed, tmp_path, capsys):
    assert run("validate", "--json", str(default_policy_path())) == 0
    ok = json.loads(capsys.readouterr().out)
    assert ok["ok"] is True and ok["hash"] == shipped_hash() and ok["issues"] == []

    path = write(tmp_path, "bad.yaml", SHIPPED.replace("passes: [regex, ner]", "passes: [regex, gemma, bert]"))
    assert run("validate", "--json", str(path)) == 1
    bad = json.loads(capsys.readouterr().out)
    assert bad["ok"] is False and bad["hash"] is None
    assert bad["issues"] == [
        {
            "code": "invalid_pass",
            "path": "passes[2]",
            "line": SHIPPED.splitlines().index("passes: [regex, ner]") + 1,
            "message": "unknown pass; known: regex, ner, diarize, gemma",
        }
    ]


def test_no_key_check_lints_without_the_key_and_names_the_skipped_check(monkeypatch, capsys):
    monkeypatch.delenv("MASKER_KEY_K_HEALTHCARE", raising=False)
    assert run("validate", str(default_policy_path())) == 1
    captured = capsys.readouterr()
    assert "--no-key-check" in captured.err  # the failure says how to lint without the key
    assert run("validate", "--no-key-check", str(default_policy_path())) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok healthcare-default {shipped_hash()}",
        "skipped: unknown_kid (whether MASKER_KEY_K_HEALTHCARE is set; --no-key-check)",
    ]
    assert run("validate", "--no-key-check", "--json", str(default_policy_path())) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["skipped"] == [{"code": "unknown_kid", "check": "MASKER_KEY_K_HEALTHCARE is set"}]


def test_no_key_check_still_checks_everything_else(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("MASKER_KEY_K_HEALTHCARE", raising=False)
    path = write(tmp_path, "bad.yaml", SHIPPED.replace("media: block", "media: sometimes"))
    assert run("validate", "--no-key-check", str(path)) == 1
    out = capsys.readouterr().out
    assert ": invalid_value: media:" in out and "unknown_kid" in out.splitlines()[-1]
    assert "is not set" not in out


def test_a_missing_file_is_reported_as_not_found(keyed, tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert run("validate", str(missing)) == 1
    out = capsys.readouterr().out
    assert out == f"{missing}: file not found\n"
    assert "yaml_error" not in out
    assert run("validate", "--json", str(missing)) == 1
    assert json.loads(capsys.readouterr().out)["issues"][0]["code"] == "file_not_found"
    assert run("diff", str(missing), str(default_policy_path())) == 2
    assert "file not found" in capsys.readouterr().err


# --------------------------------------------------------------------- diff


def test_diff_same_exits_0(tmp_path, capsys):
    other = write(tmp_path, "b.yaml", SHIPPED.replace("passes: [regex, ner]", "passes: [regex, gemma]"))
    assert run("diff", str(default_policy_path()), str(other)) == 0
    assert capsys.readouterr().out == f"same {shipped_hash()}\n"


def test_diff_lists_changes_and_exits_1(tmp_path, capsys):
    text = SHIPPED.replace("action: redact}", "action: tokenize}").replace(
        "tokenization: vault-deterministic", "tokenization: reversible-aead"
    )
    other = write(tmp_path, "b.yaml", text)
    assert run("diff", str(default_policy_path()), str(other)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    assert lines[2:] == [
        "~ entities.CREDIT_CARD.action: redact -> tokenize",
        "~ token_scope: session -> null",
        "~ tokenization: vault-deterministic -> reversible-aead",
    ]


def test_diff_with_token_scope_left_under_reversible_aead_exits_2(tmp_path, capsys):
    text = SHIPPED.replace("tokenization: vault-deterministic", "tokenization: reversible-aead")
    other = write(tmp_path, "b.yaml", text.replace("# token_scope: session", "token_scope: session"))
    assert run("diff", str(default_policy_path()), str(other)) == 2
    assert ": inapplicable_key: token_scope:" in capsys.readouterr().err


def test_diff_of_an_old_policy_notes_its_removed_keys(tmp_path, capsys):
    text = SHIPPED.replace("audit:\n", "audit:\n  log_events: true\n  log_payloads: false\n")
    old = write(tmp_path, "old.yaml", text.replace("retention_days: 2555", "retention_days: 365"))
    assert run("diff", str(old), str(default_policy_path())) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[2:] == ["~ audit.retention_days: 365 -> 2555"]
    assert [line.split(": ")[2:4] for line in err.splitlines()] == [
        ["removed_key", "audit.log_events"], ["removed_key", "audit.log_payloads"],
    ]
    assert all(line.startswith("note: ") for line in err.splitlines())


def test_diff_json_and_entities_from_an_older_file(tmp_path, capsys):
    # An older file without NPI still diffs (it would not validate).
    text = "\n".join(line for line in SHIPPED.splitlines() if not line.startswith("  NPI:"))
    old = write(tmp_path, "old.yaml", text)
    assert run("diff", "--json", str(old), str(default_policy_path())) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["same"] is False and out["b"]["hash"] == shipped_hash()
    assert [(c["path"], c["change"]) for c in out["changes"]] == [("entities.NPI", "added")]
    assert out["changes"][0]["new"]["action"] == "tokenize"


def test_diff_of_a_broken_file_exits_2(tmp_path, capsys):
    bad = write(tmp_path, "bad.yaml", SHIPPED.replace("version: 1", "version: one"))
    assert run("diff", str(default_policy_path()), str(bad)) == 2
    assert ": invalid_type: version:" in capsys.readouterr().err


# ----------------------------------------------------------------- coverage

DETECTORS = {
    "regex": frozenset(ALL_KINDS - {"NAME", "LOCATION", "ORGANIZATION"}),
    "spoken": frozenset({"PHONE"}),
    "ner": frozenset({"NAME", "LOCATION"}),
}


@pytest.fixture
def detectors(monkeypatch):
    monkeypatch.setattr(policy_cli, "_detector_kinds", lambda model_dir: (DETECTORS, model_dir))


def test_coverage_text(detectors, capsys):
    assert run("coverage", str(default_policy_path())) == 0
    out = capsys.readouterr().out
    assert "\nA   full     Names  [NAME]\n" in out
    assert "\nR   partial  Any other unique identifying number" in out
    assert "gap ORGANIZATION: not detected:" in out
    assert "\nP   blocked  Biometric identifiers\n" in out
    assert "\nPCI full     Payment card numbers (PCI DSS)  [CREDIT_CARD]\n" in out


def test_coverage_shows_the_recall_measured_with_the_model(detectors, tmp_path, capsys):
    from masker.detect.ner import default_model_dir

    assert run("coverage", "--model-dir", str(default_model_dir()), str(default_policy_path())) == 0
    out = capsys.readouterr().out
    a = out.split("\nA   ", 1)[1].split("\nB   ", 1)[0]
    assert re.search(r"recall \d+\.\d% on asq \(\d+ values\)", a), a  # the record beside the shipped model
    edited = write(tmp_path, "p.yaml", SHIPPED.replace("version: 1", "version: 1\n# edited"))
    assert run("coverage", "--model-dir", str(default_model_dir()), "--json", str(edited)) == 0
    doc = json.loads(capsys.readouterr().out)
    # a comment does not change the policy's hash: the record still applies
    assert doc["matrix"]["A"]["recall"]["measured"]
    other = write(tmp_path, "q.yaml", SHIPPED.replace("media: block", "media: allow"))
    assert run("coverage", "--model-dir", str(default_model_dir()), str(other)) == 0
    assert "recall: not measured:" in capsys.readouterr().out  # measured with another policy


def test_coverage_json_reflects_the_policy(detectors, tmp_path, capsys):
    text = SHIPPED.replace(
        "PHONE:        {enabled: true, regex: true, ner: true, confidence_threshold: 0.6, action: tokenize}",
        "PHONE:        {enabled: true, regex: true, ner: true, confidence_threshold: 0.6, action: passthrough}",
    )
    path = write(tmp_path, "p.yaml", text)
    assert run("coverage", "--json", str(path)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["detectors"]["ner"] == ["LOCATION", "NAME"]
    assert out["matrix"]["D"]["status"] == "none"
    assert out["matrix"]["A"]["status"] == "full"
    assert out["matrix"]["Q"]["status"] == "blocked"


def test_coverage_of_invalid_policy_exits_2(detectors, tmp_path, capsys):
    path = write(tmp_path, "p.yaml", SHIPPED.replace("media: block", "media: yes please"))
    assert run("coverage", str(path)) == 2
    assert "invalid_value: media" in capsys.readouterr().err
