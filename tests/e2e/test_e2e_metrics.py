"""``GET /metrics`` on a real sidecar's admin listener after a real request through it.

``masker run`` in reverse mode with the real engine (shipped policy, worker
processes), ``--admin-listen`` on a free port and ``MASKER_ADMIN_TOKEN`` in
its environment; the scrape is parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.phi import CHART, PHI
from tests.e2e.sidecar import Sidecar, start_admin_sidecar

ADMIN_TOKEN = secrets.token_urlsafe(24)
SESSION = "metrics-e2e-1"


@pytest.fixture(scope="module")
def metrics_sidecar(tmp_path_factory, upstream, upstream_certs) -> Iterator[tuple[Sidecar, int]]:
    with start_admin_sidecar(tmp_path_factory.mktemp("metrics"), upstream, upstream_certs[0], ADMIN_TOKEN) as started:
        yield started


def _scrape(admin_port: int, token: str | None = ADMIN_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"http://127.0.0.1:{admin_port}/metrics", headers=headers, timeout=10, trust_env=False)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def test_a_scrape_after_a_real_request_counts_it(metrics_sidecar, upstream):
    sc, admin_port = metrics_sidecar
    client = OpenAI(api_key="sk-test", base_url=f"{sc.url}/proxy/metrics-bot/v1", max_retries=0, timeout=30,
                    default_headers={"X-Masker-Session": SESSION}, http_client=httpx.Client(trust_env=False))
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": CHART}])

    deadline = time.monotonic() + 10
    while True:  # the access line (and the count) follows the response by a moment
        r = _scrape(admin_port)
        assert r.status_code == 200
        samples = _samples(r.text)
        if _value(samples, "masker_requests_total", agent="metrics-bot") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.headers["content-type"].startswith("text/plain")
    assert _value(samples, "masker_requests_total", provider="openai_chat", agent="metrics-bot",
                  outcome="forwarded", by="upstream") == 1
    assert _value(samples, "masker_added_latency_seconds_count") >= 1
    assert _value(samples, "masker_detections_total", kind="PHONE") >= 1
    assert _value(samples, "masker_detections_total", kind="NAME", **{"pass": "ner"}) >= 1
    # observed in a masking worker process, replayed into the proxy's registry
    assert _value(samples, "masker_ner_inference_seconds_count") >= 1
    assert _value(samples, "masker_detection_cache_lookups_total") >= 1
    assert _value(samples, "masker_journal_append_seconds_count") >= 1
    assert _value(samples, "masker_journal_latched") == 0
    assert _value(samples, "masker_vault_rows") >= 1
    labels = {v for (_, ls) in samples for _, v in ls}
    assert SESSION not in labels
    assert not [kind for value, kind in PHI.items() if value in r.text]  # kinds only in the message


def test_a_scrape_without_the_token_is_refused(metrics_sidecar):
    _, admin_port = metrics_sidecar
    assert _scrape(admin_port, token=None).status_code in (401, 403)
    assert _scrape(admin_port, token="wrong-" + ADMIN_TOKEN).status_code in (401, 403)
