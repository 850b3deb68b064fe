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
import contextlib
import datetime
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from masker.audit.events import VAULT_DROPPED, AuditUnavailable, Event
from masker.db import DATABASE_URL_ENV, database_url, describe
from masker.policy.model import AuditSettings
from masker.stores import open_vault
from masker.tokens.keys import Keyring
from masker.tokens.vault import TokenVault, vault_path

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
    _database_arg(drop)
    _safety_args(drop)
    drop.set_defaults(func=make_drop_handler(events_sink))

    purge = sub.add_parser("purge", help="delete rows older than the retention period")
    purge.add_argument("--days", type=int, default=AuditSettings().retention_days,
                       help="retention in days (default %(default)s)")
    purge.add_argument("--data-dir", type=Path, default=None, help="default $MASKER_DATA_DIR or ./.data")
    _database_arg(purge)
    _safety_args(purge)
    purge.set_defaults(func=make_purge_handler(events_sink))


def _database_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="the PostgreSQL vault of the replicas (default $MASKER_DATABASE_URL; unset: the data dir's "
                        "SQLite vault)")


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


def _where(args: argparse.Namespace) -> str:
    """The vault's location for messages: the SQLite file, or the database without credentials."""
    url = database_url(_env(args))
    return describe(url) if url is not None else str(vault_path(_data_dir(args)))


def _data_dir(args: argparse.Namespace) -> Path:
    return args.data_dir or default_data_dir()


def _env(args: argparse.Namespace) -> Mapping[str, str]:
    url = getattr(args, "database_url", None)
    return {**os.environ, DATABASE_URL_ENV: url} if url else os.environ


def _open(args: argparse.Namespace) -> TokenVault | None:
    """The vault the arguments name; None (and says so) when there is no SQLite file to erase from."""
    env = _env(args)
    if database_url(env) is None and not vault_path(_data_dir(args)).exists():
        print(f"no vault at {vault_path(_data_dir(args))}: nothing to erase")
        return None
    return open_vault(_data_dir(args), env, Keyring({}))


def _ask(args: argparse.Namespace, always: bool) -> bool:
    """Whether to count first: ``--dry-run``, or a confirmation to ask on a terminal (``always``: every run)."""
    return getattr(args, "dry_run", False) or (always and not getattr(args, "yes", False) and _interactive())


def make_drop_handler(events_sink: EventsSink | None = None) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        if args.all == (args.session is not None or args.agent is not None):
            print("vault drop: give --session and/or --agent, or --all", file=sys.stderr)
            return 2
        what = "every row" if args.all else "the rows of " + " and ".join(
            f"{name} {v}" for name, v in (("agent", args.agent), ("session", args.session)) if v is not None)
        vault = _open(args)
        if vault is None and getattr(args, "dry_run", False):
            args.erased = False
            return 0
        rows = 0
        with vault or contextlib.nullcontext():
            if vault is not None and _ask(args, args.all):
                c = vault.census(agent=args.agent, session=args.session)
                if getattr(args, "dry_run", False):
                    print(f"would drop {_describe(c.rows, c.agents, c.sessions)}: {what} in {_where(args)}; "
                          "nothing was erased (--dry-run)")
                    args.erased = False
                    return 0
                if c.rows and not confirm(f"Drop {_describe(c.rows, c.agents, c.sessions)} from {_where(args)}? "
                                          "Their tokens can never be restored.", args):
                    print("nothing was erased", file=sys.stderr)
                    args.erased = False
                    return 1
            if vault is not None:
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
        vault = _open(args)
        if vault is None and getattr(args, "dry_run", False):
            args.erased = False
            return 0
        rows = 0
        with vault or contextlib.nullcontext():
            if vault is not None and _ask(args, True):
                cutoff = time.time() - args.days * 86400
                c = vault.census(before=cutoff)
                before = datetime.datetime.fromtimestamp(cutoff, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
                since = (f", the oldest from {datetime.datetime.fromtimestamp(c.oldest, datetime.UTC):%Y-%m-%d}"
                         if c.oldest is not None else "")
                if getattr(args, "dry_run", False):
                    print(f"would purge {_describe(c.rows, c.agents, c.sessions)} written before {before}{since}; "
                          "nothing was erased (--dry-run)")
                    args.erased = False
                    return 0
                if c.rows and not confirm(f"Purge {_describe(c.rows, c.agents, c.sessions)} written before {before} "
                                          f"from {_where(args)}? Their tokens can never be restored.", args):
                    print("nothing was erased", file=sys.stderr)
                    args.erased = False
                    return 1
            if vault is not None:
                rows = vault.purge(args.days)
        print(f"purged {rows} vault rows older than {args.days} days")
        event = Event(kind=VAULT_DROPPED, reason="retention",
                      detail={"rows": rows, "retention_days": args.days})
        return _record(args, events_sink, event)

    return handle
