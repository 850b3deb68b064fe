"""Per-session compliance reports: "Masker Audit Schema v1" JSON, signed, plus a PDF.

The JSON file holds exactly the RFC 8785 canonical bytes that are signed
(Ed25519); the signature sits next to it (``<name>.json.sig``, 64 raw bytes)
with the public key (``<name>.pub.pem``), so an auditor can check it with
``openssl pkeyutl -verify -pubin -rawin`` and no Python. The PDF shows the
same ``merkle_root_hex`` and carries the JSON and signature as attachments.
Reports read only the journal, which is verified first.

What the report says about masking is derived from the policies and events
it covers (``masker.audit.statements``); a report signed with a DEV-ONLY key
says so in the signed JSON (``signing_key_dev_only``) and on the PDF's first
page, and a verifier repeats it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from masker.tokens.scheme import TOKEN_MARK

from . import checkpoint as cpmod
from .events import JOURNAL_TRUNCATED, RESIDUAL_SCAN
from .keys import KeyPin, fingerprint, public_key_pem
from .merkle import CompactRange, leaf_hash
from .progress import SILENT, Progress
from .statements import CARD, masking_statement, pci_section, policy_handling
from .verify import (
    ChainBroken,
    ChainState,
    Record,
    VerifyResult,
    initial_state,
    journal_files,
    scan,
    shared_lock,
)

SCHEMA = "masker-audit-v1"
DEV_ONLY_MARK = "DEV-ONLY"
SIG_SUFFIX = ".sig"
PUB_SUFFIX = ".pub.pem"
MERGE_ORDER = ("ts", "replica", "seq")  # how a report over several replicas' journals orders its leaves

DEV_ONLY_STATEMENT = (
    "DEV-ONLY SIGNING KEY: this report was signed with a development key that Masker generated into "
    "dev-keys.env outside production. Its signature proves integrity only; it is not evidence for an audit."
)
TRUNCATION_STATEMENT = (
    "An operator accepted that the journal lost events (masker audit accept-truncation): the journal was "
    "found shorter than a signed checkpoint. The events in the lost seq range are gone; this session began "
    "before the loss, so some of its events may be among them."
)
RETENTION_STATEMENT = (
    "Journal day files older than retention_days are deleted as whole files; a signed anchor "
    "checkpoint at each cut keeps the remaining chain and its Merkle root verifiable."
)


class ReportError(Exception):
    """No report can be produced (the journal does not verify, or the session has no events)."""


def build_report(
    directory: Path | Sequence[Path],
    audit_key: bytes,
    session: str,
    signing_key: SigningKey,
    *,
    coverage: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    policy: Any | None,
    out_dir: Path,
    created: datetime | None = None,
    dev_signing_key: bool = False,
    evaluation: Mapping[str, Any] | None = None,
    progress: Progress = SILENT,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.json`` (+ ``.sig``, ``.pub.pem``) and ``<name>.pdf``.

    ``coverage`` is the Safe Harbor matrix at generation time
    (``masker.policy.coverage.coverage_matrix``, with ``with_measured_recall``),
    or a callable returning it; ``evaluation`` the evaluation record's summary
    (``masker.policy.recall.evaluation_summary``). ``policy`` (a
    ``masker.policy.model.Policy``) supplies retention settings and the rules
    of the events made under its hash. ``dev_signing_key``: the signing key
    is a DEV-ONLY one (the caller knows where it came from). Same journal,
    session, key and ``created`` give byte-identical files.

    ``directory``: one journal directory, or several (one per replica, each
    its own chain): each is verified on its own and the session's events of
    all of them are merged (``merge_order``) under one Merkle root; the report
    then names every replica and its chain head (``replicas``).
    """
    created = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    dirs = [Path(directory)] if isinstance(directory, (str, Path)) else [Path(d) for d in directory]
    if not dirs:
        raise ReportError("no journal given")
    chains = [_session_events(d, audit_key, session, signing_key.verify_key, progress=progress) for d in dirs]
    replicas: list[dict[str, Any]] | None = None
    if len(chains) == 1:
        events, context, journal, _ = chains[0]
    else:
        events, context, replicas = _merge_chains(dirs, chains)
        journal = None
    if not events:
        raise ReportError("no journal events for this session")
    progress.stage("computing coverage")
    matrix = coverage() if callable(coverage) else coverage
    doc = report_document(
        events, journal, session, signing_key, coverage=matrix, policy=policy, created=created, context=context,
        dev_signing_key=dev_signing_key, evaluation=evaluation, replicas=replicas,
    )
    progress.stage("signing")
    data = rfc8785.dumps(doc)
    signature = signing_key.sign(data).signature

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"masker-report-{_safe_name(session)}-{created.strftime('%Y%m%dT%H%M%SZ')}"
    json_path = out_dir / f"{stem}.json"
    cpmod.write_atomic(json_path, data)
    cpmod.write_atomic(out_dir / f"{stem}.json{SIG_SUFFIX}", signature)
    cpmod.write_atomic(out_dir / f"{stem}{PUB_SUFFIX}", public_key_pem(signing_key.verify_key).encode("ascii"))

    from .pdf import render_pdf  # fpdf2 is only needed here

    progress.stage("rendering PDF")
    pdf_path = out_dir / f"{stem}.pdf"
    cpmod.write_atomic(pdf_path, render_pdf(doc, data, signature, json_name=json_path.name, created=created))
    return json_path, pdf_path


def _safe_name(session: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", session)[:48]
    if cleaned != session:
        cleaned += "-" + hashlib.sha256(session.encode("utf-8")).hexdigest()[:8]
    return cleaned or "session"


def _session_events(
    directory: Path, audit_key: bytes, session: str, signer: VerifyKey | None = None, *, progress: Progress = SILENT
) -> tuple[list[Record], list[Record], dict[str, Any], str]:
    """The session's records, the session-less ``policy_loaded`` records in force
    during it, the journal's state and its replica id (of its newest event; ""
    for a journal older than replica ids), after verifying the whole journal
    (its chain, and its signed key pins and accepted truncations)."""
    from .integrity import History, JournalIntegrityError

    found: list[Record] = []
    loaded: list[Record] = []  # process-wide policy_loaded events (no session)
    history = History(set())
    replica = [""]
    counted = _counter(directory, progress, "verifying journal")

    def keep(rec: Record, _st: ChainState) -> None:
        counted()
        replica[0] = str(rec.body.get("replica") or "")
        if rec.body.get("session") == session:
            found.append(rec)
        elif rec.body.get("kind") == "policy_loaded" and not rec.body.get("session"):
            loaded.append(rec)

    with shared_lock(directory):
        try:
            state = initial_state(directory)
            scan(directory, audit_key, state, keep, before=history.before)
        except (ChainBroken, JournalIntegrityError) as exc:
            raise ReportError(f"journal does not verify: {exc}") from None
        finally:
            progress.end()
    if signer is not None and history.keys and bytes(signer) not in history.keys:
        raise ReportError(f"the journal is pinned to another signing key ({fingerprint(history.keys[-1])})")
    first_seq = found[0].seq if found else None
    truncations = [
        {
            "seq": t.seq,
            "epoch": t.epoch,
            "lost_from_seq": t.lost_from,
            "lost_to_seq": t.lost_to,
            "lost_events_at_least": int(t.statement["lost"]["events_at_least"]),
            "checkpoint_file": str(t.statement.get("checkpoint", {}).get("file", "")),
            "checkpoint_size": t.statement.get("checkpoint", {}).get("size"),
            "checkpoint_merkle_root": t.statement.get("checkpoint", {}).get("merkle_root"),
            "accepted_at": str(t.statement.get("accepted_at", "")),
            "statement": TRUNCATION_STATEMENT,
        }
        for t in history.truncations
        if first_seq is not None and first_seq < t.seq
    ]
    journal = {
        "size": state.size,
        "first_retained_seq": state.first_seq,
        "last_hash": state.last_hash,
        "merkle_root_hex": state.tree.root().hex(),
        "chain": "chain ok",
        "epoch": len(history.truncations),
        "truncations": truncations,
    }
    context: list[Record] = []
    if found:  # the policy in force when the session began, and any loaded during it
        first, last = found[0].seq, found[-1].seq
        context = [r for r in loaded if r.seq < first][-1:] + [r for r in loaded if first < r.seq < last]
    return found, context, journal, replica[0]


def merge_order(records: Iterable[Record]) -> list[Record]:
    """Records of several replicas' chains, ordered by (event ``ts``, ``replica``, ``seq``).

    Total for events that carry their chain's replica id when the chains'
    ids are distinct (``_merge_chains`` checks both), and independent of the
    order the chains are given in.
    """
    return sorted(records, key=lambda r: (str(r.body["ts"]), str(r.body.get("replica") or ""), r.seq))


def _chain_problem(where: str, replica: str, records: Sequence[Record]) -> str | None:
    """Why a chain's session events cannot be merged: no replica id, or an event naming another."""
    if not replica:
        return f"journal {where} has no replica id (no event since replica ids exist)"
    for rec in records:
        if rec.body.get("replica") != replica:
            return f"journal {where}: event seq {rec.seq} does not carry the chain's replica id"
    return None


def _merge_chains(
    dirs: Sequence[Path], chains: Sequence[tuple[list[Record], list[Record], dict[str, Any], str]]
) -> tuple[list[Record], list[Record], list[dict[str, Any]]]:
    """Merged session records, merged context and the ``replicas`` entries (sorted by replica id)."""
    for d, (found, _, _, replica) in zip(dirs, chains):
        problem = _chain_problem(str(d), replica, found)
        if problem:
            raise ReportError(problem)
    ids = [replica for *_, replica in chains]
    if len(set(ids)) != len(ids):
        raise ReportError("two of the journals have the same replica id (the same chain given twice?)")
    records = merge_order(r for found, *_ in chains for r in found)
    context = merge_order(r for _, ctx, *_ in chains for r in ctx)
    entries: list[dict[str, Any]] = [{"replica": replica, "journal": journal, "events": _seq_range(found)}
                                     for found, _, journal, replica in chains]
    replicas = sorted(entries, key=lambda r: str(r["replica"]))
    return records, context, replicas


def _seq_range(records: Sequence[Record]) -> dict[str, Any]:
    return {"count": len(records), "first_seq": records[0].seq if records else None,
            "last_seq": records[-1].seq if records else None}


def _counter(directory: Path, progress: Progress, label: str) -> Callable[[], None]:
    """A per-record callback that shows ``label: n/total events``; total = journal lines (counted only when shown)."""
    if not progress.enabled:
        return lambda: None
    total = 0
    for path in journal_files(directory):
        with open(path, "rb") as fh:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        progress.count(label, done, max(total, done))

    return step


def session_merkle_root(records: list[Record]) -> str:
    """RFC 6962 root over the session's canonical event bodies, in the given order
    (``seq`` for one journal, ``merge_order`` for several)."""
    tree = CompactRange()
    for rec in records:
        tree.append(leaf_hash(rec.body_bytes))
    return tree.root().hex()


def report_document(
    records: list[Record],
    journal: dict[str, Any] | None,
    session: str,
    signing_key: SigningKey,
    *,
    coverage: Mapping[str, Any],
    policy: Any | None,
    created: datetime,
    context: Sequence[Record] = (),
    dev_signing_key: bool = False,
    evaluation: Mapping[str, Any] | None = None,
    replicas: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The unsigned "Masker Audit Schema v1" document (see docs/audit-schema-v1.md).

    ``context``: process-wide ``policy_loaded`` records in force during the
    session; they inform policy and tokenization facts but are not counted
    and are not leaves of the session's Merkle tree. With ``replicas`` (a
    report over several journals) ``records`` and ``context`` are in
    ``merge_order``, ``journal`` is None and each replica's entry holds its
    journal facts and seq range.
    """
    bodies = [r.body for r in records]
    by_kind = Counter(b["kind"] for b in bodies)
    by_entity: dict[str, Counter[str]] = defaultdict(Counter)
    for b in bodies:
        if b.get("entity_kind"):
            by_entity[b["entity_kind"]][b["kind"]] += 1

    if replicas is None:
        in_order = [r.body for r in sorted([*context, *records], key=lambda r: r.seq)]
    else:
        in_order = [r.body for r in merge_order([*context, *records])]
    seen = [(b.get("policy") or "", b["policy_hash"]) for b in in_order if b.get("policy_hash")]
    policies = sorted(set(seen))
    current = {"name": seen[-1][0], "hash": seen[-1][1]} if seen else {"name": "", "hash": ""}
    if policy is not None:
        current = {"name": policy.name, "hash": policy.hash}

    residual = [b for b in bodies if b["kind"] == RESIDUAL_SCAN]
    dirty = [b for b in residual if not b.get("detail", {}).get("clean", False)]
    residual_doc = {
        "scans": len(residual),
        "clean": len(residual) - len(dirty),
        "with_findings": len(dirty),
        "findings_total": sum(int(b.get("detail", {}).get("findings", 0) or 0) for b in residual),
        "status": "not_run" if not residual else ("clean" if not dirty else "findings"),
    }

    hosts: dict[str, dict[str, Any]] = {}
    for b in bodies:
        if b["kind"] == "request_forwarded":
            d = b.get("detail", {})
            h = hosts.setdefault(str(d.get("host", "")), {"requests": 0, "paths": set()})
            h["requests"] += 1
            if d.get("path"):
                h["paths"].add(str(d["path"]))
    upstream = [{"host": k, "requests": v["requests"], "paths": sorted(v["paths"])} for k, v in sorted(hosts.items())]

    schemes, kids = set(), set()
    for b in in_order:
        d = b.get("detail", {})
        if b["kind"] == "policy_loaded":
            if d.get("tokenization"):
                schemes.add(str(d["tokenization"]))
            if d.get("kid"):
                kids.add(str(d["kid"]))
        token = b.get("token") or ""
        parts = token.split(".")
        if len(parts) == 4 and parts[0].startswith(TOKEN_MARK):
            kids.add(parts[2])
    if policy is not None:
        schemes.add(policy.tokenization)

    times = sorted(b["ts"] for b in bodies)
    agents = sorted({b.get("agent") or "" for b in bodies})
    retention_days = policy.audit.retention_days if policy is not None else None
    statuses = Counter(str(v.get("status", "")) for v in coverage.values())
    handling = policy_handling(in_order, policy)
    pci = pci_section(handling, by_entity.get(CARD, Counter()).get("detection", 0))
    vk = signing_key.verify_key
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "signing_key_dev_only": dev_signing_key,
        "generated_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "session": session,
        "agent": agents[0] if len(agents) == 1 else None,
        "agents": agents,
        "time_range": {"first": times[0], "last": times[-1]},
        "policy": {"name": current["name"], "hash": current["hash"], "seen": [{"name": n, "hash": h} for n, h in policies]},
        "events": {
            "count": len(records),
            "first_seq": records[0].seq if replicas is None else None,  # seq is per chain
            "last_seq": records[-1].seq if replicas is None else None,
            "by_kind": dict(sorted(by_kind.items())),
            "by_entity": {k: dict(sorted(v.items())) for k, v in sorted(by_entity.items())},
        },
        "merkle_root_hex": session_merkle_root(records),
        "journal": journal,
        "coverage": {
            "computed_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "policy": {"name": policy.name, "hash": policy.hash} if policy is not None else None,
            "summary": dict(sorted(statuses.items())),
            "categories": {k: coverage[k] for k in sorted(coverage)},
            "evaluation": dict(evaluation) if evaluation is not None else None,
        },
        "handling": handling,
        "residual_scan": residual_doc,
        "rehydration": {"successes": by_kind.get("rehydration", 0), "failures": by_kind.get("rehydration_failed", 0)},
        "requests": {"forwarded": by_kind.get("request_forwarded", 0), "blocked": by_kind.get("request_blocked", 0)},
        "upstream": upstream,
        "tokenization": {
            "schemes": sorted(schemes),
            "kids": sorted(kids),
            "key_rotations": by_kind.get("key_rotated", 0),
            "vault_drops": by_kind.get("vault_dropped", 0),
        },
        "retention": {
            "retention_days": retention_days,
            "payloads_stored": False,  # Masker never keeps request or response payloads
            "payloads_in_clear": False,
            "journal_first_retained_seq": journal["first_retained_seq"] if journal is not None else None,
            "statement": RETENTION_STATEMENT,
        },
        "statement": masking_statement(handling),
        "signer": {
            "alg": "Ed25519",
            "public_key_b64": base64.b64encode(bytes(vk)).decode("ascii"),
            "fingerprint": fingerprint(vk),
        },
    }
    if replicas is not None:
        doc["replicas"] = replicas
        doc["merge_order"] = list(MERGE_ORDER)
    if dev_signing_key:
        doc["dev_only_statement"] = DEV_ONLY_STATEMENT
    if pci is not None:
        doc["pci"] = pci
    return doc


# -- verification -------------------------------------------------------------


def verify_report(
    path: Path,
    *,
    pubkey: VerifyKey | KeyPin | None = None,
    journal_dir: Path | Sequence[Path] | None = None,
    audit_key: bytes | None = None,
    progress: Progress = SILENT,
) -> VerifyResult:
    """Check a report (``.json`` with its ``.json.sig``, or ``.pdf``); the message names the first failure.

    Checks: canonical JSON, Ed25519 signature (with ``pubkey``, else the key
    the report names, which proves integrity only), for a PDF that its
    attachment is the signed JSON it displays (and equals a sibling ``.json``),
    and with ``journal_dir`` + ``audit_key`` that the journal still verifies
    and yields the same Merkle roots (a report over several replicas needs
    every replica's journal, and only those: ``journal_dir`` is then a
    list). A report signed with a DEV-ONLY key says so in the message (and
    its PDF must show it).
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".pdf":
            data, signature, text = _read_pdf(path)
        else:
            data = path.read_bytes()
            signature = path.with_name(path.name + SIG_SUFFIX).read_bytes()
            text = None
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read report: {exc}")
    try:
        doc = json.loads(data)
        canonical_ok = rfc8785.dumps(doc) == data
    except (ValueError, TypeError, rfc8785.CanonicalizationError):
        return _fail("report JSON does not parse")
    if not canonical_ok:
        return _fail("report JSON is not in canonical form (altered)")
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return _fail(f"not a {SCHEMA} report")
    try:
        named = VerifyKey(base64.b64decode(doc["signer"]["public_key_b64"]))
    except (KeyError, TypeError, ValueError):
        return _fail("report does not name its signing key")
    pin = KeyPin.of(pubkey)
    if pin is not None and not pin.accepts(named):
        return _fail(f"report is signed by another key ({fingerprint(named)}, expected {pin.describe()})")
    try:
        named.verify(data, signature)
    except (BadSignatureError, ValueError):
        return _fail("signature does not verify")
    dev = doc.get("signing_key_dev_only")
    if text is not None:
        compact = "".join(text.split())
        if doc.get("merkle_root_hex", "") not in compact:
            return _fail("PDF shows a different Merkle root than its embedded JSON")
        if dev is True and DEV_ONLY_MARK not in compact:
            return _fail("PDF does not show the DEV-ONLY marking of its embedded JSON")
        sibling = path.with_suffix(".json")
        if sibling.exists() and sibling.read_bytes() != data:
            return _fail(f"PDF's embedded JSON differs from {sibling.name}")
    count = int(doc.get("events", {}).get("count", 0))
    if journal_dir is not None and audit_key is not None:
        dirs = [Path(journal_dir)] if isinstance(journal_dir, (str, Path)) else [Path(d) for d in journal_dir]
        problem = _check_against_journal(doc, dirs, audit_key, progress)
        if problem:
            return _fail(problem, first_bad_seq=doc.get("events", {}).get("first_seq"))
    note = "" if pin is not None else " (checked with the key the report names; pin it with --pubkey)"
    journal_note = "" if journal_dir is not None and audit_key is not None else " (journal not checked)"
    if dev is False:
        dev_note = ""
    elif dev is True:
        dev_note = f" ({DEV_ONLY_MARK} signing key: integrity only, not evidence for an audit)"
    else:  # a report made before the field existed, or one that does not say
        dev_note = f" (the report does not say whether its signing key is {DEV_ONLY_MARK})"
    return VerifyResult(True, count, f"report ok{dev_note}{note}{journal_note}", None,
                        merkle_root=str(doc.get("merkle_root_hex")))


def _fail(message: str, first_bad_seq: int | None = None) -> VerifyResult:
    return VerifyResult(False, 0, message, first_bad_seq)


def _read_pdf(path: Path) -> tuple[bytes, bytes, str]:
    """The embedded JSON, its signature, and the page text."""
    try:
        from pypdf import PdfReader
    except ImportError:
        raise ValueError("verifying a PDF needs the pypdf package") from None
    try:
        reader = PdfReader(path)
        attachments = reader.attachments
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:  # pypdf raises many types on a damaged file
        raise ValueError(f"unreadable PDF ({type(exc).__name__})") from None
    jsons = [n for n in attachments if n.endswith(".json")]
    if len(jsons) != 1 or jsons[0] + SIG_SUFFIX not in attachments:
        raise ValueError("PDF does not carry exactly one signed JSON attachment and its signature")
    return attachments[jsons[0]][0], attachments[jsons[0] + SIG_SUFFIX][0], text


def _check_against_journal(
    doc: dict[str, Any], dirs: Sequence[Path], audit_key: bytes, progress: Progress = SILENT
) -> str | None:
    """Recompute the session and journal Merkle roots as of the report's journal size(s)."""
    try:
        session = doc["session"]
        if "replicas" not in doc:
            if len(dirs) != 1:
                return f"the report covers one journal; {len(dirs)} were given"
            problem, found = _check_chain(doc["journal"], int(doc["events"]["first_seq"]), session, dirs[0],
                                             audit_key, progress)
            if problem:
                return problem
            if session_merkle_root(found) != doc.get("merkle_root_hex"):
                return "session Merkle root differs from the journal's events for this session"
            return None
        expected = {str(r["replica"]): r for r in doc["replicas"]}
    except (KeyError, TypeError, ValueError):
        return "report lacks its journal facts"
    merged: list[Record] = []
    seen: set[str] = set()
    for d in dirs:
        found_replica = _replica_at(expected, d, audit_key)
        if isinstance(found_replica, tuple):
            return found_replica[0]
        entry = expected[found_replica]
        if found_replica in seen:
            return f"journal {d}: replica {found_replica} was given twice"
        seen.add(found_replica)
        first_seq = entry["events"]["first_seq"]
        problem, found = _check_chain(entry["journal"], int(first_seq) if first_seq is not None else 0, session,
                                         d, audit_key, progress)
        if problem:
            return f"replica {found_replica} ({d}): {problem}"
        problem = _chain_problem(str(d), found_replica, found)
        if problem:
            return problem
        merged += found
    missing = sorted(set(expected) - seen)
    if missing:
        return f"the report covers replicas {', '.join(sorted(expected))}; no journal given for {', '.join(missing)}"
    if session_merkle_root(merge_order(merged)) != doc.get("merkle_root_hex"):
        return "session Merkle root differs from the replicas' events for this session"
    return None


def _replica_at(expected: Mapping[str, Any], directory: Path, audit_key: bytes) -> str | tuple[str]:
    """The replica id a journal had at the size the report names for it (its event ``size - 1``),
    or a one-element tuple with the reason it matches no replica of the report."""
    heads = {(int(e["journal"]["size"]), r) for r, e in expected.items()}
    hits: list[str] = []

    def keep(rec: Record, st: ChainState) -> None:
        replica = str(rec.body.get("replica") or "")
        if (st.size, replica) in heads:
            hits.append(replica)

    with shared_lock(directory):
        try:
            scan(directory, audit_key, initial_state(directory), keep)
        except ChainBroken as exc:
            return (f"journal {directory} does not verify: {exc}",)
    if not hits:
        return (f"journal {directory} is none of the report's replicas ({', '.join(sorted(expected))}), "
                "or was cut short of the size the report names",)
    return hits[0]


def _check_chain(
    facts: Mapping[str, Any], first_seq: int, session: str, directory: Path, audit_key: bytes,
    progress: Progress = SILENT,
) -> tuple[str | None, list[Record]]:
    """(problem or None, the session's records of seq < ``facts["size"]``)."""
    size = int(facts["size"])
    found: list[Record] = []
    roots: dict[str, str] = {}
    cut_at: list[int] = []
    counted = _counter(directory, progress, "verifying journal")

    def keep(rec: Record, st: ChainState) -> None:
        counted()
        if rec.seq < size and rec.body.get("session") == session:
            found.append(rec)
        if rec.body.get("kind") == JOURNAL_TRUNCATED:
            cut_at.append(rec.seq)
        if st.size == size:
            roots["journal"] = st.tree.root().hex()

    with shared_lock(directory):
        try:
            state = initial_state(directory)
            if state.first_seq > first_seq:
                return (f"journal no longer holds this session's events (retention cut at seq {state.first_seq})",
                        found)
            scan(directory, audit_key, state, keep)
        except ChainBroken as exc:
            return f"journal does not verify: {exc}", found
        finally:
            progress.end()
    later_cuts = cut_at[int(facts.get("epoch", 0) or 0):]  # accepted after the report was made
    accepted = (f"; a truncation was accepted at seq {later_cuts[0]} (journal_truncated) after the report was made"
                if later_cuts else "")
    if state.size < size:
        return (f"journal has {state.size} events, fewer than the {size} the report was made from "
                f"(truncated or rolled back{accepted})"), found
    if roots.get("journal") != facts.get("merkle_root_hex"):
        return f"journal Merkle root differs from the report's (journal rewritten since{accepted})", found
    return None, found
