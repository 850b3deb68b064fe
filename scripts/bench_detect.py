#!/usr/bin/env python3
"""Detection and tokenization benchmark; writes machine-readable JSON.

Measures on this machine:
- regex pass (regex + spoken forms, merged, policy-filtered) throughput in
  chars/s over a generated ~1 MB mixed corpus (prose, clinical notes, ASR
  transcripts, identifiers);
- long bodies: the same corpus joined into one text of ~100 KB and one of
  ~1 MB (a transcript, a document, a RAG context) through the same detector,
  seconds and chars/s as median and range of a few runs;
- tokens/s for vault-deterministic (MSKV1) and reversible-aead (MSK1) tokens;
- vault writes/s (one transaction per request of 20 rows);
- NER: ms per 32/128/512-token text (p50/p99), per request for a 10-turn
  conversation without any cache and with the detection and window caches,
  and long bodies (~10 KB and ~100 KB by default) through regex + NER, every
  window run.

Usage: python scripts/bench_detect.py [--out FILE] [--corpus-bytes N] [--long-body-bytes N,N] [--ner-long-body-bytes N,N] [--no-ner]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tokenizers import Tokenizer

from masker.detect.cache import DetectionCache
from masker.detect.ner import NerPass, default_model_dir
from masker.detect.pipeline import Detector
from masker.detect.spans import Span
from masker.policy.load import default_policy_path, load_policy
from masker.scope import Scope
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import Keyring
from masker.tokens.vault import Vault

KID = "K_HEALTHCARE"
FIRST = ["maria", "John", "Aiyana", "Chen", "Zoë", "DEVON", "Priya", "O'Neil"]
LAST = ["Lopez", "Okafor", "Nguyen", "Smith-Jones", "Haddad", "KOWALSKI"]
TEMPLATES = [
    "Patient {name} was seen today for follow-up of hypertension, BP 132/84, started lisinopril 10 mg daily.",
    "Call me back at {phone}, I'm usually home after 5 pm. My date of birth is {date}.",
    "PT IS A 67 YO MALE ADMITTED FOR CHEST PAIN. MRN {mrn}. CONTACT WIFE AT {phone}.",
    "yeah so my social is one two three forty five sixty seven eighty nine and the zip is nine four one one zero",
    "Please update the billing address to {street} and email the invoice to {email}.",
    "The card on file ends in 1111: {card}. Routing 011000015, account 000123456789.",
    "take two tablets twice a day with food and call if the rash gets worse after forty five minutes",
    "Server 10.0.4.17 logged the upload from device serial SN-4432-XK at 2024-03-05T10:22:00Z.",
]


def corpus(size: int, rng: random.Random) -> list[str]:
    texts, total = [], 0
    while total < size:
        text = rng.choice(TEMPLATES).format(
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            phone=f"({rng.randint(201, 989)}) 555-{rng.randint(1000, 9999)}",
            date=f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1930, 2010)}",
            mrn=f"{rng.randint(10**6, 10**7 - 1)}",
            street=f"{rng.randint(1, 9999)} Oak Street, Springfield, IL 62704",
            email=f"{rng.choice(FIRST).lower()}.{rng.randint(1, 99)}@example.org",
            card="4111 1111 1111 1111",
        )
        texts.append(text)
        total += len(text)
    return texts


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_regex(policy, texts: list[str]) -> dict:
    detector = Detector(policy)  # no NER, no cache
    chars = sum(len(t) for t in texts)
    t0 = time.perf_counter()
    spans = sum(len(detector.detect(t)) for t in texts)
    elapsed = time.perf_counter() - t0
    return {"chars": chars, "texts": len(texts), "spans": spans, "seconds": round(elapsed, 3), "chars_per_s": round(chars / elapsed)}


def bench_long_bodies(detector: Detector, sizes: list[int], runs: int, rng: random.Random) -> dict:
    """One body per size (corpus texts joined by spaces), detected ``runs`` times each.

    A long body is one text: the passes see it whole, so this measures what
    per-text costs grow with length, which the many short texts above hide.
    The detector must keep no cache between runs, or the later runs measure it.
    """
    detector.detect("warm up: call 555-0100")
    out = {}
    for size in sizes:
        body = " ".join(corpus(size, rng))
        seconds = []
        for _ in range(runs):
            t0 = time.perf_counter()
            spans = len(detector.detect(body))
            seconds.append(time.perf_counter() - t0)
        median = statistics.median(seconds)
        out[str(size)] = {
            "chars": len(body), "spans": spans, "runs": runs,
            "seconds": {"median": round(median, 3), "min": round(min(seconds), 3), "max": round(max(seconds), 3)},
            "chars_per_s": {"median": round(len(body) / median), "min": round(len(body) / max(seconds)),
                            "max": round(len(body) / min(seconds))},
        }
    return out


def bench_tokens(policy, keyring: Keyring, tmp: Path, n: int) -> dict:
    out = {}
    for scheme in ("vault-deterministic", "reversible-aead"):
        p = replace(policy, tokenization=scheme)
        vault = Vault(tmp / f"tok-{scheme}.sqlite", keyring) if scheme == "vault-deterministic" else None
        applier = TokenApplier(p, keyring, vault)
        text = "call (415) 555-0142 now"
        span = [Span(5, 19, "PHONE", "regex", "phone_nanp", 0.95)]
        t0 = time.perf_counter()
        for i in range(n):
            applier.apply(text, span, Scope("bench", f"s{i % 50}"))
        out[scheme] = round(n / (time.perf_counter() - t0))
        if vault:
            vault.close()
    return {"tokens_per_s": out, "n": n}


def bench_vault(keyring: Keyring, tmp: Path, requests: int, rows_per_request: int = 20) -> dict:
    vault = Vault(tmp / "vault-bench.sqlite", keyring)
    t0 = time.perf_counter()
    for r in range(requests):
        rows = [(f"MSKV1.NAME.{KID}.{r:08d}{i:018d}", "NAME", KID, f"value {r} {i}") for i in range(rows_per_request)]
        vault.put_many(Scope("bench", f"s{r}"), rows)
    elapsed = time.perf_counter() - t0
    vault.close()
    return {"rows": requests * rows_per_request, "rows_per_request": rows_per_request, "writes_per_s": round(requests * rows_per_request / elapsed), "requests_per_s": round(requests / elapsed)}


def bench_ner(policy, model_dir: Path, rng: random.Random, reps: int, long_body: tuple[list[int], int]) -> dict:
    # The model on every run: NER's window cache would answer a repeated text
    # without running it (the cached runs below use a pass with the cache).
    ner = NerPass(model_dir, cache_windows=0)
    words = " ".join(corpus(20000, rng)).split()
    result: dict = {"provider": ner.provider, "model": model_dir.name, "per_text_ms": {}}
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    offsets = tokenizer.encode(" ".join(words), add_special_tokens=False).offsets
    for target in (32, 128, 512):
        # exactly ``target`` model tokens, [CLS] and [SEP] included
        text = " ".join(words)[: offsets[target - 3][1]]
        assert len(tokenizer.encode(text).ids) == target, "text cut at the wrong token"
        ner.detect_batch([text])  # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            ner.detect_batch([text])
            times.append((time.perf_counter() - t0) * 1000)
        result["per_text_ms"][str(target)] = {"p50": round(statistics.median(times), 2), "p99": round(pct(times, 0.99), 2)}
    turns = corpus(2500, rng)[:10]
    for cached in (False, True):
        # cached: both caches as the sidecar runs them (detections per text, NER per window)
        detector = (Detector(policy, ner=NerPass(model_dir), cache=DetectionCache()) if cached
                    else Detector(policy, ner=ner))
        times = []
        for turn in range(1, len(turns) + 1):  # each request resends the whole history
            t0 = time.perf_counter()
            detector.detect_batch(turns[:turn])
            times.append((time.perf_counter() - t0) * 1000)
        key = "conversation_10_turns_cached_ms" if cached else "conversation_10_turns_uncached_ms"
        result[key] = {"per_request_p50": round(statistics.median(times), 2), "last_request": round(times[-1], 2), "total": round(sum(times), 2)}
    # the shipped policy on one long body: every window runs (no window cache)
    sizes, runs = long_body
    result["long_body"] = bench_long_bodies(Detector(policy, ner=ner), sizes, runs, rng)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--corpus-bytes", type=int, default=1_000_000)
    ap.add_argument("--long-body-bytes", default="100000,1000000", help="comma-separated sizes of the long bodies")
    ap.add_argument("--long-body-runs", type=int, default=5)
    ap.add_argument("--token-n", type=int, default=5000)
    ap.add_argument("--vault-requests", type=int, default=500)
    ap.add_argument("--ner-reps", type=int, default=50)
    ap.add_argument("--ner-long-body-bytes", default="10000,100000",
                    help="comma-separated sizes of the long bodies through regex + NER")
    ap.add_argument("--no-ner", action="store_true")
    args = ap.parse_args(argv)

    rng = random.Random(7)
    env = {**os.environ, f"MASKER_KEY_{KID}": base64.b64encode(b"b" * 32).decode()}
    policy = load_policy(default_policy_path(), env)
    keyring = Keyring.from_env(env)
    results: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "policy": policy.name,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["regex_pass"] = bench_regex(policy, corpus(args.corpus_bytes, rng))
        sizes = [int(n) for n in args.long_body_bytes.split(",") if n]
        results["long_body"] = bench_long_bodies(Detector(policy), sizes, args.long_body_runs, rng)  # no NER, no cache
        results["tokens"] = bench_tokens(policy, keyring, Path(tmp), args.token_n)
        results["vault"] = bench_vault(keyring, Path(tmp), args.vault_requests)
    model_dir = default_model_dir()
    if not args.no_ner and model_dir is not None:
        ner_sizes = [int(n) for n in args.ner_long_body_bytes.split(",") if n]
        results["ner"] = bench_ner(policy, model_dir, rng, args.ner_reps, (ner_sizes, args.long_body_runs))
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
