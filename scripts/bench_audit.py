#!/usr/bin/env python3
"""Audit journal benchmark; writes machine-readable JSON.

Measures on this machine (in a temporary directory under --dir):
- durable events/s with one durable append (write + fdatasync) per event (one thread, one event per append);
- durable events/s with group commit (N threads, one event per append, each
  caller waiting for the sync of its batch);
- seconds to build the signed JSON + PDF report of one session of
  --report-events events;
- seconds to verify a journal of --verify-events events (HMAC chain + Merkle root).

Usage: python scripts/bench_audit.py [--out FILE] [--dir D] [--per-event N]
       [--threads T] [--per-thread M] [--report-events N] [--verify-events N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from nacl.signing import SigningKey

from masker.audit.events import Event
from masker.audit.journal import Journal
from masker.audit.report import build_report
from masker.audit.verify import verify_journal

KEY = os.urandom(32)
SK = SigningKey.generate()


def event(i: int, session: str) -> Event:
    return Event(
        kind="detection" if i % 3 else "redaction_applied", agent="bench", session=session, detector="regex",
        entity_kind=("NAME", "PHONE", "DOB", "SSN", "EMAIL")[i % 5], span=(i % 500, i % 500 + 9),
        token="MSKV1.PHONE.K_HEALTHCARE.ABCDEFGHIJKLMNOPQRSTUVWXYZ", policy="healthcare-default",
        policy_hash="ab" * 32, detail={"confidence": 0.91, "field": "messages[3].content"},
    )


def per_event(root: Path, n: int) -> dict[str, float]:
    j = Journal(root / "per-event", KEY, SK, checkpoint_dir=root / "cp1")
    t = time.perf_counter()
    for i in range(n):
        j.append([event(i, "s")])
    dt = time.perf_counter() - t
    j.close()
    return {"events": n, "seconds": round(dt, 3), "events_per_s": round(n / dt, 1)}


def group_commit(root: Path, threads: int, per_thread: int) -> dict[str, float]:
    j = Journal(root / "group", KEY, SK, checkpoint_dir=root / "cp2")
    start = threading.Barrier(threads + 1)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            j.append([event(i, f"t{t}")])

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in pool:
        th.join()
    dt = time.perf_counter() - t0
    j.close()
    n = threads * per_thread
    return {"threads": threads, "events": n, "seconds": round(dt, 3), "events_per_s": round(n / dt, 1)}


def fill(directory: Path, n: int, session: str, batch: int = 1000) -> None:
    with Journal(directory, KEY, SK, checkpoint_dir=directory.parent / (directory.name + "-cp")) as j:
        for start in range(0, n, batch):
            j.append([event(i, session) for i in range(start, min(n, start + batch))])


def report(root: Path, n: int) -> dict[str, float]:
    jdir = root / "report-journal"
    fill(jdir, n, "bench-session")
    t = time.perf_counter()
    build_report(jdir, KEY, "bench-session", SK, coverage={}, policy=None, out_dir=root / "reports",
                 created=datetime(2025, 1, 1, tzinfo=timezone.utc))
    return {"session_events": n, "seconds": round(time.perf_counter() - t, 3)}


def verification(root: Path, n: int) -> dict[str, float]:
    jdir = root / "verify-journal"
    fill(jdir, n, "s")
    t = time.perf_counter()
    result = verify_journal(jdir, KEY)
    dt = time.perf_counter() - t
    assert result.ok and result.event_count == n, result.message
    return {"events": n, "seconds": round(dt, 3), "events_per_s": round(n / dt, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--dir", type=Path, default=None, help="where to write journals (default: system temp)")
    ap.add_argument("--per-event", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--per-thread", type=int, default=250)
    ap.add_argument("--report-events", type=int, default=10_000)
    ap.add_argument("--verify-events", type=int, default=100_000)
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="masker-bench-audit-", dir=args.dir))
    try:
        results = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "dir": str(root)},
            "durable_per_event": per_event(root, args.per_event),
            "durable_group_commit": group_commit(root, args.threads, args.per_thread),
            "report_generation": report(root, args.report_events),
            "verification": verification(root, args.verify_events),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
