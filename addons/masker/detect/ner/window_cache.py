"""What the model predicted for a token window it has seen before, keyed by the window's token ids.

The detection cache (``masker.detect.cache``) answers for a whole text. A
long text that grows or changes (a voice agent's transcript resent with one
more turn, a document with one edited paragraph) misses there, yet most of
its token windows are the ones already run: windows are cut at fixed token
positions, so an appended turn changes only the last window and the new
ones, and an edit only the windows from the edit on (all of them only when
the edit changes the number of tokens before them). Here each window's
prediction (per token: top label column, identifier probability) is kept
under a digest of its token ids, so only new windows reach the model.

No text is stored: the key is a 16-byte BLAKE2b digest of the ids, the
value two small arrays of numbers. The model runs each window alone
(``masker.detect.ner.model``), so a prediction depends only on the ids and
the model (the cache belongs to one loaded model), and a hit returns exactly
what the model would compute.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from masker import metrics

# Windows kept: at 256 tokens a prediction is about 1.5 KB, so 4096 windows
# (a megabyte of prose) hold about 6 MB per model.
DEFAULT_MAX_WINDOWS = 4096


class Prediction(NamedTuple):
    """Per token of one window: the top label column and P(any identifier label)."""

    labels: np.ndarray  # int16
    identifier: np.ndarray  # float32


def window_key(ids: list[int], type_ids: list[int]) -> bytes:
    """The digest a window is stored under (its token ids and segment ids)."""
    digest = hashlib.blake2b(np.asarray(ids, dtype=np.int32).tobytes(), digest_size=16)
    digest.update(np.asarray(type_ids, dtype=np.int8).tobytes())
    return digest.digest()


class WindowCache:
    """Thread-safe bounded LRU of window predictions, with hit/miss counters."""

    def __init__(self, max_windows: int = DEFAULT_MAX_WINDOWS) -> None:
        if max_windows < 1:
            raise ValueError("max_windows must be >= 1")
        self.max_windows = max_windows
        self._entries: OrderedDict[bytes, Prediction] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> Prediction | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
        metrics.ner_window_lookup(found is not None)
        return found

    def put(self, key: bytes, prediction: Prediction) -> None:
        with self._lock:
            self._entries[key] = prediction
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_windows:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
