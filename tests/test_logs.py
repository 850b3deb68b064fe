"""``masker.logs``: one configuration for Masker and mitmproxy, text or JSON, timestamps, no values."""

from __future__ import annotations

import json
import logging
import re

import pytest

from masker import logs

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("masker", *logs.QUIET)}
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


def _record(name="masker.proxy", msg="hello %s", args=("there",), level=logging.INFO, **attrs) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    for k, v in attrs.items():
        setattr(record, k, v)
    return record


FIELDS = {"agent": "billing-bot", "masked": {"NAME": 1, "PHONE": 2}, "added_ms": 3.14, "empty": {}, "note": "a b"}


def test_text_line_has_timestamp_level_logger_and_rendered_fields():
    rec = _record(msg="access %s", args=(logs.render(FIELDS),), fields=FIELDS, short="access")
    line = logs.TextFormatter().format(rec)
    assert re.fullmatch(rf'{TS} INFO masker\.proxy: access agent=billing-bot masked=NAME:1,PHONE:2 added_ms=3\.1 '
                        rf'empty=- note="a b"', line)


def test_json_line_is_one_object_with_fields_and_client():
    rec = _record("mitmproxy.proxy.server", "client connect", (), client=("127.0.0.1", 5555),
                  fields={"status": 200, "msg": "clash"})
    doc = json.loads(logs.JsonFormatter().format(rec))
    assert re.fullmatch(TS, doc["ts"])
    assert doc == {"ts": doc["ts"], "level": "INFO", "logger": "mitmproxy.proxy.server", "msg": "client connect",
                   "client": "127.0.0.1:5555", "status": 200, "field_msg": "clash"}
    rec = _record(msg="access %s", args=(logs.render(FIELDS),), fields=FIELDS, short="access")
    doc = json.loads(logs.JsonFormatter().format(rec))
    assert doc["msg"] == "access" and doc["masked"] == {"NAME": 1, "PHONE": 2} and doc["added_ms"] == 3.14


def test_exception_messages_are_withheld():
    value = "-".join(["415", "555", "0142"])
    try:
        raise ValueError(f"secret {value}")
    except ValueError:
        import sys

        rec = _record(exc_info=sys.exc_info())
    for formatter in (logs.TextFormatter(), logs.JsonFormatter()):
        out = formatter.format(rec)
        assert value not in out and "ValueError (message withheld)" in out and "Traceback" in out


def test_configure_installs_one_handler_for_masker_and_mitmproxy(restore_logging, capsys):
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    assert logs.configure("json", env={}) == "json"
    assert logs.configure("json", env={}) == "json"  # idempotent: still one handler of ours
    assert len([h for h in root.handlers if getattr(h, "_masker", False)]) == 1 and foreign in root.handlers
    assert logs.configured()
    logging.getLogger("masker.proxy").info("from masker")
    logging.getLogger("mitmproxy.proxy.server").warning("from mitmproxy")
    logging.getLogger("mitmproxy.proxy.server").info("mitmproxy chatter stays out")
    logging.getLogger("mitmproxy.tools.web.master").info("Web server listening at http://x/?token=abc")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["logger"], d["msg"]) for d in lines] == [("masker.proxy", "from masker"),
                                                         ("mitmproxy.proxy.server", "from mitmproxy")]
    root.removeHandler(foreign)


def test_format_and_level_from_the_environment(restore_logging, capsys):
    logs.configure(env={"MASKER_LOG_FORMAT": "text", "MASKER_LOG_LEVEL": "WARNING"})
    logging.getLogger("masker").info("quiet")
    logging.getLogger("masker").warning("loud")
    err = capsys.readouterr().err
    assert "quiet" not in err and re.search(rf"^{TS} WARNING masker: loud$", err, re.M)
    with pytest.raises(ValueError, match="log format"):
        logs.configure(env={"MASKER_LOG_FORMAT": "xml"})


def test_a_bad_log_format_env_is_a_clear_cli_error(restore_logging, monkeypatch, capsys):
    from masker import cli

    monkeypatch.setenv("MASKER_LOG_FORMAT", "xml")
    assert cli.main(["policy", "validate", "x.yaml"]) == 2
    assert "log format must be one of text, json" in capsys.readouterr().err
