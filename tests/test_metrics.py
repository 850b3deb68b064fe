"""Masker's Prometheus metrics (``masker.metrics``) and the flow addon (``masker.proxy.metrics``).

Every check reads the real registry (deltas: the registry is per process and
other tests observe into it too) or the parsed exposition text.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import pickle
import time
from pathlib import Path

import pytest
from mitmproxy.proxy.layers.http import HttpErrorHook, HttpResponseHook
from mitmproxy.test import taddons, tflow
from prometheus_client.parser import text_string_to_metric_families

from masker import metrics
from masker.audit.events import Event
from masker.audit.journal import Journal
from masker.detect.cache import DetectionCache
from masker.detect.ner import NerPass, default_model_dir
from masker.detect.spans import Span
from masker.proxy import access_log, errors
from masker.proxy.access_log import AccessLog
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import LLM_KEY, MASKED_KEY, SPANS_KEY
from masker.proxy.metrics import FlowMetrics
from masker.scope import Scope
from masker.stream.rehydrate import PendingTails
from masker.tokens.keys import Keyring
from masker.tokens.vault import Vault, mint

SESSION = "call-7731-metrics"  # must never be a label value
VALUE = "-".join(["415", "555", "0142"])  # a synthetic phone number; never in a label
TOKEN = "MSKV1.PHONE.K_HEALTHCARE." + "A" * 26
NAMES = [
    "masker_requests", "masker_detections", "masker_added_latency_seconds", "masker_stream_holdback_seconds",
    "masker_ner_inference_seconds", "masker_ner_batch_windows", "masker_ner_window_cache_lookups", "masker_detection_cache_lookups",
    "masker_journal_append_seconds", "masker_journal_latched", "masker_worker_restarts", "masker_policy_reloads",
    "masker_vault_rows", "masker_worker_samples_dropped",
]


def value(name: str, **labels: str) -> float:
    """A sample of the real registry (0 when it does not exist yet)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def families() -> dict:
    text, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


@pytest.fixture
def gauges():
    yield
    metrics.set_journal_latched(None)
    metrics.set_vault_rows(None)


def _flow(path: str = "/v1/chat/completions", agent: str = "billing-bot", **metadata):
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.scheme = "api.openai.com", 443, "https"
    f.request.method, f.request.path = "POST", path
    f.metadata.update({SCOPE_KEY: Scope(agent, SESSION), LLM_KEY: True, **metadata})
    return f


SPANS = [
    {"field": 0, "path": "/messages/0/content", "kind": "PHONE", "pass": "regex", "detector": "phone_nanp",
     "confidence": 0.99, "action": "token", "replacement": TOKEN},
    {"field": 0, "path": "/messages/0/content", "kind": "NAME", "pass": "ner", "detector": "ner",
     "confidence": 0.91, "action": "redact", "replacement": "[REDACTED:NAME]"},
]


# -- the flow addon ------------------------------------------------------------


def test_a_forwarded_flow_is_counted_once_with_its_latency_and_detections():
    labels = {"provider": "openai_chat", "agent": "billing-bot", "outcome": "forwarded", "by": "upstream"}
    before = value("masker_requests_total", **labels)
    latency = value("masker_added_latency_seconds_count"), value("masker_added_latency_seconds_sum")
    phone, name = value("masker_detections_total", kind="PHONE", **{"pass": "regex"}), value(
        "masker_detections_total", kind="NAME", **{"pass": "ner"})
    f = _flow(**{MASKED_KEY: True, SPANS_KEY: SPANS})
    f.request.timestamp_end = 100.0
    f.metadata[access_log.MASKED_AT_KEY] = 100.004  # 4 ms in the request hooks
    f.response = tflow.tresp()
    f.response.timestamp_end = time.time()
    with taddons.context(AccessLog(), FlowMetrics()) as tctx:
        tctx.master.addons.trigger(HttpResponseHook(f))
        tctx.master.addons.trigger(HttpErrorHook(f))  # a later hook of the same flow counts nothing again
    assert value("masker_requests_total", **labels) == before + 1
    assert value("masker_added_latency_seconds_count") == latency[0] + 1
    assert 0.004 <= value("masker_added_latency_seconds_sum") - latency[1] < 1.0
    assert value("masker_detections_total", kind="PHONE", **{"pass": "regex"}) == phone + 1
    assert value("masker_detections_total", kind="NAME", **{"pass": "ner"}) == name + 1


def test_a_refused_flow_is_counted_by_its_code_and_a_local_endpoint_not_at_all():
    labels = {"provider": "anthropic", "agent": "triage-bot", "outcome": "invalid_json", "by": "masker"}
    before = value("masker_requests_total", **labels)
    total_before = sum(s.value for s in families()["masker_requests"].samples)
    refused = _flow("/v1/messages", agent="triage-bot")
    errors.refuse(refused, 400, "invalid_json", "request body is not valid JSON")
    local = _flow("/readyz", masker_local=True)
    local.response = tflow.tresp()
    with taddons.context(AccessLog(), FlowMetrics()) as tctx:
        for flow in (refused, local):
            tctx.master.addons.trigger(HttpResponseHook(flow))
    assert value("masker_requests_total", **labels) == before + 1
    assert sum(s.value for s in families()["masker_requests"].samples) == total_before + 1


def test_a_flow_never_logged_is_not_counted():
    before = sum(s.value for s in families()["masker_requests"].samples)
    f = _flow(**{MASKED_KEY: True})
    f.response = tflow.tresp()
    FlowMetrics().response(f)  # no AccessLog before it: no summary, nothing counted
    assert sum(s.value for s in families()["masker_requests"].samples) == before


def test_no_label_holds_a_session_id_or_a_value():
    f = _flow(**{MASKED_KEY: True, SPANS_KEY: [{"kind": VALUE, "pass": VALUE}, {"kind": "SSN", "pass": "Regex!"}]})
    f.request.content = f'{{"messages": [{{"content": "{TOKEN}"}}]}}'.encode()
    f.response = tflow.tresp()
    f.response.headers["x-masker-error"] = f"bad {VALUE}"  # an outcome code that is no code
    with taddons.context(AccessLog(), FlowMetrics()) as tctx:
        tctx.master.addons.trigger(HttpResponseHook(f))
    metrics.request_done(VALUE, "billing-bot", VALUE, VALUE, None)  # called directly with values
    seen, bad = set(), []
    for family in families().values():
        for sample in family.samples:
            for label, v in sample.labels.items():
                seen.add(v)
                if SESSION in v or VALUE in v or "415" in v:
                    bad.append(f"{sample.name}:{label}")  # the label's name only: no value in test output
    assert not bad
    assert "other" in seen


def test_distinct_agents_are_capped():
    cap = metrics.AgentLabels(limit=3)
    assert [cap.label(a) for a in ["a1", "a2", "a3", "a4", "a1", "a5"]] == ["a1", "a2", "a3", "other", "a1", "other"]
    for i in range(metrics.MAX_AGENT_LABELS + 20):
        metrics.request_done("generic", f"agent-{i}", "forwarded", "upstream", 0.001)
    agents = {s.labels["agent"] for s in families()["masker_requests"].samples}
    assert len(agents - {"other"}) <= metrics.MAX_AGENT_LABELS
    assert "other" in agents


# -- instrumented code ---------------------------------------------------------


def test_stream_holdback_is_observed_when_held_text_goes_out():
    count, total = value("masker_stream_holdback_seconds_count"), value("masker_stream_holdback_seconds_sum")
    tails = PendingTails(lambda text, json_escape=False: text)
    assert tails.push("choice-0", "plain text, nothing held", envelope=dict) == "plain text, nothing held"
    assert value("masker_stream_holdback_seconds_count") == count  # nothing was held
    assert tails.push("choice-0", "call MSKV1.PH", envelope=dict) == "call "
    time.sleep(0.02)
    assert tails.push("choice-0", "ONE", envelope=dict) == ""  # still a possible token: held on
    time.sleep(0.02)
    assert tails.push("choice-0", " later", envelope=dict) == "MSKV1.PHONE later"
    assert value("masker_stream_holdback_seconds_count") == count + 1
    assert value("masker_stream_holdback_seconds_sum") - total >= 0.04
    tails.push("choice-1", "see MSK", envelope=dict)
    assert tails.take("choice-1") == "MSK"  # the key ended: flushed
    assert value("masker_stream_holdback_seconds_count") == count + 2


def test_detection_cache_hits_and_misses():
    hits, misses = value("masker_detection_cache_lookups_total", result="hit"), value(
        "masker_detection_cache_lookups_total", result="miss")
    cache = DetectionCache()
    assert cache.get("policy-hash", "some text") is None
    cache.put("policy-hash", "some text", [Span(0, 4, "NAME", "ner", "ner", 0.9)])
    assert cache.get("policy-hash", "some text") == [Span(0, 4, "NAME", "ner", "ner", 0.9)]
    assert cache.get("policy-hash", "some text") is not None
    assert value("masker_detection_cache_lookups_total", result="hit") == hits + 2
    assert value("masker_detection_cache_lookups_total", result="miss") == misses + 1


@pytest.mark.skipif(default_model_dir() is None, reason="no shipped NER model")
def test_ner_batches_are_timed_and_sized():
    ner = NerPass(default_model_dir())
    count, windows = value("masker_ner_inference_seconds_count"), value("masker_ner_batch_windows_sum")
    ner.detect_batch(["Patient seen today for a follow-up.", "The rash is better.", ""])
    assert value("masker_ner_inference_seconds_count") == count + 1
    assert value("masker_ner_batch_windows_sum") == windows + 2  # one window per non-empty text
    assert value("masker_ner_inference_seconds_sum") > 0
    # the same windows again come from the window cache: no model run, two hits
    hits = value("masker_ner_window_cache_lookups_total", result="hit")
    ner.detect_batch(["The rash is better.", "Patient seen today for a follow-up."])
    assert value("masker_ner_inference_seconds_count") == count + 1
    assert value("masker_ner_window_cache_lookups_total", result="hit") == hits + 2


KEY = bytes(range(32))


def test_journal_appends_are_timed_and_the_latch_is_a_gauge(tmp_path: Path, gauges):
    count = value("masker_journal_append_seconds_count")
    journal = Journal(tmp_path / "journal", KEY)
    journal.append([Event(kind="detection", agent="billing-bot", session=SESSION, entity_kind="PHONE")])
    assert value("masker_journal_append_seconds_count") == count + 1
    assert value("masker_journal_append_seconds_sum") > 0
    assert "masker_journal_latched" not in families()  # not set: not exposed
    metrics.set_journal_latched(lambda: not journal.usable)
    assert value("masker_journal_latched") == 0
    (tmp_path / "blocker").write_text("a file where the journal directory should be")
    broken = Journal(tmp_path / "blocker" / "journal", KEY)  # latches: it cannot open its files
    metrics.set_journal_latched(lambda: not broken.usable)
    assert value("masker_journal_latched") == 1

    def unreadable() -> bool:
        raise OSError("cannot tell")

    metrics.set_journal_latched(unreadable)
    assert value("masker_journal_latched") == 1  # cannot tell: latched, so the alert fires
    journal.close()


def test_vault_rows_gauge_reads_the_vault_at_scrape_time(tmp_path: Path, gauges):
    kid = "K_TEST"
    keyring = Keyring.from_env({f"MASKER_KEY_{kid}": base64.b64encode(os.urandom(32)).decode()})
    scope = Scope("billing-bot", SESSION)
    with Vault(tmp_path / "vault.sqlite", keyring) as vault:
        metrics.set_vault_rows(vault.count)
        assert value("masker_vault_rows") == 0
        vault.put_many(scope, [(mint(keyring, "PHONE", kid, VALUE, scope), "PHONE", kid, VALUE)])
        assert value("masker_vault_rows") == 1
    metrics.set_vault_rows(lambda: 1 // 0)
    assert "masker_vault_rows" not in families()  # unreadable: no number rather than a wrong one


def test_worker_restarts_and_policy_reloads():
    restarts, ok, failed = (value("masker_worker_restarts_total"), value("masker_policy_reloads_total", result="ok"),
                            value("masker_policy_reloads_total", result="failed"))
    metrics.worker_restarted()
    metrics.policy_reloaded(True)
    metrics.policy_reloaded(False)
    metrics.policy_reloaded(False)
    assert value("masker_worker_restarts_total") == restarts + 1
    assert value("masker_policy_reloads_total", result="ok") == ok + 1
    assert value("masker_policy_reloads_total", result="failed") == failed + 2


# -- worker processes ----------------------------------------------------------


def _worker(conn) -> None:
    """A spawned process in worker mode: observe, then send the samples through the pipe (pickle)."""
    metrics.use_worker_mode()
    cache = DetectionCache()
    cache.get("h", "text")
    cache.put("h", "text", [])
    cache.get("h", "text")
    cache.get("h", "text")
    metrics.ner_batch(0.25, 3)
    metrics.journal_appended(0.002)
    local = metrics.REGISTRY.get_sample_value("masker_detection_cache_lookups_total", {"result": "hit"})
    conn.send((metrics.take_worker_samples(), metrics.take_worker_samples(), local))


def test_worker_samples_reach_the_proxy_registry_through_a_pipe():
    parent, child = multiprocessing.get_context("spawn").Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=_worker, args=(child,))
    proc.start()
    try:
        assert parent.poll(60), "the worker process did not answer"
        samples, again, local = parent.recv()
    finally:
        proc.join(10)
    assert not local  # buffered in the worker, never counted there
    assert again == []  # taken once
    hits, misses = value("masker_detection_cache_lookups_total", result="hit"), value(
        "masker_detection_cache_lookups_total", result="miss")
    ner, windows = value("masker_ner_inference_seconds_count"), value("masker_ner_batch_windows_sum")
    journal = value("masker_journal_append_seconds_count")
    metrics.replay(samples)
    assert value("masker_detection_cache_lookups_total", result="hit") == hits + 2
    assert value("masker_detection_cache_lookups_total", result="miss") == misses + 1
    assert value("masker_ner_inference_seconds_count") == ner + 1
    assert value("masker_ner_batch_windows_sum") == windows + 3
    assert value("masker_journal_append_seconds_count") == journal + 1


def test_the_worker_buffer_is_bounded_and_sums_counters():
    buffer = metrics.WorkerBuffer(limit=5)
    hist = metrics._SERIES["masker_journal_append_seconds"]
    cache = metrics._SERIES["masker_detection_cache_lookups_total"]
    for _ in range(1000):
        buffer.add(cache, ("hit",), 1)
    for i in range(12):
        buffer.add(hist, (), i / 1000)
    samples = pickle.loads(pickle.dumps(buffer.take()))
    assert ("masker_detection_cache_lookups_total", ("hit",), 1000.0) in samples
    assert len([s for s in samples if s[0] == "masker_journal_append_seconds"]) == 5
    assert ("masker_worker_samples_dropped_total", (), 7.0) in samples
    assert buffer.take() == []
    dropped = value("masker_worker_samples_dropped_total")
    metrics.replay(samples)
    assert value("masker_worker_samples_dropped_total") == dropped + 7


def test_replay_skips_malformed_samples():
    before = families()
    metrics.replay([
        ("no_such_metric", (), 1.0),
        ("masker_detection_cache_lookups_total", (), 1.0),  # wrong number of labels
        ("masker_detection_cache_lookups_total", (1,), 1.0),
        ("masker_journal_append_seconds", (), float("nan")),
        ("masker_journal_append_seconds", (), -1.0),
        ("masker_worker_restarts_total",),
        "garbage",
    ])
    after = families()
    assert {n: [s.value for s in f.samples] for n, f in after.items()} == {
        n: [s.value for s in f.samples] for n, f in before.items()}


def test_outside_worker_mode_nothing_is_buffered():
    metrics.detection_cache_lookup(True)
    assert metrics.take_worker_samples() == []


# -- exposition ----------------------------------------------------------------


def test_the_exposition_parses_and_has_every_metric(gauges):
    metrics.set_journal_latched(lambda: False)
    metrics.set_vault_rows(lambda: 0)
    metrics.request_done("openai_chat", "billing-bot", "forwarded", "upstream", 0.003)
    metrics.count_detections(SPANS)
    metrics.detection_cache_lookup(False)
    metrics.policy_reloaded(True)
    found = families()
    assert set(NAMES) <= set(found), sorted(set(NAMES) - set(found))
    types = {name: found[name].type for name in NAMES}
    assert types["masker_requests"] == "counter" and types["masker_journal_latched"] == "gauge"
    assert types["masker_added_latency_seconds"] == "histogram"
    assert not [n for n in found if n.endswith("_created")]
    for family in found.values():
        assert family.documentation, family.name
        assert family.name.startswith("masker_")
