"""``masker vault drop|purge``: erase vault rows (right to erasure, retention).

Neither command needs a key: erasure must work even when keys are lost.
Each run records a ``vault_dropped`` event (rows erased, never values) into
``args.sink`` (an ``EventSink``) when the CLI sets one, else into the
``events_sink`` callable given to ``add_commands``.

Both are irreversible (a dropped token can never be restored), so:
``--dry-run`` says what would go and touches nothing (no event either);
on a terminal, ``purge`` and ``drop --all`` ask for confirmation unless
``--yes``. Without a terminal (cron, CI) they act as asked, as before.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from masker.audit.events import VAULT_DROPPED, AuditUnavailable, Event
from masker.policy.model import AuditSettings
from masker.tokens.keys import Keyring
from masker.tokens.vault import Vault, vault_path

EventsSink = Callable[[Sequence[Event]], None]


def default_data_dir() -> Path:
    return Path(os.environ.get("MASKER_DATA_DIR", ".data"))


def add_commands(
    subparsers: argparse._SubParsersAction, events_sink: EventsSink | None = None
) -> None:
    vault = subparsers.add_parser("vault", help="manage the token vault")
    sub = vault.add_subparsers(dest="vault_command", required=True)

    drop = sub.add_parser("drop", help="erase the vault rows of a session, an agent, or all")
    drop.add_argument("--session", help="session id (with --agent: only that agent's session)")
    drop.add_argument("--agent", help="agent id")
    drop.add_argument("--all", action="store_true", help="erase every row")
    drop.add_argument("--data-dir", type=Path, default=None, help="default $MASKER_DATA_DIR or ./.data")
    _safety_args(drop)
    drop.set_defaults(func=make_drop_handler(events_sink))

    purge = sub.add_parser("purge", help="delete rows older than the retention period")
    purge.add_argument("--days", type=int, default=AuditSettings().retention_days,
                       help="retention in days (default %(default)s)")
    purge.add_argument("--data-dir", type=Path, default=None, help="default $MASKER_DATA_DIR or ./.data")
    _safety_args(purge)
    purge.set_defaults(func=make_purge_handler(events_sink))


def _safety_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="say what would be erased; erase nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation on a terminal")


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(question: str, args: argparse.Namespace) -> bool:
    """True to go ahead: ``--yes``, no terminal to ask on, or the user typed y/yes."""
    if getattr(args, "yes", False) or not _interactive():
        return True
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def preview(path: Path, where: str, params: Sequence[object]) -> tuple[int, int, int, float | None]:
    """(rows, agents, sessions, oldest ``created``) of the rows ``where`` selects; read-only, counts only."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        row = conn.execute(
            "SELECT count(*), count(DISTINCT agent), count(DISTINCT agent || char(31) || session), min(created) "
            f"FROM tokens WHERE {where}", list(params)).fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1]), int(row[2]), row[3]


def _describe(rows: int, agents: int, sessions: int) -> str:
    return f"{rows} vault rows ({sessions} sessions of {agents} agents)"


def _record(args: argparse.Namespace, events_sink: EventsSink | None, event: Event) -> int:
    sink = getattr(args, "sink", None)
    try:
        if sink is not None:
            sink.append([event])
        elif events_sink is not None:
            events_sink([event])
    except AuditUnavailable as e:
        print(f"rows were erased but the audit journal is unavailable: {e}", file=sys.stderr)
        return 1
    return 0


def _open(args: argparse.Namespace) -> Vault | None:
    path = vault_path(args.data_dir or default_data_dir())
    if not path.exists():
        print(f"no vault at {path}: nothing to erase")
        return None
    return Vault(path, Keyring({}))


def _drop_where(args: argparse.Namespace) -> tuple[str, list[object]]:
    clauses, params = [], []
    if args.agent is not None:
        clauses.append("agent = ?")
        params.append(args.agent)
    if args.session is not None:
        clauses.append("session = ?")
        params.append(args.session)
    return " AND ".join(clauses) or "1", params


def make_drop_handler(events_sink: EventsSink | None = None) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        if args.all == (args.session is not None or args.agent is not None):
            print("vault drop: give --session and/or --agent, or --all", file=sys.stderr)
            return 2
        path = vault_path(args.data_dir or default_data_dir())
        what = "every row" if args.all else "the rows of " + " and ".join(
            f"{name} {v}" for name, v in (("agent", args.agent), ("session", args.session)) if v is not None)
        if getattr(args, "dry_run", False) or (args.all and not getattr(args, "yes", False) and _interactive()):
            if not path.exists():
                print(f"no vault at {path}: nothing to erase")
                args.erased = False
                return 0
            rows, agents, sessions, _ = preview(path, *_drop_where(args))
            if getattr(args, "dry_run", False):
                print(f"would drop {_describe(rows, agents, sessions)}: {what} in {path}; nothing was erased (--dry-run)")
                args.erased = False
                return 0
            if rows and not confirm(f"Drop {_describe(rows, agents, sessions)} from {path}? "
                                    "Their tokens can never be restored.", args):
                print("nothing was erased", file=sys.stderr)
                args.erased = False
                return 1
        vault = _open(args)
        rows = 0
        if vault is not None:
            with vault:
                rows = vault.drop(session=args.session, agent=args.agent, all=args.all)
        print(f"dropped {rows} vault rows")
        scope = "all" if args.all else "+".join(
            name for name, v in (("agent", args.agent), ("session", args.session)) if v is not None
        )
        event = Event(kind=VAULT_DROPPED, agent=args.agent or "", session=args.session or "",
                      reason="erasure", detail={"rows": rows, "scope": scope})
        return _record(args, events_sink, event)

    return handle


def make_purge_handler(events_sink: EventsSink | None = None) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        if args.days < 0:
            print("vault purge: --days must be >= 0", file=sys.stderr)
            return 2
        path = vault_path(args.data_dir or default_data_dir())
        cutoff = time.time() - args.days * 86400
        if getattr(args, "dry_run", False) or (not getattr(args, "yes", False) and _interactive()):
            if not path.exists():
                print(f"no vault at {path}: nothing to erase")
                args.erased = False
                return 0
            rows, agents, sessions, oldest = preview(path, "created < ?", [cutoff])
            before = datetime.datetime.fromtimestamp(cutoff, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            since = (f", the oldest from {datetime.datetime.fromtimestamp(oldest, datetime.timezone.utc):%Y-%m-%d}"
                     if oldest is not None else "")
            if getattr(args, "dry_run", False):
                print(f"would purge {_describe(rows, agents, sessions)} written before {before}{since}; "
                      "nothing was erased (--dry-run)")
                args.erased = False
                return 0
            if rows and not confirm(f"Purge {_describe(rows, agents, sessions)} written before {before} from "
                                    f"{path}? Their tokens can never be restored.", args):
                print("nothing was erased", file=sys.stderr)
                args.erased = False
                return 1
        vault = _open(args)
        rows = 0
        if vault is not None:
            with vault:
                rows = vault.purge(args.days)
        print(f"purged {rows} vault rows older than {args.days} days")
        event = Event(kind=VAULT_DROPPED, reason="retention",
                      detail={"rows": rows, "retention_days": args.days})
        return _record(args, events_sink, event)

    return handle
