"""DetectionCache: hits return the stored spans, keys never hold the text, LRU bound."""

from __future__ import annotations

import threading

from masker.detect.cache import DetectionCache, cache_key
from masker.detect.spans import Span

TEXT = "Call Maribel Quintero at 617-555-0148"
SPANS = [Span(5, 21, "NAME", "ner", "ner", 0.97), Span(25, 37, "PHONE", "regex", "phone_nanp", 1.0)]


def test_hit_returns_same_spans_and_counts() -> None:
    cache = DetectionCache()
    assert cache.get("p1", TEXT) is None
    cache.put("p1", TEXT, SPANS)
    assert cache.get("p1", TEXT) == SPANS
    assert (cache.hits, cache.misses) == (1, 1)


def test_policy_hash_is_part_of_the_key() -> None:
    cache = DetectionCache()
    cache.put("p1", TEXT, SPANS)
    assert cache.get("p2", TEXT) is None
    assert cache.get("p1", TEXT + " ") is None


def test_key_never_contains_the_text() -> None:
    cache = DetectionCache()
    cache.put("p1", TEXT, SPANS)
    keys = list(cache._entries)
    assert keys == [cache_key("p1", TEXT)]
    assert len(keys[0]) == 32
    assert b"Maribel" not in keys[0] and TEXT.encode() not in keys[0]
    assert all("Maribel" not in repr(v) for v in cache._entries.values())


def test_returned_list_is_a_copy() -> None:
    cache = DetectionCache()
    cache.put("p1", TEXT, SPANS)
    got = cache.get("p1", TEXT)
    got.clear()
    assert cache.get("p1", TEXT) == SPANS


def test_lru_evicts_least_recently_used() -> None:
    cache = DetectionCache(max_entries=2)
    cache.put("p", "a", [])
    cache.put("p", "b", [])
    assert cache.get("p", "a") == []  # a is now most recent
    cache.put("p", "c", [])
    assert len(cache) == 2
    assert cache.get("p", "b") is None
    assert cache.get("p", "a") == [] and cache.get("p", "c") == []


def test_thread_safe_under_concurrent_use() -> None:
    cache = DetectionCache(max_entries=64)

    def worker(n: int) -> None:
        for i in range(300):
            cache.put("p", f"{n}-{i % 100}", SPANS)
            cache.get("p", f"{(n + 1)}-{i % 100}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 64
    assert cache.hits + cache.misses == 1200
    assert cache.stats()["entries"] == 64
