"""``masker run`` argument handling (the running proxy is covered by tests/e2e)."""

from __future__ import annotations

import argparse
import logging

import pytest

from masker.proxy import cli, master


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_run_defaults_are_local_and_regular(tmp_path, monkeypatch):
    monkeypatch.delenv("MASKER_ADMIN_TOKEN", raising=False)
    s = cli.run_settings(_parse("run", "--data-dir", str(tmp_path)))
    assert (s["listen_host"], s["listen_port"], s["mode"]) == ("127.0.0.1", 8080, ["regular"])
    assert s["confdir"] == str(tmp_path / "ca") and (tmp_path / "ca" / "mitmproxy-ca.pem").exists()
    assert s["masker_max_body"] == "16m" and s["masker_admin_listen"] == "127.0.0.1:8090"
    assert "masker_admin_token" not in s  # the option reads $MASKER_ADMIN_TOKEN itself
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


def test_web_shows_the_comment_column_and_log_format_is_an_option(tmp_path, monkeypatch):
    monkeypatch.delenv("MASKER_WEB_PASSWORD", raising=False)
    args = _parse("run", "--web", "--data-dir", str(tmp_path), "--log-format", "json")
    s = cli.run_settings(args)
    assert "comment" in s["web_columns"] and s["web_password"] == "" and args.log_format == "json"
    assert "store_streamed_bodies" not in s  # not forced on: FlowMarks keeps a bounded copy instead
    with pytest.raises(SystemExit):
        _parse("run", "--log-format", "xml")


# ------------------------------------------------------------------ start-up


class _Server:
    """A listener of mitmproxy's ``Proxyserver`` (its real mode, made up addresses)."""

    def __init__(self, spec: str, addrs, running: bool = True) -> None:
        from mitmproxy.proxy import mode_specs

        self.mode, self.listen_addrs, self.is_running = mode_specs.ProxyMode.parse(spec), addrs, running
        self.last_exception = None if running else OSError("address in use")


def test_listener_lines_name_what_listens_with_its_mode():
    up, down = master.listener_lines(
        [_Server("regular", [("::", 8080, 0, 0), ("0.0.0.0", 8080)]),
         _Server("reverse:https://api.openai.com@8081", [("127.0.0.1", 8081)]),
         _Server("reverse:https://api.anthropic.com@8082", [], running=False)],
        ["api.openai.com"])
    assert up == [
        "*:8080: regular proxy (HTTPS_PROXY=http://AGENT@127.0.0.1:8080): masks api.openai.com; tunnels other hosts untouched",
        "127.0.0.1:8081: reverse proxy to https://api.openai.com (base_url http://127.0.0.1:8081/proxy/AGENT/...)",
    ]
    assert down == ["reverse:https://api.anthropic.com@8082: OSError"]


@pytest.mark.parametrize("password", ["", "s3cret"])
def test_web_url_printed_once_on_stderr_with_its_token_only_without_a_password(password, capsys, caplog):
    from mitmproxy.test import taddons
    from mitmproxy.tools.web.webaddons import WebAddon, WebAuth

    report = master.StartupReport(0.0, web=True)
    with taddons.context(WebAddon(), WebAuth(), report) as tctx:
        tctx.options.update(web_password=password)
        tctx.master.web_url = "http://127.0.0.1:8091/" + ("" if password else "?token=abc123")
        report._print_web_url()
    err = capsys.readouterr().err
    assert err.count("mitmweb UI at http://127.0.0.1:8091/") == 1
    assert ("token=abc123" in err) is (not password) and "s3cret" not in err
    assert "PHI" in err and not [r for r in caplog.records if "token" in r.getMessage()]


def _holder(factory, tmp_path, **opts):
    from mitmproxy.addons.proxyserver import Proxyserver

    from masker.proxy.engine_holder import EngineHolder
    from masker.proxy.options import MaskerOptions

    holder = EngineHolder(factory=factory)
    return holder, (Proxyserver(), MaskerOptions(), holder), {"masker_data_dir": str(tmp_path), "masker_workers": 0, **opts}


def test_startup_failure_logs_each_policy_issue_and_stops_the_proxy(tmp_path, monkeypatch, caplog):
    from mitmproxy.test import taddons

    from masker.runtime import open_runtime

    monkeypatch.delenv("MASKER_DEV", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nbogus: 2\n")
    holder, addons, opts = _holder(open_runtime, tmp_path, masker_policy=str(bad))
    with taddons.context(*addons) as tctx:
        tctx.options.update(**opts)
        stops = []
        monkeypatch.setattr(tctx.master, "shutdown", lambda: stops.append(True))
        with caplog.at_level(logging.INFO, logger="masker"):
            holder.running()
    assert holder.startup_failure == "engine could not be built: PolicyError" and stops == [True]
    errors_ = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert f"masker cannot start: {bad}:3: unknown_key: bogus: unknown key" in errors_
    assert errors_[-1] == "masker refuses to start: engine could not be built: PolicyError"


def test_missing_policy_is_file_not_found_even_with_the_dev_fallback(tmp_path, monkeypatch, caplog):
    from mitmproxy.test import taddons

    monkeypatch.setenv("MASKER_DEV", "1")
    built = []
    holder, addons, opts = _holder(lambda *a, **k: built.append(a), tmp_path, masker_policy=str(tmp_path / "nope.yaml"))
    with taddons.context(*addons) as tctx:
        tctx.options.update(**opts)
        monkeypatch.setattr(tctx.master, "shutdown", lambda: None)
        holder.running()
    assert built == [] and holder.startup_failure
    assert f"masker cannot start: StartupError: policy file not found: {tmp_path / 'nope.yaml'}" in caplog.text


def test_dev_fallback_warns_and_builds_with_the_shipped_policy(tmp_path, monkeypatch, caplog):
    from mitmproxy.test import taddons

    monkeypatch.setenv("MASKER_DEV", "1")
    monkeypatch.delenv("MASKER_ENV", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\n")
    built = []

    class _Engine:
        policy = type("P", (), {"name": "p", "hash": "h"})()

        def record(self, events):
            pass

    def factory(policy, data_dir, env, **kw):
        built.append(policy)
        return _Engine()

    holder, addons, opts = _holder(factory, tmp_path, masker_policy=str(bad))
    with taddons.context(*addons) as tctx:
        tctx.options.update(**opts)
        with caplog.at_level(logging.INFO, logger="masker"):
            holder.running()
        assert built == [None] and holder.startup_failure is None and holder.unready() is None
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(m.startswith(f"invalid mask policy: {bad}:1: missing_key") for m in warnings)
        assert any("MASKER_DEV=1: using the shipped default policy" in m for m in warnings)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("masker")]  # mitmproxy would exit
        holder.done()


def test_no_dev_fallback_in_production(tmp_path, monkeypatch):
    from mitmproxy.test import taddons

    monkeypatch.setenv("MASKER_DEV", "1")
    monkeypatch.setenv("MASKER_ENV", "production")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\n")
    built = []

    def factory(policy, data_dir, env, **kw):
        built.append(policy)
        raise RuntimeError("stop here")

    holder, addons, opts = _holder(factory, tmp_path, masker_policy=str(bad))
    with taddons.context(*addons) as tctx:
        tctx.options.update(**opts)
        monkeypatch.setattr(tctx.master, "shutdown", lambda: None)
        holder.running()
    assert built == [bad] and holder.startup_failure


def test_a_failed_rebuild_after_start_keeps_running_and_refuses(tmp_path, monkeypatch, caplog):
    from mitmproxy.test import taddons

    calls = []

    def factory(policy, data_dir, env, **kw):
        calls.append(policy)
        raise RuntimeError("cannot")

    holder, addons, opts = _holder(factory, tmp_path)
    with taddons.context(*addons) as tctx:
        tctx.options.update(**opts)
        holder._running = True  # started earlier
        stops = []
        monkeypatch.setattr(tctx.master, "shutdown", lambda: stops.append(True))
        holder.configure({"masker_workers"})
    assert calls and stops == [] and holder.startup_failure is None
    assert holder.unready() == "engine could not be built: RuntimeError"
    assert "masker NOT READY, every request is refused" in caplog.text
