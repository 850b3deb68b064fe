"""``masker policy validate | diff | coverage``.

Exit codes: validate 0 ok / 1 issues; diff 0 same / 1 different / 2 a file
does not load; coverage 0 / 2 the policy or the model labels do not load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from masker.policy import recall
from masker.policy.catalog import issue_json
from masker.policy.coverage import coverage_matrix, with_measured_recall
from masker.policy.diff import diff_policies
from masker.policy.load import ROOT, PolicyIssue, check_policy_file
from masker.policy.model import Policy

# diff compares what two files list, even when one predates a kind, or still
# holds a removed key (reported on stderr; the key never had an effect).
_DIFF_TOLERATES = ("missing_entity", "unknown_entity", "removed_key")
_NOTED = ("removed_key",)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    policy = subparsers.add_parser("policy", help="check, compare and assess mask policies")
    commands = policy.add_subparsers(dest="policy_command", required=True)

    validate = commands.add_parser(
        "validate",
        help="validate a policy file (MASKER_KEY_<kid> must be set in this environment, unless --no-key-check)",
    )
    validate.add_argument("file", type=Path)
    validate.add_argument(
        "--no-key-check",
        action="store_true",
        help="check everything but whether MASKER_KEY_<kid> is set (linting in CI without the production key); "
        "the skipped check is named in the output",
    )
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.set_defaults(func=cmd_validate)

    diff = commands.add_parser("diff", help="show what changes from policy A to policy B")
    diff.add_argument("a", type=Path)
    diff.add_argument("b", type=Path)
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.set_defaults(func=cmd_diff)

    coverage = commands.add_parser(
        "coverage", help="HIPAA Safe Harbor A-R and PCI coverage of a policy with the installed detectors"
    )
    coverage.add_argument("file", type=Path)
    coverage.add_argument(
        "--model-dir", type=Path, default=None, help="NER model directory (default: the one the proxy would load)"
    )
    coverage.add_argument("--json", action="store_true", help="machine-readable output")
    coverage.set_defaults(func=cmd_coverage)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


NOT_FOUND = "file_not_found"
KEY_CHECK = "unknown_kid"  # the code of the check --no-key-check skips


def _check(path: Path, env: Mapping[str, str] | None, tolerate: tuple[str, ...] = ()) -> tuple[Policy | None, list[PolicyIssue]]:
    """``check_policy_file``, with a missing file reported as such (not as a YAML error)."""
    if not path.exists():
        return None, [PolicyIssue(NOT_FOUND, ROOT, 0, "file not found")]
    return check_policy_file(path, env, tolerate=tolerate)


def _format(issue: PolicyIssue, source: str) -> str:
    return f"{source}: {issue.message}" if issue.code == NOT_FOUND else issue.format(source)


def _load_or_report(path: Path, tolerate: tuple[str, ...] = ()) -> Policy | None:
    """The policy, or None after writing its issues to stderr (keys not checked).

    A policy that loads only because ``removed_key`` is tolerated still gets
    those issues written to stderr, as notes.
    """
    policy, issues = _check(path, None, tolerate=tolerate)
    if policy is None:
        for issue in issues:
            print(_format(issue, str(path)), file=sys.stderr)
    else:
        for issue in issues:
            if issue.code in _NOTED:
                print(f"note: {issue.format(str(path))}", file=sys.stderr)
    return policy


def cmd_validate(args: argparse.Namespace) -> int:
    skip_keys = getattr(args, "no_key_check", False)
    policy, issues = _check(args.file, None if skip_keys else os.environ)
    ok = policy is not None and not issues
    skipped = [KEY_CHECK] if skip_keys else []
    kid_var = f"MASKER_KEY_{policy.kid}" if policy is not None else "MASKER_KEY_<kid>"
    if args.json:
        _print_json(
            {
                "file": str(args.file),
                "ok": ok,
                "name": policy.name if ok and policy is not None else None,
                "hash": policy.hash if ok and policy is not None else None,
                "issues": [issue_json(i) for i in issues],
                "skipped": [{"code": KEY_CHECK, "check": f"{kid_var} is set"}] if skipped else [],
            }
        )
    else:
        if ok and policy is not None:
            print(f"ok {policy.name} {policy.hash}")
        for issue in issues:
            print(_format(issue, str(args.file)))
        if skip_keys:
            print(f"skipped: {KEY_CHECK} (whether {kid_var} is set; --no-key-check)")
        elif any(i.code == KEY_CHECK for i in issues):
            print(f"note: to check everything but the key, run: masker policy validate --no-key-check {args.file}",
                  file=sys.stderr)
    return 0 if ok else 1


def cmd_diff(args: argparse.Namespace) -> int:
    old = _load_or_report(args.a, _DIFF_TOLERATES)
    new = _load_or_report(args.b, _DIFF_TOLERATES)
    if old is None or new is None:
        return 2
    changes = diff_policies(old, new)
    if args.json:
        _print_json(
            {
                "same": not changes,
                "a": {"file": str(args.a), "name": old.name, "hash": old.hash},
                "b": {"file": str(args.b), "name": new.name, "hash": new.hash},
                "changes": [c.to_json() for c in changes],
            }
        )
    elif not changes:
        print(f"same {new.hash}")
    else:
        print(f"--- {args.a} ({old.name} {old.hash[:12]})")
        print(f"+++ {args.b} ({new.name} {new.hash[:12]})")
        for change in changes:
            print(change.describe())
    return 1 if changes else 0


def _detector_kinds(model_dir: Path | None) -> tuple[dict[str, frozenset[str]], Path | None]:
    from masker.detect import ner, registry  # heavy: only this command needs the detectors

    if model_dir is None:
        model_dir = ner.default_model_dir()
    return registry.detector_kinds(model_dir), model_dir


def cmd_coverage(args: argparse.Namespace) -> int:
    policy = _load_or_report(args.file)
    if policy is None:
        return 2
    try:
        kinds, model_dir = _detector_kinds(args.model_dir)
    except (OSError, ValueError) as exc:
        print(f"cannot read the NER model labels: {exc}", file=sys.stderr)
        return 2
    # beside each status, what the shipped evaluation measured (the record next to the model)
    model = recall.model_id(model_dir) if model_dir is not None else None
    matrix = with_measured_recall(coverage_matrix(policy, kinds), recall.load_record(model_dir), model, policy.hash)
    if args.json:
        _print_json(
            {
                "policy": policy.name,
                "hash": policy.hash,
                "model_dir": str(model_dir) if model_dir is not None else None,
                "detectors": {name: sorted(k) for name, k in kinds.items()},
                "matrix": matrix,
            }
        )
        return 0
    print(f"policy {policy.name} {policy.hash[:12]}; NER model: {model_dir or 'none'}")
    for letter, entry in matrix.items():
        listed = f"  [{', '.join(entry['covered'])}]" if entry["covered"] else ""
        print(f"{letter:<4}{entry['status']:<9}{entry['category']}{listed}")
        for gap in entry["gaps"]:
            print(f"{'':13}gap {gap['kind']}: {gap['reason']}")
        if entry["note"]:
            print(f"{'':13}note: {entry['note']}")
        measured = entry["recall"]["measured"]
        for m in measured:
            print(f"{'':13}recall {100 * m['recall']:.1f}% on {m['set']} ({m['spans']} values)")
        if not measured:
            print(f"{'':13}recall: {entry['recall']['note']}")
    return 0
