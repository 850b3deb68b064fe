"""mitmweb's "masker spans" content view (``masker.proxy.content_view``), with mitmproxy's test helpers."""

from __future__ import annotations

import json

import pytest
from mitmproxy import contentviews
from mitmproxy.test import taddons, tflow

from masker.proxy.content_view import NAME, SpansView, spans_table
from masker.proxy.masking import LLM_KEY, SPANS_KEY

TOKEN = "MSKV1.PHONE.K_HEALTHCARE." + "A" * 26
VALUE = "-".join(["415", "555", "0142"])  # a synthetic phone number: the client's, never in the view
SPANS = [
    {"field": 0, "path": "/messages/0/content", "kind": "PHONE", "pass": "regex", "detector": "phone_nanp",
     "confidence": 0.987, "action": "token", "replacement": TOKEN},
    {"field": 1, "path": "/messages/1/content", "kind": "NAME", "pass": "ner", "detector": "ner",
     "confidence": 0.91, "action": "redact", "replacement": "[REDACTED:NAME]"},
    {"field": 1, "path": "/messages/1/content", "kind": "DATE", "pass": "regex", "detector": "date",
     "confidence": 0.8, "action": "passthrough", "replacement": None},
]


def _masked_flow(spans=SPANS):
    """A flow as the masking addon leaves it: the request content is the masked body
    that left, the response (what the client got) holds the rehydrated value."""
    f = tflow.tflow(resp=True)
    f.request.host, f.request.path, f.request.method = "api.openai.com", "/v1/chat/completions", "POST"
    f.request.headers["content-type"] = "application/json"
    f.request.content = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"call {TOKEN}"},
        {"role": "user", "content": "[REDACTED:NAME] seen on 2024"}]}).encode()
    f.response.headers["content-type"] = "application/json"
    f.response.content = json.dumps({"choices": [{"message": {"content": f"calling {VALUE}"}}]}).encode()
    f.metadata.update({LLM_KEY: True, SPANS_KEY: spans})
    return f


@pytest.fixture
def tctx():
    with taddons.context(SpansView()) as ctx:
        yield ctx


def test_the_view_is_registered_on_load(tctx):
    assert NAME in contentviews.registry.available_views()


def test_the_view_shows_each_span_and_the_masked_body(tctx):
    f = _masked_flow()
    result = contentviews.prettify_message(f.request, f, NAME)
    assert result.view_name == NAME
    lines = result.text.splitlines()
    assert lines[0] == "Masker replaced 3 span(s) in this request (never a value here)."
    header = lines[2].split()
    assert header == ["field", "path", "kind", "pass", "detector", "confidence", "action", "replacement"]
    rows = [line.split() for line in lines[3:6]]
    assert rows[0] == ["0", "/messages/0/content", "PHONE", "regex", "phone_nanp", "0.99", "token", TOKEN]
    assert rows[1] == ["1", "/messages/1/content", "NAME", "ner", "ner", "0.91", "redact", "[REDACTED:NAME]"]
    assert rows[2] == ["1", "/messages/1/content", "DATE", "regex", "date", "0.80", "passthrough", "-"]
    body = result.text.split("Masked request body (what the provider received):\n\n", 1)[1]
    assert json.loads(body) == json.loads(f.request.content)


def test_picked_on_the_response_it_still_shows_the_request_side_only(tctx):
    f = _masked_flow()
    result = contentviews.prettify_message(f.response, f, NAME)
    assert result.view_name == NAME
    assert TOKEN in result.text
    assert VALUE not in result.text  # the rehydrated response is never shown by this view


def test_the_default_view_of_the_request_is_what_the_provider_received(tctx):
    f = _masked_flow()
    result = contentviews.prettify_message(f.request, f)
    assert result.view_name != NAME
    assert TOKEN in result.text and "Masker replaced" not in result.text


def test_a_flow_without_masker_spans_cannot_use_the_view(tctx):
    plain = tflow.tflow(resp=True)
    result = contentviews.prettify_message(plain.request, plain, NAME)
    assert result.syntax_highlight == "error"
    assert contentviews.prettify_message(plain.request, plain).view_name != NAME


def test_a_request_with_nothing_replaced_says_so(tctx):
    f = _masked_flow(spans=[])
    text = contentviews.prettify_message(f.request, f, NAME).text
    assert "(nothing was replaced)" in text and "replaced 0 span(s)" in text


def test_table_columns_line_up():
    table = spans_table(SPANS).splitlines()
    starts = [line.index("kind") if i == 0 else line.index(span["kind"]) for i, (line, span) in
              enumerate(zip(table, [SPANS[0], *SPANS]))]
    assert len(set(starts)) == 1
