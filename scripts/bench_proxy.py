"""Side-by-side numbers: direct to a local fake upstream vs through Masker.

Measures, in one run:
* added latency (p50/p99) for a ~1 KB non-streaming chat turn,
* added time-to-first-token for a streaming turn,
* req/s through Masker at concurrency 16 (with the error count).

The fake upstream (tests/e2e/fake_upstream.py) and the sidecar (``masker run``
in reverse mode, what an app uses with ``base_url``) run as their own
processes; the load generator is this process. Targets on 2 cores: added
p50 <= 10 ms, TTFT added <= 3 ms, >= 150 req/s.

The sidecar runs the real engine (shipped policy: regex + NER, dev keys in a
temporary data dir) unless ``--fake`` picks the test fake engine, which
measures the proxy's own overhead alone (``tests/e2e/fake_sidecar.py run``:
``masker run`` with the fake factory passed in code; there is no option for it).

    python scripts/bench_proxy.py --out bench.json [--passes regex] [--policy P] [--fake] [--workers N]
    python scripts/bench_proxy.py --replicas 2 --database-url postgresql://postgres@127.0.0.1:5432/test

``--replicas N`` adds a side ``masker_xN``: N sidecars (own ports and data
dirs, one set of keys, the vault and agents in the PostgreSQL of
``--database-url``) behind one client pool that spreads its requests over
them round-robin; the single ``masker`` side then uses the same database,
so the two differ only in the number of replicas.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT / "tests" / "e2e"
sys.path.insert(0, str(E2E))

from fake_upstream import make_ca_and_leaf  # noqa: E402

from masker.engine_pool import default_workers  # noqa: E402

TURN = ("I'm calling about my prescription refill. The pharmacy said the doctor has not sent it yet, "
        "and I have about three days of pills left. Can you check the status and tell me what to do? ") * 4
UPSTREAM_MAIN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from fake_upstream import FakeUpstream
from pathlib import Path
s = FakeUpstream(Path(sys.argv[2]), Path(sys.argv[3])).start()
Path(sys.argv[4]).write_text(str(s.port))
while True:
    time.sleep(3600)
"""


def shared_keys() -> dict[str, str]:
    """One set of random keys for every sidecar of the run (replicas must share them)."""
    return {name: base64.b64encode(secrets.token_bytes(32)).decode()
            for name in ("MASKER_KEY_K_HEALTHCARE", "MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_TURN_NO = itertools.count()


def body(stream: bool = False) -> bytes:
    """A ~1 KB chat turn. The user text differs on every call (a turn number):
    the engine caches detection per text, and a new turn is never cached."""
    doc = {"model": "gpt-test", "stream": stream, "messages": [
        {"role": "system", "content": "You are a helpful pharmacy assistant."},
        {"role": "user", "content": f"John Smith here, 555-123-4567, turn {next(_TURN_NO)}. {TURN}"}]}
    return json.dumps(doc).encode()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def ms(x: float) -> float:
    return round(x * 1000, 2)


def wait_http(url: str, timeout: float = 60, ok: tuple[int, ...] = (200, 503)) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code in ok:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not up")


def latency(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        data = body()
        t = time.perf_counter()
        r = client.post(url, content=data, headers={"content-type": "application/json"})
        r.raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def first_text(event: bytes) -> bool:
    """Whether an SSE event carries generated text (a non-empty ``delta.content``)."""
    data = event.partition(b"data: ")[2]
    if not data or data.startswith(b"[DONE]"):
        return False
    choices = json.loads(data).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def ttft(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        data = body(stream=True)
        t = time.perf_counter()
        with client.stream("POST", url, content=data, headers={"content-type": "application/json"}) as r:
            r.raise_for_status()
            first, buffered = None, b""
            for chunk in r.iter_bytes():
                if first is None:
                    # Whole SSE events only: a read may hold several events or part of one.
                    buffered += chunk
                    *events, buffered = buffered.split(b"\n\n")
                    if any(first_text(e) for e in events):
                        first = time.perf_counter() - t
            out.append(first if first is not None else time.perf_counter() - t)
    return out


def throughput(urls: list[str], verify: str, concurrency: int, seconds: float) -> dict:
    """req/s with ``concurrency`` clients, client i sending to ``urls[i % len(urls)]``."""
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()

    def worker(url: str) -> None:
        with httpx.Client(verify=verify, timeout=30, trust_env=False) as c:
            while time.monotonic() < stop:
                try:
                    ok = c.post(url, content=body(), headers={"content-type": "application/json"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    counts["ok" if ok else "errors"] += 1

    threads = [threading.Thread(target=worker, args=(urls[i % len(urls)],)) for i in range(concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    return {"concurrency": concurrency, "seconds": round(elapsed, 2), "requests": counts["ok"],
            "errors": counts["errors"], "req_per_s": round(counts["ok"] / elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the JSON result here")
    ap.add_argument("--fake", action="store_true", help="the test fake engine (proxy overhead alone) instead of the real one")
    ap.add_argument("--policy", help="mask policy for the real engine (default: the shipped one)")
    ap.add_argument("--passes", help="override the policy's detection passes, comma-separated (e.g. regex)")
    ap.add_argument("--workers", type=int, help="masking worker processes (default: masker run's default)")
    ap.add_argument("--requests", type=int, default=200, help="sequential requests per side for latency")
    ap.add_argument("--streams", type=int, default=30, help="streaming requests per side for TTFT")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of the throughput run")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--replicas", type=int, default=1,
                    help="also measure N sidecars behind one client pool (needs --database-url)")
    ap.add_argument("--database-url", help="PostgreSQL for the vault (required with --replicas > 1)")
    args = ap.parse_args(argv)
    if args.replicas > 1 and not args.database_url:
        ap.error("--replicas > 1 needs --database-url: replicas share their vault there")

    tmp = Path(tempfile.mkdtemp(prefix="masker-bench-"))
    engine = "fake_engine:build_engine" if args.fake else "masker.runtime:open_runtime"
    policy = Path(args.policy).resolve() if args.policy else ROOT / "configs" / "mask_policy.yaml"
    if args.passes:
        doc = yaml.safe_load(policy.read_text())
        doc["passes"] = args.passes.split(",")
        policy = tmp / "policy.yaml"
        policy.write_text(yaml.safe_dump(doc))
    ca_cert, cert, key = make_ca_and_leaf(tmp / "upstream")
    port_file = tmp / "upstream.port"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(E2E), str(ROOT / "addons")])
    procs = [subprocess.Popen([sys.executable, "-c", UPSTREAM_MAIN, str(E2E), str(cert), str(key), str(port_file)], env=env)]
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.1)
        up = int(port_file.read_text())
        entry = [str(E2E / "fake_sidecar.py")] if args.fake else ["-m", "masker.cli"]
        side_env = {**env, "MASKER_LOG_LEVEL": "WARNING", **shared_keys()}
        if args.database_url:
            side_env["MASKER_DATABASE_URL"] = args.database_url

        def start_masker(name: str) -> int:
            listen = free_port()
            log = (tmp / f"{name}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, *entry, "run", "--listen", f"127.0.0.1:{listen}",
                 "--mode", f"reverse:https://127.0.0.1:{up}", "--data-dir", str(tmp / name),
                 "--set", f"ssl_verify_upstream_trusted_ca={ca_cert}", "--admin-listen", "",
                 "--policy", str(policy), *(["--workers", str(args.workers)] if args.workers is not None else [])],
                env=side_env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
            return listen

        ports = {"masker": [start_masker("masker")]}
        if args.replicas > 1:
            ports[f"masker_x{args.replicas}"] = [start_masker(f"replica-{i}") for i in range(args.replicas)]
        # Plain mitmproxy, same mode, no Masker:
        # the floor any mitmproxy-based sidecar pays.
        plain = free_port()
        stream_script = tmp / "stream_responses.py"  # streams responses like Masker does
        stream_script.write_text("def responseheaders(flow):\n    flow.response.stream = True\n")
        procs.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "mitmdump"), "-q", "-s", str(stream_script),
             "--mode", f"reverse:https://127.0.0.1:{up}",
             "--listen-host", "127.0.0.1", "--listen-port", str(plain), "--set", "connection_strategy=lazy",
             "--set", f"ssl_verify_upstream_trusted_ca={ca_cert}",
             "--set", f"confdir={tmp / 'plain-ca'}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for group in ports.values():
            for port in group:
                wait_http(f"http://127.0.0.1:{port}/readyz", ok=(200,))  # the engine is built
        path = "/v1/chat/completions"
        urls: dict[str, list[str]] = {"direct": [f"https://127.0.0.1:{up}{path}"], "mitmproxy": [f"http://127.0.0.1:{plain}{path}"]}
        urls.update({name: [f"http://127.0.0.1:{port}{path}" for port in group] for name, group in ports.items()})
        wait_http(f"http://127.0.0.1:{plain}/v1/models")
        lat: dict[str, list[float]] = {name: [] for name in urls}
        tt: dict[str, list[float]] = {name: [] for name in urls}
        with httpx.Client(verify=str(ca_cert), timeout=30, trust_env=False) as c:
            for group in urls.values():  # warm-up
                for u in group:
                    latency(c, u, 10)
            for i in range(10):  # interleave so load drift hits every side alike
                for name, group in urls.items():
                    lat[name] += latency(c, group[i % len(group)], args.requests // 10)
            for i in range(args.streams):
                for name, group in urls.items():
                    tt[name] += ttft(c, group[i % len(group)], 1)
        tp = {name: throughput(group, str(ca_cert), args.concurrency, args.seconds) for name, group in urls.items()}
        lat_d, lat_m, tt_d, tt_m = lat["direct"], lat["masker"], tt["direct"], tt["masker"]
        result = {
            "engine": engine,
            "policy": None if args.fake else str(args.policy or "shipped"),
            "passes": None if args.fake else (args.passes or "as in the policy"),
            "workers": args.workers if args.workers is not None else default_workers(),
            "replicas": args.replicas,
            "vault": "postgresql" if args.database_url else "sqlite",
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "request_bytes": len(body()),
            "latency_ms": {
                **{name: {"p50": ms(pct(v, 0.5)), "p99": ms(pct(v, 0.99)), "n": len(v)} for name, v in lat.items()},
                "added_p50": ms(pct(lat_m, 0.5) - pct(lat_d, 0.5)),
                "added_p99": ms(pct(lat_m, 0.99) - pct(lat_d, 0.99)),
            },
            "ttft_ms": {
                **{f"{name}_p50": ms(statistics.median(v)) for name, v in tt.items()},
                "added_p50": ms(statistics.median(tt_m) - statistics.median(tt_d)), "n": len(tt_m),
            },
            "throughput": tp,
            "targets": {"added_p50_ms": 10, "ttft_added_ms": 3, "req_per_s": 150},
        }
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
