"""Masker's Prometheus metrics: one registry, every metric defined and documented here once.

Exposed by ``render()`` (the admin listener's ``GET /metrics``). No label
ever holds a value or a session id: labels are provider shapes, agent ids
(validated by ``masker.proxy.identity``; at most ``MAX_AGENT_LABELS``
distinct ones, then ``other``), Masker's own outcome codes, kinds and pass
names, each checked here against its shape or list (anything else is
counted as ``other``).

Each metric is described once, by its HELP text below (what a scrape shows);
the README's "Metrics" section lists them for operators.

Masking runs in worker processes (``masker.engine_pool``). A worker calls
``use_worker_mode()`` once: its observations are then buffered instead of
counted, ``take_worker_samples()`` hands them over (picklable, bounded:
counters are summed per label set, at most ``MAX_WORKER_OBSERVATIONS``
histogram observations are kept between two takes), and the proxy process
applies them to ``REGISTRY`` with ``replay()``.

The two gauges are read when scraped, from the functions given to
``set_journal_latched`` and ``set_vault_rows``; a gauge whose function was
never given is not exposed. A journal whose state cannot be read counts as
latched.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from masker.kinds import ALL_KINDS

log = logging.getLogger(__name__)

disable_created_metrics()  # no ``*_created`` series: they double the output and nobody alerts on them

REGISTRY = CollectorRegistry(auto_describe=True)

MAX_AGENT_LABELS = 100
MAX_WORKER_OBSERVATIONS = 4096
OTHER = "other"

SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WINDOW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,47}")  # outcome codes, provider shapes, pass names
_BY = frozenset({"upstream", "masker", "client"})

Sample = tuple[str, tuple[str, ...], float]  # (metric name, label values, value)


class _Series:
    """A counter or histogram that a worker process buffers instead of counting."""

    def __init__(self, metric: Counter | Histogram, name: str, labels: tuple[str, ...]) -> None:
        self.metric = metric
        self.name = name
        self.labels = labels
        self.is_counter = isinstance(metric, Counter)
        _SERIES[name] = self

    def record(self, value: float, *labels: str) -> None:
        buffer = _worker_buffer
        if buffer is not None:
            buffer.add(self, labels, value)
        else:
            self.apply(labels, value)

    def apply(self, labels: tuple[str, ...], value: float) -> None:
        child = self.metric.labels(*labels) if labels else self.metric
        if self.is_counter:
            child.inc(value)  # type: ignore[union-attr]
        else:
            child.observe(value)  # type: ignore[union-attr]


_SERIES: dict[str, _Series] = {}


def _counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> _Series:
    return _Series(Counter(name, doc, labels, registry=REGISTRY), name, labels)


def _histogram(name: str, doc: str, buckets: tuple[float, ...] = SECONDS_BUCKETS) -> _Series:
    return _Series(Histogram(name, doc, buckets=buckets, registry=REGISTRY), name, ())


_REQUESTS = _counter(
    "masker_requests_total",
    "Finished LLM requests, by provider (API shape of the path), agent, outcome "
    "(forwarded, or the code of Masker's answer) and by (upstream, masker, client).",
    ("provider", "agent", "outcome", "by"),
)
_DETECTIONS = _counter(
    "masker_detections_total",
    "Spans Masker replaced in requests (any action), by kind and detection pass.",
    ("kind", "pass"),
)
_ADDED = _histogram(
    "masker_added_latency_seconds",
    "Seconds spent in Masker's request and response hooks per request (streamed chunks not included).",
)
_HOLDBACK = _histogram(
    "masker_stream_holdback_seconds",
    "Seconds streamed text that could start a token was held back before it was sent.",
)
_NER_SECONDS = _histogram(
    "masker_ner_inference_seconds", "Seconds per NER batch that ran the model (tokenizing, model runs, decoding)."
)
_NER_WINDOWS = _histogram(
    "masker_ner_batch_windows", "Token windows the model ran per NER batch (cached windows are not run).", WINDOW_BUCKETS
)
_NER_WINDOW_CACHE = _counter(
    "masker_ner_window_cache_lookups_total",
    "NER token-window predictions looked up before running the model, by result (hit, miss).",
    ("result",),
)
_CACHE = _counter(
    "masker_detection_cache_lookups_total", "Detection cache lookups, by result (hit, miss).", ("result",)
)
_JOURNAL = _histogram(
    "masker_journal_append_seconds", "Seconds per durable audit journal append (group commit wait included)."
)
_RESTARTS = _counter("masker_worker_restarts_total", "Masking worker processes replaced (crashed or timed out).")
_RELOADS = _counter("masker_policy_reloads_total", "Policy reloads, by result (ok, failed).", ("result",))
_DROPPED = _counter(
    "masker_worker_samples_dropped_total", "Worker observations dropped because the worker's buffer was full."
)


# -- what the code observes ----------------------------------------------------


def request_done(provider: str, agent: str, outcome: str, by: str, added_seconds: float | None) -> None:
    """One finished LLM request (the access line's fields, ``masker.proxy.access_log``)."""
    _REQUESTS.record(1, _code(provider), _AGENTS.label(agent), _code(outcome), by if by in _BY else OTHER)
    if added_seconds is not None:
        _ADDED.record(added_seconds)


def count_detections(spans: Iterable[Mapping[str, Any]]) -> None:
    """The spans replaced in one request (``masker_spans`` dicts: ``kind``, ``pass``)."""
    for span in spans:
        kind = span.get("kind")
        _DETECTIONS.record(1, kind if kind in ALL_KINDS else OTHER, _code(span.get("pass")))


def stream_held_back(seconds: float) -> None:
    _HOLDBACK.record(seconds)


def ner_batch(seconds: float, windows: int) -> None:
    _NER_SECONDS.record(seconds)
    _NER_WINDOWS.record(windows)


def ner_window_lookup(hit: bool) -> None:
    _NER_WINDOW_CACHE.record(1, "hit" if hit else "miss")


def detection_cache_lookup(hit: bool) -> None:
    _CACHE.record(1, "hit" if hit else "miss")


def journal_appended(seconds: float) -> None:
    _JOURNAL.record(seconds)


def worker_restarted() -> None:
    _RESTARTS.record(1)


def policy_reloaded(ok: bool) -> None:
    _RELOADS.record(1, "ok" if ok else "failed")


def _code(value: object) -> str:
    return value if isinstance(value, str) and _CODE_RE.fullmatch(value) else OTHER


class AgentLabels:
    """Agent ids as label values: the first ``limit`` distinct ids, then ``other``.

    Agent ids have a validated shape but are unbounded in number; each label
    value is a time series kept forever, so their number is capped.
    """

    def __init__(self, limit: int = MAX_AGENT_LABELS) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, agent: str) -> str:
        with self._lock:
            if agent in self._seen:
                return agent
            if len(self._seen) < self._limit:
                self._seen.add(agent)
                return agent
        return OTHER


_AGENTS = AgentLabels()


# -- gauges read at scrape time ------------------------------------------------


class _ScrapeGauges(Collector):
    """``masker_journal_latched`` and ``masker_vault_rows``, from functions set by the proxy process."""

    def __init__(self) -> None:
        self.journal_latched: Callable[[], bool] | None = None
        self.vault_rows: Callable[[], int] | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("masker_journal_latched", _LATCHED_DOC)
        yield GaugeMetricFamily("masker_vault_rows", _ROWS_DOC)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        latched_fn, rows_fn = self.journal_latched, self.vault_rows
        if latched_fn is not None:
            try:
                latched = bool(latched_fn())
            except Exception as e:  # noqa: BLE001 - cannot tell: say latched, so the alert fires
                log.error("metrics: journal state unreadable: %s", type(e).__name__)
                latched = True
            yield GaugeMetricFamily("masker_journal_latched", _LATCHED_DOC, value=1.0 if latched else 0.0)
        if rows_fn is not None:
            try:
                rows = int(rows_fn())
            except Exception as e:  # noqa: BLE001 - no number rather than a wrong one
                log.error("metrics: vault rows unreadable: %s", type(e).__name__)
            else:
                yield GaugeMetricFamily("masker_vault_rows", _ROWS_DOC, value=float(rows))


_LATCHED_DOC = "1 while the audit journal refuses appends (every request is refused)."
_ROWS_DOC = "Rows in the token vault."
_GAUGES = _ScrapeGauges()
REGISTRY.register(_GAUGES)


def set_journal_latched(fn: Callable[[], bool] | None) -> None:
    """``fn()`` says whether the journal is latched (``not journal.usable``); called per scrape.
    ``None`` (the engine is gone): the gauge is not exposed."""
    _GAUGES.journal_latched = fn


def set_vault_rows(fn: Callable[[], int] | None) -> None:
    """``fn()`` counts the vault's rows (``vault.count``); called per scrape. ``None``: not exposed."""
    _GAUGES.vault_rows = fn


def render() -> tuple[bytes, str]:
    """(exposition text, its content type) for ``GET /metrics``."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# -- worker processes ----------------------------------------------------------


class WorkerBuffer:
    """A worker's observations since the last ``take``: counters summed per label
    set, histogram observations up to ``limit`` (the rest counted as dropped)."""

    def __init__(self, limit: int = MAX_WORKER_OBSERVATIONS) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, tuple[str, ...]], float] = {}
        self._observed: list[Sample] = []
        self._dropped = 0

    def add(self, series: _Series, labels: tuple[str, ...], value: float) -> None:
        with self._lock:
            if series.is_counter:
                key = (series.name, labels)
                self._sums[key] = self._sums.get(key, 0.0) + value
            elif len(self._observed) < self._limit:
                self._observed.append((series.name, labels, float(value)))
            else:
                self._dropped += 1

    def take(self) -> list[Sample]:
        with self._lock:
            out: list[Sample] = [(name, labels, total) for (name, labels), total in self._sums.items()]
            out += self._observed
            if self._dropped:
                out.append((_DROPPED.name, (), float(self._dropped)))
            self._sums, self._observed, self._dropped = {}, [], 0
        return out


_worker_buffer: WorkerBuffer | None = None


def use_worker_mode() -> None:
    """In a worker process, once: buffer observations for ``take_worker_samples``."""
    global _worker_buffer
    if _worker_buffer is None:
        _worker_buffer = WorkerBuffer()


def take_worker_samples() -> list[Sample]:
    """The observations buffered since the last call (empty outside worker mode)."""
    buffer = _worker_buffer
    return buffer.take() if buffer is not None else []


def replay(samples: Iterable[Sample]) -> None:
    """In the proxy process: apply a worker's samples. Malformed ones are skipped."""
    for sample in samples:
        try:
            name, labels, value = sample
            series = _SERIES[name]
            labels = tuple(labels)
            value = float(value)
        except (KeyError, TypeError, ValueError):
            continue
        if len(labels) != len(series.labels) or not all(isinstance(v, str) for v in labels):
            continue
        if math.isfinite(value) and value >= 0:
            series.apply(labels, value)
