"""``masker run`` (the sidecar) and ``masker ca`` (trust bundle for app containers)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from masker import logs
from masker.db import DATABASE_URL_ENV
from masker.proxy import ca
from masker.proxy.routing import DEFAULT_LLM_HOSTS

log = logging.getLogger("masker")

WEB_COLUMNS = ("tls", "icon", "path", "method", "status", "size", "time", "comment")


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("MASKER_DATA_DIR") or ".data")


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run the Masker sidecar proxy")
    run.add_argument("--listen", type=_host_port, default=("127.0.0.1", 8080), metavar="HOST:PORT",
                     help="listen address of every --mode that names no @PORT of its own (default 127.0.0.1:8080); "
                          "the start-up lines say what actually listens")
    run.add_argument("--mode", action="append", metavar="MODE",
                     help="mitmproxy mode, repeatable: regular (default), reverse:https://api.openai.com@8081, ...")
    run.add_argument("--policy", help="mask policy YAML (default: the shipped policy)")
    run.add_argument("--data-dir", help="data directory (default $MASKER_DATA_DIR or ./.data)")
    run.add_argument("--database-url", metavar="URL",
                     help="PostgreSQL for the vault and the agents, shared by replicas (default $MASKER_DATABASE_URL, "
                          "which keeps a password out of the process list; unset: SQLite in the data dir)")
    run.add_argument("--llm-host", action="append", metavar="HOST",
                     help=f"LLM host to intercept in regular mode, repeatable (default {', '.join(DEFAULT_LLM_HOSTS)})")
    run.add_argument("--max-body", default="16m", help="largest request body accepted (default 16m; larger gets 413)")
    run.add_argument("--detect-timeout", type=float, default=10.0, help="seconds masking may take (default 10; then 503)")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="worker processes that mask requests (0: inside the proxy process; default: one per core, up to 4)")
    run.add_argument("--web", action="store_true",
                     help="serve the mitmweb UI for debugging: it shows rehydrated responses (PHI) to whoever holds the "
                          "password ($MASKER_WEB_PASSWORD, best an argon2 hash; else a random token, printed once "
                          "on stderr in the UI's URL, never logged)")
    run.add_argument("--web-listen", type=_host_port, default=("127.0.0.1", 8091), metavar="HOST:PORT",
                     help="mitmweb UI address (default 127.0.0.1:8091)")
    run.add_argument("--admin-listen", default="127.0.0.1:8090", metavar="HOST:PORT",
                     help="admin listener: live firewall view, admin API, /metrics (default 127.0.0.1:8090; "
                          "empty: off); on only when MASKER_ADMIN_TOKEN is set")
    run.add_argument("--policy-watch", action="store_true",
                     help="reload the policy when its file changes (also: SIGHUP, POST /api/v1/admin/policy/reload)")
    run.add_argument("--log-format", choices=logs.FORMATS, default=None,
                     help="log lines as text (default) or one JSON object per line (default $MASKER_LOG_FORMAT or text)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="OPTION=VALUE",
                     help="any other mitmproxy / masker_* option, repeatable")
    run.set_defaults(func=cmd_run, started=None)  # masker.cli.main sets started: when the process began

    cap = subparsers.add_parser(
        "ca", help="write the CA bundle app containers must trust; print export lines for eval or source",
        description="Writes the trust bundle and prints shell lines to stdout that can be eval'd or sourced: "
                    'eval "$(masker ca)"')
    cap.add_argument("--data-dir", help="data directory (default $MASKER_DATA_DIR or ./.data)")
    cap.add_argument("--out", help="bundle path (default <data-dir>/ca-bundle.pem)")
    cap.add_argument("--roots", help="root certificates to start from (default: certifi's Mozilla roots)")
    cap.set_defaults(func=cmd_ca)


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """mitmproxy options for ``masker run``; prepares the CA confdir."""
    data_dir = _data_dir(args)
    confdir = ca.ca_dir(data_dir)
    ca.ensure_ca(confdir)
    settings: dict[str, Any] = {
        "listen_host": args.listen[0],
        "listen_port": args.listen[1],
        "mode": args.mode or ["regular"],
        "confdir": str(confdir),
        "masker_data_dir": str(data_dir),
        "masker_policy": args.policy or "",
        "masker_max_body": args.max_body,
        "masker_detect_timeout": str(args.detect_timeout),
        "masker_admin_listen": args.admin_listen,
        "masker_policy_watch": args.policy_watch,
    }
    if args.llm_host:
        settings["masker_llm_hosts"] = args.llm_host
    if args.workers is not None:
        settings["masker_workers"] = args.workers
    if args.web:
        settings.update(web_host=args.web_listen[0], web_port=args.web_listen[1],
                        web_password=os.environ.get("MASKER_WEB_PASSWORD", ""),
                        # the comment column shows each flow's agent, session and outcome (masker.proxy.flow_marks)
                        web_columns=list(WEB_COLUMNS))
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    from mitmproxy import exceptions

    from masker.proxy.master import run_master

    started = args.started or time.monotonic()
    if args.database_url:
        os.environ[DATABASE_URL_ENV] = args.database_url  # read there by the runtime and the worker processes
    settings = run_settings(args)
    log.info("starting Masker: mode %s, data dir %s, CA %s", ", ".join(settings["mode"]),
             settings["masker_data_dir"], settings["confdir"])
    try:
        return asyncio.run(run_master(settings, web=args.web, extra=args.sets, started=started))
    except exceptions.OptionsError as e:
        print(f"masker run: {e}", file=sys.stderr)
        return 2


def cmd_ca(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    cert = ca.ensure_ca(ca.ca_dir(data_dir))
    out = Path(args.out) if args.out else data_dir / ca.BUNDLE_FILE
    bundle = ca.write_bundle(cert, out, Path(args.roots) if args.roots else None)
    print(f"masker: CA bundle written to {bundle}; the app container needs these variables "
          '(eval "$(masker ca ...)" or source the output)', file=sys.stderr)
    for line in ca.env_lines(bundle):
        print(line)
    return 0
