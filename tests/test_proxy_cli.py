"""``masker run`` argument handling (the running proxy is covered by tests/e2e)."""

from __future__ import annotations

import argparse

import pytest

from masker.proxy import cli


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_run_defaults_are_local_and_regular(tmp_path, monkeypatch):
    monkeypatch.delenv("MASKER_ADMIN_TOKEN", raising=False)
    s = cli.run_settings(_parse("run", "--data-dir", str(tmp_path)))
    assert (s["listen_host"], s["listen_port"], s["mode"]) == ("127.0.0.1", 8080, ["regular"])
    assert s["confdir"] == str(tmp_path / "ca") and (tmp_path / "ca" / "mitmproxy-ca.pem").exists()
    assert s["masker_max_body"] == "16m" and s["masker_admin_token"] == ""
    assert "web_password" not in s


def test_run_modes_hosts_and_web(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKER_WEB_PASSWORD", "pw")
    monkeypatch.setenv("MASKER_CA_DIR", str(tmp_path / "shared-ca"))
    args = _parse("run", "--listen", "0.0.0.0:9000", "--mode", "regular", "--mode", "reverse:https://api.openai.com@8081",
                  "--llm-host", "llm.internal.example", "--web", "--data-dir", str(tmp_path))
    s = cli.run_settings(args)
    assert s["mode"] == ["regular", "reverse:https://api.openai.com@8081"]
    assert s["masker_llm_hosts"] == ["llm.internal.example"]
    assert s["web_password"] == "pw" and s["web_port"] == 8091
    assert s["confdir"] == str(tmp_path / "shared-ca")


def test_listen_must_be_host_port():
    with pytest.raises(SystemExit):
        _parse("run", "--listen", "8080")
