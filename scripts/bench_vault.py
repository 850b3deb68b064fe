#!/usr/bin/env python3
"""Vault benchmark, SQLite vs PostgreSQL; writes machine-readable JSON.

For each backend and each number of concurrent clients (default 1 and 8;
each client is its own process with its own vault, as replicas and worker
processes are), every run measures on this machine:
- mint ops/s: ``mint`` + ``put_many`` of one new value per call (one
  request's transaction), all clients at once;
- lookup ops/s: ``lookup`` (read + decrypt) of the tokens just stored.
ops/s is every client's calls over the wall time from a common start to
the last client done. Each figure is given as median, min and max over
--runs runs.

SQLite runs in a temporary file; PostgreSQL in a new schema of --database-url
(default $MASKER_TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/test),
dropped afterwards. Values are synthetic.

Usage: python scripts/bench_vault.py [--out FILE] [--runs R] [--ops N] [--clients 1,8]
       [--backends sqlite,postgresql] [--database-url URL]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import platform
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg

from masker.scope import Scope
from masker.tokens.keys import Keyring
from masker.tokens.vault import TokenVault, Vault, mint
from masker.tokens.vault_pg import PgVault

KID = "K_BENCH"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def open_vault(where: str, env: dict[str, str]) -> TokenVault:
    keyring = Keyring.from_env(env)
    return PgVault(where, keyring) if where.startswith("postgresql://") else Vault(Path(where), keyring)


def client(where: str, env: dict[str, str], name: str, ops: int, barrier, errors) -> None:
    """One client: waits, mints ``ops`` values, waits, looks them all up, waits."""
    try:
        vault = open_vault(where, env)
        keyring = Keyring.from_env(env)
        scope = Scope("bench-agent", name)
        rows = [(mint(keyring, "NAME", KID, f"Bench Person {name} {i}", scope), "NAME", KID, f"Bench Person {name} {i}")
                for i in range(ops)]
    except BaseException as e:  # noqa: BLE001 - reported by the parent
        errors.put(type(e).__name__)
        barrier.abort()
        return
    try:
        barrier.wait()
        for r in rows:
            vault.put_many(scope, [r])
        barrier.wait()
        for token, *_ in rows:
            if vault.lookup(scope, token).value is None:
                raise AssertionError("a stored token did not come back")
        barrier.wait()
    except BaseException as e:  # noqa: BLE001
        errors.put(type(e).__name__)
        barrier.abort()
    finally:
        vault.close()


def one_run(where: str, clients: int, ops: int, run: int) -> tuple[float, float]:
    """(mint ops/s, lookup ops/s) of ``clients`` processes at once."""
    ctx = mp.get_context("spawn")
    env = {f"MASKER_KEY_{KID}": base64.b64encode(secrets.token_bytes(32)).decode()}
    barrier, errors = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=client, args=(where, env, f"r{run}c{c}", ops, barrier, errors)) for c in range(clients)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=120)
        t0 = time.perf_counter()
        barrier.wait(timeout=600)
        t1 = time.perf_counter()
        barrier.wait(timeout=600)
        t2 = time.perf_counter()
    finally:
        for p in procs:
            p.join(timeout=60)
    if not errors.empty():
        raise SystemExit(f"a client failed: {errors.get()}")
    total = clients * ops
    return total / (t1 - t0), total / (t2 - t1)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


@contextmanager
def backend(name: str, url: str) -> Iterator[str]:
    """Where the vault of ``name`` lives for the benchmark: a temporary file or a new schema."""
    if name == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            yield str(Path(d) / "vault.sqlite")
        return
    schema = f"masker_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    try:
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


def server_version(url: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return row[0] if row else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the JSON here too")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ops", type=int, default=1000, help="calls per client and operation")
    ap.add_argument("--clients", default="1,8", help="numbers of concurrent clients (processes)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--database-url", default=os.environ.get("MASKER_TEST_DATABASE_URL", DEFAULT_URL))
    args = ap.parse_args(argv)
    backends = args.backends.split(",")
    results = []
    for name in backends:
        for clients in (int(c) for c in args.clients.split(",")):
            mints, lookups = [], []
            with backend(name, args.database_url) as where:
                for run in range(args.runs):
                    m, lk = one_run(where, clients, args.ops, run)
                    mints.append(m)
                    lookups.append(lk)
            for op, values in (("mint", mints), ("lookup", lookups)):
                results.append({"backend": name, "op": op, "clients": clients, "ops_per_client": args.ops,
                                "ops_per_s": summary(values), "runs": [round(v, 1) for v in values]})
                print(f"{name:10s} {op:6s} {clients} clients: median {summary(values)['median']:.0f} ops/s "
                      f"({summary(values)['min']:.0f}-{summary(values)['max']:.0f})", file=sys.stderr)
    doc = {
        "benchmark": "vault",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "sqlite": sqlite3.sqlite_version,
                    "postgresql": server_version(args.database_url) if "postgresql" in backends else None},
        "runs": args.runs,
        "results": results,
    }
    text = json.dumps(doc, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
