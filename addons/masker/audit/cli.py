"""``masker report SESSION``, ``masker report verify FILE``,
``masker audit verify|prune|accept-truncation|pubkey``.

Keys come from the environment (MASKER_AUDIT_KEY, MASKER_SIGNING_KEY).
Verifiers never trust a key found next to what they check: ``audit verify``
and ``report verify`` need a pinned public key (``--pubkey``,
``--fingerprint``, ``MASKER_SIGNING_PUBKEY`` or
``MASKER_SIGNING_KEY_FINGERPRINT``). Exit codes: 0 ok; 1 verification failed
(the first failure is printed); 2 bad usage, a missing key or pin, or
nothing to report or accept. On a terminal, ``report`` and ``report verify``
show their progress on stderr.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
from pathlib import Path

from nacl.signing import SigningKey

from . import checkpoint as cpmod
from .keys import (
    SIGNING_KEY_ENV,
    KeyConfigError,
    KeyPin,
    audit_key_from_env,
    decode_key,
    fingerprint,
    pin_from,
    public_key_pem,
    signing_key_from_env,
)
from .progress import Progress
from .verify import verify_journal
from .witness import WitnessConfigError, witness_dirs_from_env
from .witness import from_env as witnesses_from_env


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report",
        help="write a signed session report (JSON + PDF), or verify one",
        usage="masker report SESSION [--out DIR] [--data-dir D] [--journal DIR ...]\n"
        "       masker report verify FILE.json|FILE.pdf (--pubkey K | --fingerprint FP) [--journal DIR ...]",
    )
    report.add_argument("words", nargs="*", metavar="SESSION | verify FILE")
    report.add_argument("--session", help="report this session (for a session literally named 'verify')")
    report.add_argument("--out", type=Path, help="output directory (default: <data-dir>/reports)")
    _data_dir_arg(report)
    report.add_argument("--policy", type=Path, help="policy file (default: $MASKER_POLICY or the shipped one)")
    report.add_argument("--pubkey", help="verify: the pinned signer's public key (PEM file, base64 or hex); "
                        "or $MASKER_SIGNING_PUBKEY")
    report.add_argument("--fingerprint", help="verify: the pinned signer's key fingerprint (SHA256:<hex>); "
                        "or $MASKER_SIGNING_KEY_FINGERPRINT")
    report.add_argument("--journal", type=Path, action="append", metavar="DIR",
                        help="a replica's data dir or journal dir, repeatable: report over (or verify against) "
                             "these journals (default for a report: <data-dir>/journal)")
    report.set_defaults(func=cmd_report)

    audit = subparsers.add_parser("audit", help="audit journal tools")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser(
        "verify", help="verify the journal's HMAC chain against signed checkpoints (local and witness copies)")
    verify.add_argument("--journal", type=Path, help="journal directory (default: <data-dir>/journal)")
    verify.add_argument(
        "--checkpoint", type=Path,
        help="one trusted checkpoint, .json or C2SP .note (default: the newest of each epoch in "
             "<data-dir>/checkpoints and in every witness directory)")
    verify.add_argument("--witness-dir", type=Path, action="append", default=None, metavar="DIR",
                        help="a witness directory to compare with, repeatable (default: $MASKER_WITNESS_DIR)")
    verify.add_argument("--no-checkpoint", action="store_true", help="check the chain only")
    _pin_args(verify)
    _data_dir_arg(verify)
    verify.set_defaults(func=cmd_audit_verify)

    accept = commands.add_parser(
        "accept-truncation",
        help="accept that the journal lost events a signed checkpoint covers: journal a signed "
             "journal_truncated event and re-anchor the chain (the sidecar refuses to start until then)")
    accept.add_argument("--checkpoint", type=Path,
                        help="the checkpoint the journal falls short of (.json or .note; default: the newest)")
    accept.add_argument("--yes", action="store_true", help="confirm: the lost events are gone for good")
    accept.add_argument("--journal", type=Path, help="journal directory (default: <data-dir>/journal)")
    _data_dir_arg(accept)
    accept.set_defaults(func=cmd_audit_accept_truncation)

    pubkey = commands.add_parser(
        "pubkey", help="print the signing key's public half, fingerprint and C2SP note verifier key (for pinning)")
    pubkey.add_argument("--out", type=Path, help="also write the public key as PEM to this file")
    _data_dir_arg(pubkey)
    pubkey.set_defaults(func=cmd_audit_pubkey)

    prune = commands.add_parser(
        "prune", help="delete whole journal day files older than the retention period (anchored by a signed checkpoint)"
    )
    prune.add_argument("--days", type=int, help="retention in days (default: the policy's audit.retention_days)")
    prune.add_argument("--policy", type=Path, help="policy file (default: $MASKER_POLICY or the shipped one)")
    prune.add_argument("--dry-run", action="store_true", help="list the day files that would be deleted; delete nothing")
    prune.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation on a terminal")
    _data_dir_arg(prune)
    prune.set_defaults(func=cmd_audit_prune)


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data dir (default: $MASKER_DATA_DIR or ./.data)")


def _data_dir(args: argparse.Namespace) -> Path:
    return args.data_dir or Path(os.environ.get("MASKER_DATA_DIR", ".data"))


def _journal_dir(path: Path) -> Path:
    """A replica's journal directory: ``path/journal`` when ``path`` is a data dir, else ``path``."""
    return path / "journal" if (path / "journal").is_dir() else path


def _pin_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pubkey", help="the pinned signer's public key: PEM file, base64 or hex (or $MASKER_SIGNING_PUBKEY)")
    p.add_argument("--fingerprint",
                   help="the pinned signer's key fingerprint, SHA256:<hex> (or $MASKER_SIGNING_KEY_FINGERPRINT)")


def _pin(args: argparse.Namespace) -> KeyPin:
    """The operator's pin; KeyConfigError naming the options when there is none."""
    return pin_from(getattr(args, "pubkey", None), getattr(args, "fingerprint", None))


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
                print("usage: masker report verify FILE.json|FILE.pdf [--pubkey K] [--journal DIR ...]", file=sys.stderr)
                return 2
            return _report_verify(Path(words[1]), args)
        if len(words) != 1:
            print("usage: masker report SESSION [--out DIR] [--data-dir D] [--journal DIR ...]", file=sys.stderr)
            return 2
        return _report_build(words[0], args)
    except KeyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def signed_with_dev_key(signing_key: SigningKey, data_dir: Path) -> bool:
    """Whether ``signing_key`` is the DEV-ONLY key Masker generated into ``<data_dir>/dev-keys.env``.

    Compared by value, whatever ``MASKER_ENV`` says and wherever this process
    found the key (the environment or the file): a key that was written to
    that file is a dev key. A file that exists but cannot be read counts as
    holding it (fail closed: a report is never passed off as production).
    """
    from masker.runtime import DEV_KEYS_FILE, read_env_file

    path = Path(data_dir) / DEV_KEYS_FILE
    if not path.exists():
        return False
    try:
        stored = read_env_file(path).get(SIGNING_KEY_ENV)
        return stored is not None and hmac.compare_digest(decode_key(stored, SIGNING_KEY_ENV), bytes(signing_key))
    except (OSError, UnicodeDecodeError):
        return True
    except KeyConfigError:  # a malformed entry is no key of ours
        return False


def _report_build(session: str, args: argparse.Namespace) -> int:
    from masker.detect import ner, registry
    from masker.policy import recall
    from masker.policy.coverage import coverage_matrix, with_measured_recall
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
    model_dir = ner.default_model_dir()
    model = recall.model_id(model_dir) if model_dir is not None else None
    record = recall.load_record(model_dir)
    dev = signed_with_dev_key(signing_key, data_dir)
    progress = Progress(sys.stderr)
    journals = [_journal_dir(d) for d in args.journal] if args.journal else [data_dir / "journal"]
    try:
        json_path, pdf_path = build_report(
            journals,
            audit_key,
            session,
            signing_key,
            coverage=lambda: with_measured_recall(
                coverage_matrix(policy, registry.detector_kinds(model_dir)), record, model, policy.hash),
            policy=policy,
            out_dir=args.out or data_dir / "reports",
            dev_signing_key=dev,
            evaluation=recall.evaluation_summary(record, model, policy.hash),
            progress=progress,
        )
    except ReportError as exc:
        progress.end()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if dev:
        print("warning: signed with the DEV-ONLY signing key of this data dir's dev-keys.env; the report says so",
              file=sys.stderr)
    print(json_path)
    print(pdf_path)
    return 0


def _report_verify(path: Path, args: argparse.Namespace) -> int:
    from .report import verify_report

    journal = [_journal_dir(d) for d in args.journal] if args.journal else None
    audit_key = None
    if journal is not None:
        audit_key = audit_key_from_env()
    result = verify_report(path, pubkey=_pin(args), journal_dir=journal, audit_key=audit_key,
                           progress=Progress(sys.stderr))
    if not result.ok:
        print(f"FAILED: {result.message}", file=sys.stderr)
        return 1
    print(f"{result.message}: {result.event_count} events, merkle root {result.merkle_root}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    try:
        audit_key = audit_key_from_env()
        pin = _pin(args)
    except KeyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    journal = args.journal or data_dir / "journal"
    if not journal.is_dir():
        print(f"error: no journal directory at {journal}", file=sys.stderr)
        return 2
    checkpoint, dirs = None, []
    if not args.no_checkpoint:
        checkpoint = args.checkpoint
        witness_dirs = args.witness_dir if args.witness_dir is not None else witness_dirs_from_env()
        dirs = [data_dir / "checkpoints", *witness_dirs]
    result = verify_journal(journal, audit_key, checkpoint=checkpoint, verify_key=pin, checkpoint_dirs=dirs)
    if not result.ok:
        print(f"FAILED at seq {result.first_bad_seq}: {result.message}", file=sys.stderr)
        return 1
    if result.checked:
        names = sorted({Path(p).name for p in result.checked})
        against = f", checkpoint {', '.join(names)}"
    elif args.no_checkpoint:
        against = ", no checkpoint"
    else:
        against = ", no checkpoint found (a cut tail cannot be detected)"
    print(f"{result.message}: {result.event_count} events (size {result.size}{against}; pinned {pin.describe()})")
    for path in result.checked:
        print(f"checked {path}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"merkle root {result.merkle_root}")
    return 0


def cmd_audit_accept_truncation(args: argparse.Namespace) -> int:
    from .events import AuditUnavailable
    from .integrity import JournalIntegrityError
    from .journal import accept_truncation

    if not args.yes:
        print("error: accepting a truncation records the loss for good; re-run with --yes to confirm",
              file=sys.stderr)
        return 2
    data_dir = _data_dir(args)
    journal = args.journal or data_dir / "journal"
    try:
        audit_key, signing_key = audit_key_from_env(), signing_key_from_env()
        witnesses = witnesses_from_env()
    except (KeyConfigError, WitnessConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not journal.is_dir():
        print(f"error: no journal directory at {journal}", file=sys.stderr)
        return 2
    try:
        statement = accept_truncation(
            journal, audit_key, signing_key, checkpoint_dir=data_dir / "checkpoints", checkpoint=args.checkpoint,
            witnesses=witnesses, origin=os.environ.get("MASKER_AUDIT_ORIGIN") or None)
    except JournalIntegrityError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2 if type(exc) is JournalIntegrityError else 1
    except AuditUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lost, cp = statement["lost"], statement["checkpoint"]
    print(f"accepted: seq {lost['from_seq']}..{lost['to_seq']} lost (at least {lost['events_at_least']} events) "
          f"short of {cp['file']} (size {cp['size']}); journal_truncated journaled at seq "
          f"{statement['resumed']['size']}, epoch {statement['epoch']} starts")
    return 0


def cmd_audit_pubkey(args: argparse.Namespace) -> int:
    from . import note
    from .journal import default_origin
    from .verify import journal_files

    try:
        vk = signing_key_from_env().verify_key
    except KeyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    origin = _journal_origin(_data_dir(args) / "journal", journal_files) or os.environ.get("MASKER_AUDIT_ORIGIN") \
        or default_origin(vk)
    import base64

    print(f"fingerprint    {fingerprint(vk)}")
    print(f"public_key_b64 {base64.b64encode(bytes(vk)).decode('ascii')}")
    newest = cpmod.latest(_data_dir(args) / "checkpoints")
    epoch = cpmod.parse_name(newest.name)[1] if newest is not None else 0  # type: ignore[index]
    print(f"origin         {cpmod.epoch_origin(origin, epoch)}")
    print(f"note_verifier  {note.verifier_key(cpmod.epoch_origin(origin, epoch), vk)}")
    print(f"# pin it: MASKER_SIGNING_KEY_FINGERPRINT={fingerprint(vk)}")
    if args.out:
        cpmod.write_atomic(args.out, public_key_pem(vk).encode("ascii"))
        print(f"# PEM written to {args.out}")
    return 0


def _journal_origin(directory: Path, journal_files) -> str | None:
    """The origin a journal pinned in its journal_opened event (first lines only)."""
    import json

    for path in journal_files(directory):
        with open(path, "rb") as fh:
            for _, line in zip(range(1000), fh):
                try:
                    rec = json.loads(line)
                except ValueError:
                    return None
                if rec.get("kind") == "journal_opened":
                    return str(rec.get("detail", {}).get("statement", {}).get("origin") or "") or None
        return None
    return None


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
                          checkpoint_dir=data_dir / "checkpoints", witnesses=witnesses_from_env(),
                          origin=os.environ.get("MASKER_AUDIT_ORIGIN") or None)
    except (KeyConfigError, WitnessConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if journal.integrity_error is not None:
        journal.close()
        print(f"error: {type(journal.integrity_error).__name__}: {journal.integrity_error}", file=sys.stderr)
        return 1
    from masker.tokens.cli import confirm

    try:
        doomed = journal.prunable(days)
        if args.dry_run or not doomed:
            print(f"would prune {len(doomed)} journal day file(s) older than {days} days: "
                  f"{', '.join(p.name for p in doomed) or 'none'}" if args.dry_run else
                  f"nothing older than {days} days to prune")
            return 0
        if not confirm(f"delete {len(doomed)} journal day file(s) older than {days} days?", args):
            print("nothing was erased", file=sys.stderr)
            return 1
        removed = journal.prune(days)
    finally:
        journal.close()
    print(f"pruned {removed} journal day file(s) older than {days} days")
    return 0
