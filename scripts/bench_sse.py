"""Event-loop cost of one long SSE line (a base64 image event) fed in chunks.

    .venv/bin/python scripts/bench_sse.py                 # the parser in the tree
    .venv/bin/python scripts/bench_sse.py --ref HEAD      # and the one in a git revision, to compare

Times ``SseParser.feed`` over a line of 1, 4 and 16 MiB cut in ``--chunk``
byte pieces, then (tree only) the whole stream path a proxy runs per chunk
(``StreamRehydration``: decode, event bound, parse, rehydrate, byte guard)
on a Responses ``partial_image`` event. The revision's parser is read with
``git show`` (nothing in the work tree or index is touched).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "addons"))

from masker.stream import sse as tree_sse  # noqa: E402

MIB = 1 << 20


def load_ref(ref: str) -> types.ModuleType:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:addons/masker/stream/sse.py"],
                         check=True, capture_output=True, text=True).stdout
    mod = types.ModuleType(f"sse_at_{len(sys.modules)}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src, f"{ref}:sse.py", "exec"), mod.__dict__)  # noqa: S102 - our own file at a revision
    return mod


def time_parser(mod: types.ModuleType, size: int, chunk: int, budget: float) -> float | None:
    line = b"data: " + b"A" * size + b"\n\n"
    parser = mod.SseParser()
    started = time.perf_counter()
    events = []
    for i in range(0, len(line), chunk):
        events += parser.feed(line[i : i + chunk])
        if time.perf_counter() - started > budget:
            return None
    events += parser.finish()
    took = time.perf_counter() - started
    assert len(events) == 1 and events[0].raw() == line
    return took


def time_stream(size: int, chunk: int) -> tuple[float, float]:
    """(total seconds, worst single chunk) through StreamRehydration with a trivial engine."""
    from mitmproxy.test import tflow

    from masker.proxy.rehydration import StreamRehydration
    from masker.scope import Scope
    from masker.stream.guard import redact_all

    class Engine:
        def rehydrate(self, text, scope, events=None, *, json_escape=False):
            return redact_all(text) if "MSK" in text else text

    b64 = base64.b64encode(os.urandom(size * 3 // 4)).decode()
    event = {"type": "response.image_generation_call.partial_image", "item_id": "ig_1", "output_index": 0,
             "partial_image_index": 0, "partial_image_b64": b64}
    body = b"event: " + event["type"].encode() + b"\ndata: " + json.dumps(event).encode() + b"\n\n"
    flow = tflow.tflow(resp=True)
    flow.request.path = "/v1/responses"
    s = StreamRehydration(flow, Engine(), Scope(), "identity", event_limit=64 * MIB)
    out, worst = b"", 0.0
    started = time.perf_counter()
    for i in range(0, len(body), chunk):
        t = time.perf_counter()
        got = s(body[i : i + chunk])
        worst = max(worst, time.perf_counter() - t)
        out += got if isinstance(got, bytes) else b""
    last = s(b"")
    out += last if isinstance(last, bytes) else b""
    took = time.perf_counter() - started
    assert out == body, "an image event must pass byte for byte"
    return took, worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", help="also time the parser of this git revision (e.g. HEAD)")
    ap.add_argument("--chunk", type=int, default=32 * 1024, help="bytes per feed (default 32 KiB)")
    ap.add_argument("--sizes", default="1,4,16", help="line sizes in MiB (default 1,4,16)")
    ap.add_argument("--budget", type=float, default=60.0, help="give up on one run after this many seconds")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    parsers = [("tree", tree_sse)] + ([(args.ref, load_ref(args.ref))] if args.ref else [])
    print(f"SseParser.feed, one line, {args.chunk} B chunks")
    for name, mod in parsers:
        for mib in sizes:
            took = time_parser(mod, mib * MIB, args.chunk, args.budget)
            shown = f"{took:8.3f} s" if took is not None else f"> {args.budget:.0f} s (gave up)"
            print(f"  {name:>8} {mib:3d} MiB: {shown}")
    print(f"StreamRehydration, one Responses partial_image event, {args.chunk} B chunks")
    for mib in sizes:
        took, worst = time_stream(mib * MIB, args.chunk)
        print(f"  {mib:3d} MiB: {took:8.3f} s total, worst chunk {worst * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
