"""``masker`` command line: one entry, subcommands registered by each part.

Commands that only read text (detect) need no keys; commands that mint or
restore tokens (mask, rehydrate, run) open the full runtime, journal included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from masker import __version__, logs
from masker.policy.load import PolicyError

if TYPE_CHECKING:
    from masker.policy.model import Policy


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = started
    try:
        # exported: worker processes (masker.engine_pool) configure the same format
        os.environ[logs.FORMAT_ENV] = logs.configure(getattr(args, "log_format", None))
    except ValueError as exc:  # a bad MASKER_LOG_FORMAT
        print(f"masker: error: {exc}", file=sys.stderr)
        return 2
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        _load_dev_keys(args)
        if getattr(args, "vault_command", None) and not getattr(args, "dry_run", False):
            rc = _run_journaled(args)
        else:
            rc = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except PolicyError as exc:  # each issue on its own line: file:line: code: path: message
        for issue in exc.issues:
            print(f"masker: error: {issue.format(exc.source)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a clear one-line error, never a traceback with data in it
        print(f"masker: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        rc = 1
    if rc and (hint := key_hint(needed_keys(args), _data_dir(args))):
        print(hint, file=sys.stderr)
    return rc


def _closed_pipe() -> int:
    """The reader of stdout went away (``masker detect ... | head``): stop quietly, like any Unix tool.

    stdout is pointed at /dev/null so that the interpreter's final flush
    cannot raise again; the exit status is the shell's for SIGPIPE (128 + 13).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def _data_dir(args: argparse.Namespace) -> Path:
    from masker.runtime import default_data_dir

    return Path(getattr(args, "data_dir", None) or default_data_dir())


def needed_keys(args: argparse.Namespace) -> tuple[str, ...]:
    """The key variables the audit/report command in ``args`` reads."""
    from masker.audit.keys import AUDIT_KEY_ENV, SIGNING_KEY_ENV

    command = getattr(args, "audit_command", None)
    if command == "verify":
        return (AUDIT_KEY_ENV,)
    if command == "prune":
        return (AUDIT_KEY_ENV, SIGNING_KEY_ENV)
    words = getattr(args, "words", None)
    if words is None:  # not ``masker report``
        return ()
    if words[:1] == ["verify"] and getattr(args, "session", None) is None:
        return (AUDIT_KEY_ENV,) if getattr(args, "journal", None) else ()
    return (AUDIT_KEY_ENV, SIGNING_KEY_ENV)


def key_hint(names: tuple[str, ...] | list[str], data_dir: Path, env: Mapping[str, str] = os.environ) -> str | None:
    """Where a missing audit key comes from (names variables and paths, never a value); None if none is missing."""
    from masker.runtime import DEV_KEYS_FILE, is_production

    missing = [name for name in names if not env.get(name)]
    if not missing:
        return None
    what = " and ".join(missing)
    if is_production(env):
        return (f"hint: {what} must be set in this environment to the value the sidecar runs with "
                "(MASKER_ENV=production: no dev keys are read)")
    dev = Path(data_dir) / DEV_KEYS_FILE
    return (f"hint: set {what} in this environment, or give --data-dir DIR (or MASKER_DATA_DIR) of the sidecar "
            f"that wrote the journal: outside production its dev keys are read from DIR/{DEV_KEYS_FILE} "
            f"({'present but without ' + what if dev.exists() else 'there is none'} at {dev})")


def _load_dev_keys(args: argparse.Namespace) -> None:
    """Outside production, keys missing from the environment come from <data-dir>/dev-keys.env."""
    from masker.runtime import DEV_KEYS_FILE, default_data_dir, is_production, read_env_file

    data_dir = getattr(args, "data_dir", None) or default_data_dir()
    path = Path(data_dir) / DEV_KEYS_FILE
    if is_production(os.environ) or not path.exists():
        return
    for name, value in read_env_file(path).items():
        os.environ.setdefault(name, value)


def _run_journaled(args: argparse.Namespace) -> int:
    """Run a vault command with the data dir's journal as its event sink.

    Erasure never waits on keys: without MASKER_AUDIT_KEY the rows are still
    erased, but the command says the event was not journaled and exits 1.
    """
    from masker.audit.journal import Journal
    from masker.audit.keys import audit_key_from_env, signing_key_from_env
    from masker.runtime import default_data_dir

    data_dir = Path(args.data_dir or default_data_dir())
    try:
        audit_key = audit_key_from_env(os.environ)
    except Exception as exc:
        rc = args.func(args)
        if not getattr(args, "erased", True):
            return rc  # nothing was erased (declined, or nothing matched): nothing to journal
        print(f"masker: the erasure was not journaled: {exc}", file=sys.stderr)
        if hint := key_hint(("MASKER_AUDIT_KEY",), data_dir):
            print(hint, file=sys.stderr)
        return rc or 1
    try:
        signing_key = signing_key_from_env(os.environ)
    except Exception:
        signing_key = None
    journal = Journal(data_dir / "journal", audit_key, signing_key, checkpoint_dir=data_dir / "checkpoints")
    args.sink = journal
    try:
        return args.func(args)
    finally:
        journal.close()


def build_parser() -> argparse.ArgumentParser:
    from masker import agent_cli
    from masker.audit import cli as audit_cli
    from masker.policy import cli as policy_cli
    from masker.proxy import cli as proxy_cli
    from masker.tokens import cli as tokens_cli

    parser = argparse.ArgumentParser(prog="masker", description="PHI/PII masking sidecar for LLM traffic")
    parser.add_argument("--version", action="version", version=f"masker {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    proxy_cli.add_commands(sub)
    _add_text_commands(sub)
    policy_cli.add_commands(sub)
    agent_cli.add_commands(sub)
    tokens_cli.add_commands(sub)
    audit_cli.add_commands(sub)
    return parser


def _add_text_commands(sub: argparse._SubParsersAction) -> None:
    detect = sub.add_parser("detect", help="print detected spans for each input line (JSON lines)")
    _input_args(detect)
    detect.add_argument(
        "--json",
        action="store_true",
        help="require every line to be a JSON object with a 'text' field (JSONL lines are recognised anyway)",
    )
    detect.add_argument("--show-values", action="store_true", help="include the detected values (PHI!)")
    detect.add_argument("--no-ner", action="store_true", help="regex and spoken passes only")
    detect.add_argument("--explain", action="store_true",
                        help="say for each span which recognizer found it, the cue that fired and the validator "
                             "that passed (no values)")
    detect.add_argument("--recognizers", action="store_true",
                        help="list every recognizer (id, pass, kinds, detectors) and what the policy says of it; "
                             "reads no input")
    detect.set_defaults(func=cmd_detect)

    mask = sub.add_parser("mask", help="print each input line with PHI replaced per the policy")
    _input_args(mask)
    _scope_args(mask)
    mask.set_defaults(func=cmd_mask)

    rehydrate = sub.add_parser("rehydrate", help="print each input line with tokens of the scope restored")
    _input_args(rehydrate)
    _scope_args(rehydrate)
    rehydrate.set_defaults(func=cmd_rehydrate)

    selfcheck = sub.add_parser("selfcheck", help="open the runtime, mask and rehydrate a sample, verify the journal")
    selfcheck.add_argument("--policy", type=Path)
    selfcheck.add_argument("--data-dir", type=Path)
    selfcheck.set_defaults(func=cmd_selfcheck)


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", default="-", help="file to read, or - for standard input")
    p.add_argument("--policy", type=Path, help="mask policy (default: configs/mask_policy.yaml)")
    p.add_argument("--data-dir", type=Path, help="data dir (default: $MASKER_DATA_DIR or ./.data)")


def _scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent", default="cli")
    p.add_argument("--session", default="cli")


def _lines(path: str) -> Iterator[str]:
    stream: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115 - closed by the with below
    with stream if path != "-" else contextlib.nullcontext(stream):
        for line in stream:
            yield line.rstrip("\n")


def _open(args: argparse.Namespace):
    from masker.runtime import default_data_dir, open_runtime

    return open_runtime(args.policy, args.data_dir or default_data_dir(), os.environ)


def cmd_detect(args: argparse.Namespace) -> int:
    from masker.detect.cache import DetectionCache
    from masker.detect.ner import NerPass, default_model_dir
    from masker.detect.pipeline import Detector
    from masker.policy.load import default_policy_path, load_policy

    path = args.policy or default_policy_path()
    if not Path(path).is_file():
        print(f"masker: error: policy file not found: {path}", file=sys.stderr)
        return 1
    policy = load_policy(path)  # detection needs no keys
    if args.recognizers:
        return _print_recognizers(policy)
    model_dir = None if args.no_ner else default_model_dir()
    ner = NerPass(model_dir) if model_dir is not None and "ner" in policy.passes else None
    detector = Detector(policy, ner=ner, cache=DetectionCache())
    for n, line in enumerate(_lines(args.input), 1):
        text = _line_text(line)
        if text is None:
            if args.json:
                print(f"masker: error: line {n}: not a JSON object with a 'text' string", file=sys.stderr)
                return 1
            text = line
        spans = detector.detect(text)
        rows = []
        for s in spans:
            row = s.to_json()
            if args.explain:
                row["why"] = s.why.to_json() if s.why is not None else None
            if args.show_values:
                row["value"] = text[s.start : s.end]
            rows.append(row)
        print(json.dumps({"spans": rows}))
    return 0


def _print_recognizers(policy: Policy) -> int:
    """One JSON line per recognizer: the registry entry and the policy's switch for it."""
    from masker.detect.registry import recognizers

    for r in recognizers():
        row = r.to_json()
        switch = policy.recognizers.get(r.id)
        row["enabled"] = switch is None or switch.enabled
        row["confidence_threshold"] = switch.confidence_threshold if switch is not None else None
        if r.pass_name == "ner" and "ner" not in policy.passes:
            row["enabled"] = False
        print(json.dumps(row))
    return 0


def _line_text(line: str) -> str | None:
    """The ``text`` field of a JSONL line, or None when the line is not such an object."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    text = obj.get("text") if isinstance(obj, dict) else None
    return text if isinstance(text, str) else None


def cmd_mask(args: argparse.Namespace) -> int:
    from masker.engine import TextField
    from masker.scope import Scope

    runtime = _open(args)
    scope = Scope(args.agent, args.session)
    try:
        for line in _lines(args.input):
            print(runtime.engine.mask_texts([TextField(line, None, "line")], scope)[0])
    finally:
        runtime.close()
    return 0


def cmd_rehydrate(args: argparse.Namespace) -> int:
    from masker.scope import Scope

    runtime = _open(args)
    scope = Scope(args.agent, args.session)
    try:
        for line in _lines(args.input):
            print(runtime.engine.rehydrate(line, scope))
    finally:
        runtime.close()
    return 0


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from masker.audit.verify import verify_journal
    from masker.engine import TextField
    from masker.scope import Scope

    runtime = _open(args)
    sample = "Patient Maria Lopez, DOB 04/12/1961, call 415-555-0142, SSN 123-45-6789."
    scope = Scope("selfcheck", "selfcheck")
    try:
        masked = runtime.engine.mask_texts([TextField(sample, "user", "sample")], scope)[0]
        restored = runtime.engine.rehydrate(masked, scope)
    finally:
        runtime.close()
    result = verify_journal(runtime.data_dir / "journal", runtime.audit_key)
    ok = restored == sample and masked != sample and "123-45-6789" not in masked and result.ok
    print(f"policy   {runtime.policy.name} ({runtime.policy.hash[:12]})")
    print(f"ner      {runtime.ner.provider if runtime.ner else 'off'}")
    print(f"masked   {masked}")
    print(f"journal  {result.message} ({result.event_count} events)")
    print("selfcheck ok" if ok else "selfcheck FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
