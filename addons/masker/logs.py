"""One logging configuration for Masker and the mitmproxy it embeds.

``configure`` installs a single handler on the root logger, so ``masker.*``,
``mitmproxy.*`` and ``tornado.*`` records all come out the same way, on
stderr, each with a UTC timestamp:

* ``text`` (default)::

    2026-11-24T09:15:02.345Z INFO masker.access: access agent=billing-bot ... added_ms=3.1

* ``json`` (``--log-format json`` or ``MASKER_LOG_FORMAT=json``): one object
  per line, ``{"ts", "level", "logger", "msg"}`` plus the record's structured
  fields (``extra={"fields": {...}, "short": "access"}``, e.g. the access
  line's ``agent``, ``route``, ``status``, ``outcome``, ``masked``,
  ``added_ms``; ``short`` replaces a message that only renders those fields)
  and, for mitmproxy's connection records, ``client``.

A record's message is always complete text (``render(fields)``), so any
handler shows it the same way (mitmdump's own log under ``mitmdump -s``).

Exceptions are logged with their traceback frames and type only: an
exception's message may quote request content, so it is never printed.

Levels: ``masker.*`` at ``$MASKER_LOG_LEVEL`` (default INFO); everything else
(mitmproxy's per-connection chatter) at WARNING. mitmweb's "Web server
listening at ...?token=..." line is kept out of the log: ``masker run
--web`` prints the URL once on stderr instead (``masker.proxy.master``).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from typing import Any

FORMATS = ("text", "json")
FORMAT_ENV = "MASKER_LOG_FORMAT"
LEVEL_ENV = "MASKER_LOG_LEVEL"
# Loggers that would print secrets (mitmweb's token URL) or request lines at INFO.
QUIET = ("mitmproxy.tools.web.master", "tornado.access")
_RESERVED = {"ts", "level", "logger", "msg", "client", "exc"}


def _timestamp(record: logging.LogRecord) -> str:
    t = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _client(record: logging.LogRecord) -> str | None:
    client = getattr(record, "client", None)  # mitmproxy's connection records
    if isinstance(client, (tuple, list)) and len(client) >= 2:
        host = str(client[0])
        return f"[{host}]:{client[1]}" if ":" in host else f"{host}:{client[1]}"
    return str(client) if client else None


def safe_exception(exc_info: Any) -> str | None:
    """The traceback's frames and the exception's type, never its message (it may quote content)."""
    if not exc_info or exc_info is True:
        return None
    etype, _value, tb = exc_info
    if etype is None:
        return None
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    return f"Traceback (most recent call last):\n{frames}{etype.__name__} (message withheld)"


def render(fields: Mapping[str, Any]) -> str:
    """``key=value ...`` for a text message (see ``format_value``)."""
    return " ".join(f"{k}={format_value(v)}" for k, v in fields.items())


def format_value(value: Any) -> str:
    """One ``key=value`` value of a text line: mappings as ``K:N,K:N``, ``-`` for empty."""
    if isinstance(value, Mapping):
        return ",".join(f"{k}:{v}" for k, v in value.items()) or "-"
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    return json.dumps(text) if any(c.isspace() or c == '"' for c in text) else text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, f"{record.name}:"]
        if client := _client(record):
            parts.append(f"[{client}]")
        parts.append(record.getMessage())
        line = " ".join(parts)
        if exc := safe_exception(record.exc_info):
            line = f"{line}\n{exc}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": getattr(record, "short", None) or record.getMessage(),
        }
        if client := _client(record):
            doc["client"] = client
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            for k, v in fields.items():
                doc[k if k not in _RESERVED else f"field_{k}"] = v
        if exc := safe_exception(record.exc_info):
            doc["exc"] = exc
        return json.dumps(doc, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest swaps it per test)."""

    _masker = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        # A closed stderr (a pipe whose reader went away) must not print a traceback with the record in it.
        pass


def log_format(value: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    fmt = (value or env.get(FORMAT_ENV) or "text").strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def configure(fmt: str | None = None, *, level: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """Install (or replace) Masker's one handler on the root logger; returns the format used.

    Idempotent: calling it again swaps only the handler it installed (test
    harness handlers on the root logger are left alone).
    """
    fmt = log_format(fmt, env)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_masker", False):
            root.removeHandler(h)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    masker_level = (level or env.get(LEVEL_ENV) or "INFO").upper()
    logging.getLogger("masker").setLevel(masker_level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return fmt


def configured() -> bool:
    """Whether ``configure`` installed its handler (then mitmproxy's own termlog stays off)."""
    return any(getattr(h, "_masker", False) for h in logging.getLogger().handlers)
