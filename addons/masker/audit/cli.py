"""``masker report SESSION``, ``masker report verify FILE``, ``masker audit verify|prune``.

Keys come from the environment (MASKER_AUDIT_KEY, MASKER_SIGNING_KEY). Exit
codes: 0 ok; 1 verification failed (the first failure is printed); 2 bad
usage, a missing key, or nothing to report.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nacl.signing import VerifyKey

from . import checkpoint as cpmod
from .keys import KeyConfigError, audit_key_from_env, load_verify_key, signing_key_from_env
from .verify import verify_journal


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report",
        help="write a signed session report (JSON + PDF), or verify one",
        usage="masker report SESSION [--out DIR] [--data-dir D]\n"
        "       masker report verify FILE.json|FILE.pdf [--pubkey K] [--journal J]",
    )
    report.add_argument("words", nargs="*", metavar="SESSION | verify FILE")
    report.add_argument("--session", help="report this session (for a session literally named 'verify')")
    report.add_argument("--out", type=Path, help="output directory (default: <data-dir>/reports)")
    _data_dir_arg(report)
    report.add_argument("--policy", type=Path, help="policy file (default: $MASKER_POLICY or the shipped one)")
    report.add_argument("--pubkey", help="verify: the signer's public key (PEM file, base64 or hex)")
    report.add_argument("--journal", type=Path, help="verify: journal directory to recompute Merkle roots from")
    report.set_defaults(func=cmd_report)

    audit = subparsers.add_parser("audit", help="audit journal tools")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="verify the journal's HMAC chain and a signed checkpoint")
    verify.add_argument("--journal", type=Path, help="journal directory (default: <data-dir>/journal)")
    verify.add_argument(
        "--checkpoint", type=Path, help="a trusted checkpoint (default: the newest in <data-dir>/checkpoints)"
    )
    verify.add_argument("--no-checkpoint", action="store_true", help="check the chain only")
    verify.add_argument("--pubkey", help="the checkpoint signer's public key (default: from MASKER_SIGNING_KEY)")
    _data_dir_arg(verify)
    verify.set_defaults(func=cmd_audit_verify)

    prune = commands.add_parser(
        "prune", help="delete whole journal day files older than the retention period (anchored by a signed checkpoint)"
    )
    prune.add_argument("--days", type=int, help="retention in days (default: the policy's audit.retention_days)")
    prune.add_argument("--policy", type=Path, help="policy file (default: $MASKER_POLICY or the shipped one)")
    _data_dir_arg(prune)
    prune.set_defaults(func=cmd_audit_prune)


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data dir (default: $MASKER_DATA_DIR or ./.data)")


def _data_dir(args: argparse.Namespace) -> Path:
    return args.data_dir or Path(os.environ.get("MASKER_DATA_DIR", ".data"))


def _verify_key(spec: str | None) -> VerifyKey | None:
    """--pubkey, else the public half of MASKER_SIGNING_KEY, else None."""
    if spec:
        return load_verify_key(spec)
    try:
        return signing_key_from_env().verify_key
    except KeyConfigError:
        return None


def cmd_report(args: argparse.Namespace) -> int:
    words = args.words
    try:
        if args.session is not None:
            if words:
                print("give the session either as SESSION or as --session, not both", file=sys.stderr)
                return 2
            return _report_build(args.session, args)
        if words[:1] == ["verify"]:
            if len(words) != 2:
                print("usage: masker report verify FILE.json|FILE.pdf [--pubkey K] [--journal J]", file=sys.stderr)
                return 2
            return _report_verify(Path(words[1]), args)
        if len(words) != 1:
            print("usage: masker report SESSION [--out DIR] [--data-dir D]", file=sys.stderr)
            return 2
        return _report_build(words[0], args)
    except KeyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _report_build(session: str, args: argparse.Namespace) -> int:
    from masker.detect import ner, registry
    from masker.policy.coverage import coverage_matrix
    from masker.policy.load import PolicyError, default_policy_path, load_policy

    from .report import ReportError, build_report

    data_dir = _data_dir(args)
    audit_key = audit_key_from_env()
    signing_key = signing_key_from_env()
    policy_path = args.policy or Path(os.environ.get("MASKER_POLICY") or default_policy_path())
    try:
        policy = load_policy(policy_path)
    except PolicyError as exc:
        print(f"error: the policy does not load: {exc}", file=sys.stderr)
        return 2
    try:
        json_path, pdf_path = build_report(
            data_dir / "journal",
            audit_key,
            session,
            signing_key,
            coverage=lambda: coverage_matrix(policy, registry.detector_kinds(ner.default_model_dir())),
            policy=policy,
            out_dir=args.out or data_dir / "reports",
        )
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json_path)
    print(pdf_path)
    return 0


def _report_verify(path: Path, args: argparse.Namespace) -> int:
    from .report import verify_report

    journal = args.journal
    audit_key = None
    if journal is not None:
        audit_key = audit_key_from_env()
    result = verify_report(path, pubkey=_verify_key(args.pubkey), journal_dir=journal, audit_key=audit_key)
    if not result.ok:
        print(f"FAILED: {result.message}", file=sys.stderr)
        return 1
    print(f"{result.message}: {result.event_count} events, merkle root {result.merkle_root}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    try:
        audit_key = audit_key_from_env()
        verify_key = _verify_key(args.pubkey)
    except KeyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    journal = args.journal or data_dir / "journal"
    if not journal.is_dir():
        print(f"error: no journal directory at {journal}", file=sys.stderr)
        return 2
    checkpoint = None
    if not args.no_checkpoint:
        checkpoint = args.checkpoint or cpmod.latest(data_dir / "checkpoints")
    result = verify_journal(journal, audit_key, checkpoint=checkpoint, verify_key=verify_key)
    if not result.ok:
        print(f"FAILED at seq {result.first_bad_seq}: {result.message}", file=sys.stderr)
        return 1
    against = f", checkpoint {checkpoint.name}" if checkpoint is not None else ", no checkpoint"
    print(f"{result.message}: {result.event_count} events (size {result.size}{against})")
    print(f"merkle root {result.merkle_root}")
    return 0


def cmd_audit_prune(args: argparse.Namespace) -> int:
    from masker.policy.load import default_policy_path, load_policy

    from .journal import Journal

    days = args.days
    if days is None:
        policy_path = args.policy or Path(os.environ.get("MASKER_POLICY") or default_policy_path())
        days = load_policy(policy_path).audit.retention_days
    if days < 1:
        print("error: --days must be at least 1", file=sys.stderr)
        return 2
    data_dir = _data_dir(args)
    try:
        journal = Journal(data_dir / "journal", audit_key_from_env(), signing_key_from_env(),
                          checkpoint_dir=data_dir / "checkpoints")
    except KeyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        removed = journal.prune(days)
    finally:
        journal.close()
    print(f"pruned {removed} journal day file(s) older than {days} days")
    return 0
