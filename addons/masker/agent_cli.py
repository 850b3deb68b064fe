"""``masker agents list|show|create|update|delete``: the admin API's agents, from a terminal.

Two ways, the same validation (``masker.agents``, policy issue codes of
``masker policy validate``):

* with ``--admin-url`` (or ``$MASKER_ADMIN_URL``) and ``$MASKER_ADMIN_TOKEN``:
  through the running sidecar's admin API, which stores the agent and
  reloads at once (a change that does not validate is not applied);
* otherwise directly in the data dir's vault database: a running sidecar
  applies the change at its next reload (SIGHUP or
  ``POST /api/v1/admin/policy/reload``), which the command reminds you of.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from masker.agents import Agent, AgentError, AgentStore, parse_agent
from masker.policy.catalog import issue_json
from masker.stores import open_agent_store
from masker.tokens.cli import confirm

RELOAD_HINT = ("stored in {db}; a running sidecar applies it at its next policy reload "
               "(kill -HUP <pid>, or POST /api/v1/admin/policy/reload)")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    agents = subparsers.add_parser("agents", help="list, create, update and delete agents (own policy, upstream, kid)")
    sub = agents.add_subparsers(title="agent commands", metavar="COMMAND", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory (default $MASKER_DATA_DIR or ./.data)")
        p.add_argument("--admin-url", default=os.environ.get("MASKER_ADMIN_URL"),
                       help="a running sidecar's admin listener (default $MASKER_ADMIN_URL); token: $MASKER_ADMIN_TOKEN")

    lst = sub.add_parser("list", help="every agent (name, upstream, kid, own policy or not)")
    common(lst)
    lst.add_argument("--json", action="store_true", help="machine-readable output (policies included)")
    lst.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="one agent as JSON")
    common(show)
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    for verb, helptext in (("create", "add an agent"), ("update", "change an agent (fields not given stay)")):
        p = sub.add_parser(verb, help=helptext)
        common(p)
        p.add_argument("name")
        p.add_argument("--policy", type=Path, help="the agent's own mask policy YAML ('' with update: use the global one)")
        p.add_argument("--upstream", help="the only upstream base URL it may reach, https://host[:port] ('' clears)")
        p.add_argument("--kid", help="key id its tokens are minted under ('' clears)")
        p.set_defaults(func=cmd_write, create=verb == "create")
    delete = sub.add_parser("delete", help="remove an agent (its requests then use the global policy)")
    common(delete)
    delete.add_argument("name")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation on a terminal")
    delete.set_defaults(func=cmd_delete)


def _store(args: argparse.Namespace) -> AgentStore:
    from masker.runtime import default_data_dir

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_agent_store(data_dir, os.environ)


def _api(args: argparse.Namespace, method: str, path: str, body: object = None) -> tuple[int, Any]:
    token = os.environ.get("MASKER_ADMIN_TOKEN", "")
    if not token:
        raise SystemExit("masker agents: --admin-url needs $MASKER_ADMIN_TOKEN")
    request = urllib.request.Request(
        args.admin_url.rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:  # noqa: S310 - an operator-given admin URL
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _print_error(doc: Any) -> int:
    error = doc.get("error", {}) if isinstance(doc, dict) else {}
    print(f"masker agents: {error.get('code', 'error')}: {error.get('message', doc)}", file=sys.stderr)
    for issue in error.get("issues", []) or (doc.get("issues", []) if isinstance(doc, dict) else []):
        print(f"  {issue.get('source', 'policy')}:{issue['line']}: {issue['code']}: {issue['path']}: {issue['message']}",
              file=sys.stderr)
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    if args.admin_url:
        status, doc = _api(args, "GET", "/api/v1/agents")
        if status != 200:
            return _print_error(doc)
        agents = [Agent(**a) for a in doc["agents"]]
    else:
        store = _store(args)
        agents = store.list()
        store.close()
    if args.json:
        print(json.dumps([a.to_json() for a in agents], indent=2))
        return 0
    for a in agents:
        print(f"{a.name}\tupstream={a.upstream or '-'}\tkid={a.kid or '-'}\t"
              f"policy={'own' if a.policy_yaml else 'global'}\tupdated={a.updated_at}")
    if not agents:
        print("no agents: every request is masked by the global policy", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.admin_url:
        status, doc = _api(args, "GET", f"/api/v1/agents/{args.name}")
        if status != 200:
            return _print_error(doc)
        print(json.dumps(doc["agent"], indent=2))
        return 0
    store = _store(args)
    agent = store.get(args.name)
    store.close()
    if agent is None:
        print(f"masker agents: no agent {args.name}", file=sys.stderr)
        return 1
    print(json.dumps(agent.to_json(), indent=2))
    return 0


def _document(args: argparse.Namespace, current: Agent | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": args.name}
    if current is not None:
        doc.update(upstream=current.upstream, policy_yaml=current.policy_yaml, kid=current.kid)
    if args.policy is not None:
        doc["policy_yaml"] = args.policy.read_text(encoding="utf-8") if str(args.policy) else None
    if args.upstream is not None:
        doc["upstream"] = args.upstream or None
    if args.kid is not None:
        doc["kid"] = args.kid or None
    return doc


def cmd_write(args: argparse.Namespace) -> int:
    if args.admin_url:
        current = None
        if not args.create:
            status, doc = _api(args, "GET", f"/api/v1/agents/{args.name}")
            if status != 200:
                return _print_error(doc)
            current = Agent(**doc["agent"])
        method, path = ("POST", "/api/v1/agents") if args.create else ("PUT", f"/api/v1/agents/{args.name}")
        status, doc = _api(args, method, path, _document(args, current))
        if status not in (200, 201):
            return _print_error(doc)
        print(f"agent {args.name} {'created' if args.create else 'updated'}; "
              f"the sidecar runs policy generation {doc['reload']['generation']}")
        return 0
    store = _store(args)
    try:
        current = store.get(args.name)
        if not args.create and current is None:
            print(f"masker agents: no agent {args.name}", file=sys.stderr)
            return 1
        try:
            agent = parse_agent(_document(args, current), os.environ)
            store.create(agent) if args.create else store.update(agent)
        except AgentError as e:
            return _print_error({"error": {"code": e.code, "message": str(e), "issues": [issue_json(i) for i in e.issues]}})
        print(RELOAD_HINT.format(db=store.where), file=sys.stderr)
        return 0
    finally:
        store.close()


def cmd_delete(args: argparse.Namespace) -> int:
    if not confirm(f"delete agent {args.name}? Its requests then use the global policy.", args):
        print("nothing deleted", file=sys.stderr)
        return 1
    if args.admin_url:
        status, doc = _api(args, "DELETE", f"/api/v1/agents/{args.name}")
        if status != 200:
            return _print_error(doc)
        print(f"agent {args.name} deleted; the sidecar runs policy generation {doc['reload']['generation']}")
        return 0
    store = _store(args)
    try:
        if not store.delete(args.name):
            print(f"masker agents: no agent {args.name}", file=sys.stderr)
            return 1
        print(RELOAD_HINT.format(db=store.where), file=sys.stderr)
        return 0
    finally:
        store.close()
