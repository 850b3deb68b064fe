"""``masker vault drop|purge``: erase vault rows (right to erasure, retention).

Neither command needs a key: erasure must work even when keys are lost.
Each run records a ``vault_dropped`` event (rows erased, never values) into
``args.sink`` (an ``EventSink``) when the CLI sets one, else into the
``events_sink`` callable given to ``add_commands``.
"""

from __future__ import annotations

import argparse
import os
import sys
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
    drop.set_defaults(func=make_drop_handler(events_sink))

    purge = sub.add_parser("purge", help="delete rows older than the retention period")
    purge.add_argument("--days", type=int, default=AuditSettings().retention_days,
                       help="retention in days (default %(default)s)")
    purge.add_argument("--data-dir", type=Path, default=None, help="default $MASKER_DATA_DIR or ./.data")
    purge.set_defaults(func=make_purge_handler(events_sink))


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


def make_drop_handler(events_sink: EventsSink | None = None) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        if args.all == (args.session is not None or args.agent is not None):
            print("vault drop: give --session and/or --agent, or --all", file=sys.stderr)
            return 2
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
