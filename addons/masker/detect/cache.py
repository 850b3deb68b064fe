"""In-memory LRU cache of detection results, keyed by (policy hash, text).

Chat clients resend the whole history every turn, so most texts in a request
were already scanned. The key is ``sha256(policy_hash + "\\x00" + text)``:
the raw text is never stored, and a policy change (new hash) misses.
The cached spans carry offsets and kinds only, never values.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from masker import metrics
from masker.detect.spans import Span


def cache_key(policy_hash: str, text: str) -> bytes:
    """The digest a (policy, text) pair is stored under."""
    return hashlib.sha256(f"{policy_hash}\x00{text}".encode("utf-8", "surrogatepass")).digest()


class DetectionCache:
    """Thread-safe bounded LRU of span lists, with hit/miss counters."""

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[Span, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, policy_hash: str, text: str) -> list[Span] | None:
        """The spans stored for this text under this policy, or None."""
        key = cache_key(policy_hash, text)
        with self._lock:
            spans = self._entries.get(key)
            if spans is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
        metrics.detection_cache_lookup(spans is not None)
        return list(spans) if spans is not None else None

    def put(self, policy_hash: str, text: str, spans: list[Span]) -> None:
        """Store spans (a copy), evicting the least recently used entry if full."""
        key = cache_key(policy_hash, text)
        with self._lock:
            self._entries[key] = tuple(spans)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def stats(self) -> dict[str, int]:
        """Counters for metrics endpoints (no text, no keys)."""
        with self._lock:
            return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses,
                    "max_entries": self.max_entries}
