"""The access line (``masker.proxy.access_log``) and mitmweb's flow marks (``masker.proxy.flow_marks``)."""

from __future__ import annotations

import logging

import pytest
from mitmproxy import flow as mflow
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons, tflow

from masker.engine import TextField
from masker.proxy import access_log, errors, upstream
from masker.proxy.access_log import AccessLog, count_masked, replacement_kinds
from masker.proxy.flow_marks import KEEP_STREAM_BYTES, FlowMarks, comment_for
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import LLM_KEY, MASKED_KEY
from masker.proxy.options import MaskerOptions
from masker.scope import Scope

VALUE = "-".join(["415", "555", "0142"])  # a test phone number; never in a log line or a comment
TOKEN = "MSKV1.PHONE.K_HEALTHCARE." + "A" * 26
NAME_TOKEN = "MSKV1.NAME.K_HEALTHCARE." + "B" * 26


def _flow(**metadata):
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.scheme = "api.openai.com", 443, "https"
    f.request.method, f.request.path = "POST", "/v1/threads/thread_abcdefghijklmnopqrst/runs"
    f.metadata.update({SCOPE_KEY: Scope("billing-bot", "call-7731"), LLM_KEY: True, **metadata})
    return f


def test_replacement_kinds_counts_tokens_and_redactions():
    texts = [f"call {TOKEN} or {TOKEN}", f"{NAME_TOKEN} [REDACTED:SSN] MSKV1.bogus"]
    assert replacement_kinds(texts) == {"PHONE": 2, "NAME": 1, "SSN": 1}


def test_count_masked_counts_what_masking_added_only():
    md: dict = {}
    fields = [TextField(f"history {NAME_TOKEN}", "user", "m/0"), TextField(f"call {VALUE}", "user", "m/1")]
    count_masked(md, fields, [f"history {NAME_TOKEN}", f"call {TOKEN}"])
    count_masked(md, [TextField("x", None, "q")], ["[REDACTED:SSN]"])  # a second call (URL, then body) adds up
    assert md[access_log.KINDS_KEY] == {"PHONE": 1, "SSN": 1}
    count_masked(md, None, ["x"])  # never raises
    assert md[access_log.KINDS_KEY] == {"PHONE": 1, "SSN": 1}


def _outcome(f):
    return access_log.outcome(f)


def test_outcomes():
    ok = _flow(**{MASKED_KEY: True})
    ok.response = tflow.tresp()
    assert _outcome(ok) == ("forwarded", "upstream")
    refused = _flow()
    errors.refuse(refused, 400, "invalid_json", "request body is not valid JSON")
    assert _outcome(refused) == ("invalid_json", "masker")
    failed = _flow(**{MASKED_KEY: True})
    failed.response = errors.error_response(502, "rehydration_failed", "x")
    assert _outcome(failed) == ("rehydration_failed", "masker")
    timed_out = _flow(**{MASKED_KEY: True, upstream.ANSWERED_KEY: "upstream_timeout"})
    timed_out.error = mflow.Error("upstream timeout")
    assert _outcome(timed_out) == ("upstream_timeout", "masker")
    killed = _flow(**{MASKED_KEY: True})
    killed.response = tflow.tresp()
    killed.error = mflow.Error(mflow.Error.KILLED_MESSAGE)
    assert _outcome(killed) == ("stream_killed", "masker")
    gone = _flow(**{MASKED_KEY: True})
    gone.error = mflow.Error("Client disconnected.")
    assert _outcome(gone) == ("client_disconnected", "client")


def test_summary_has_the_route_template_and_no_values():
    f = _flow(**{MASKED_KEY: True, access_log.KINDS_KEY: {"PHONE": 1}})
    f.request.timestamp_end = 100.0
    f.metadata[access_log.MASKED_AT_KEY] = 100.004
    f.response = tflow.tresp()
    f.response.timestamp_end = 200.0
    s = access_log.summary(f, now=200.002)
    assert s == {"agent": "billing-bot", "session": "call-7731", "method": "POST", "host": "api.openai.com",
                 "route": "/v1/threads/{id}/runs", "status": 200, "outcome": "forwarded", "by": "upstream",
                 "masked": {"PHONE": 1}, "added_ms": 6.0}
    no_scope = _flow()
    del no_scope.metadata[SCOPE_KEY]
    errors.refuse(no_scope, 400, "invalid_agent_id", "bad id")
    assert access_log.summary(no_scope)["agent"] == "-"


def test_one_access_line_per_flow_and_none_for_local_or_other_traffic(caplog):
    addon = AccessLog()
    with taddons.context(MaskerOptions(), addon), caplog.at_level(logging.INFO, logger="masker.access"):
        f = _flow(**{MASKED_KEY: True})
        f.request.content = f"call {VALUE}".encode()
        addon.request(f)
        f.response = tflow.tresp()
        addon.response(f)
        f.error = mflow.Error("late")
        addon.error(f)  # already logged
        local = _flow(masker_local=True)
        local.response = tflow.tresp()
        addon.response(local)
        other = tflow.tflow(resp=True)  # not an LLM flow, not refused by Masker
        addon.response(other)
        connect = _flow()
        connect.request.method = "CONNECT"
        errors.refuse(connect, 407, "invalid_agent_id", "bad id")
        addon.http_connect(connect)
    lines = [r for r in caplog.records if r.name == "masker.access"]
    assert [r.fields["outcome"] for r in lines] == ["forwarded", "invalid_agent_id"]
    assert all(VALUE not in r.getMessage() and VALUE not in str(r.fields) for r in lines)


def test_flow_marks_comment_and_mark_without_values():
    marks = FlowMarks()
    with taddons.context(MaskerOptions(), marks):
        ok = _flow(**{MASKED_KEY: True, access_log.KINDS_KEY: {"PHONE": 1}})
        ok.request.content = f"call {TOKEN}".encode()
        ok.response = tflow.tresp(content=f"call {VALUE}".encode())
        marks.response(ok)
        refused = _flow()
        errors.refuse(refused, 400, "invalid_json", "request body is not valid JSON")
        marks.response(refused)
    assert ok.marked == ":lock:" and refused.marked == ":no_entry:"
    assert ok.comment.startswith("Masker: forwarded masked, answered by the upstream (200).")
    assert "agent billing-bot, session call-7731, POST api.openai.com/v1/threads/{id}/runs" in ok.comment
    assert "Masked: PHONE 1." in ok.comment
    assert refused.comment.startswith("Masker: REFUSED invalid_json (400): this answer is Masker's own; "
                                      "nothing was sent upstream.")
    assert VALUE not in ok.comment + refused.comment


def test_comment_for_upstream_failures_and_broken_streams():
    base = {"agent": "a", "session": "s", "method": "POST", "host": "h", "route": "/v1/x", "masked": {}, "added_ms": 1.0}
    assert "(the upstream failed)" in comment_for({**base, "outcome": "upstream_timeout", "status": 504})
    assert comment_for({**base, "outcome": "stream_killed", "status": 200}).startswith("Masker: stream_killed")


class View:
    """Stands for mitmweb's view addon: FlowMarks keeps stream copies only with a UI."""


def _stream(marks: FlowMarks, chunks: list[bytes], *, ui: bool, limit: int | None = None):
    addons = [MaskerOptions(), marks] + ([View()] if ui else [])
    with taddons.context(*addons):
        f = _flow(**{MASKED_KEY: True})
        f.response = tflow.tresp(content=None)
        f.response.headers["content-type"] = "text/event-stream"
        emitted = []

        def inner(data: bytes):
            return [data.upper()] if data else []

        f.response.stream = inner
        marks.responseheaders(f)
        for chunk in chunks + [b""]:
            out = f.response.stream(chunk)
            emitted.extend(out if isinstance(out, list) else [out])
        marks.response(f)
    return f, b"".join(emitted)


def test_streamed_body_kept_for_display_only_with_a_ui():
    f, sent = _stream(FlowMarks(), [b"data: a\n\n", b"data: b\n\n"], ui=True)
    assert sent == b"DATA: A\n\nDATA: B\n\n" and f.response.content == sent
    g, _ = _stream(FlowMarks(), [b"data: a\n\n"], ui=False)
    assert g.response.content is None  # mitmdump: nothing kept in memory


def test_streamed_body_copy_is_bounded():
    f, sent = _stream(FlowMarks(keep_bytes=10), [b"x" * 8, b"y" * 8, b"z" * 8], ui=True)
    assert len(sent) == 24
    assert f.response.content.startswith(b"XXXXXXXXYY\n\n[masker: 14 more bytes streamed; kept 10 for display]")
    assert KEEP_STREAM_BYTES == 1024 * 1024


def test_a_failing_copy_never_touches_the_stream():
    marks = FlowMarks()
    with taddons.context(MaskerOptions(), marks, View()):
        f = _flow(**{MASKED_KEY: True})
        f.response = tflow.tresp(content=None)
        f.response.stream = lambda data: "not bytes"  # the copy cannot take it; the stream still gets it
        marks.responseheaders(f)
        assert f.response.stream(b"x") == "not bytes"


@pytest.mark.parametrize("store", [True, False])
def test_store_streamed_bodies_left_to_mitmproxy_when_set(store):
    marks = FlowMarks()
    with taddons.context(MaskerOptions(), Proxyserver(), marks, View()) as tctx:
        tctx.options.update(store_streamed_bodies=store)
        f = _flow(**{MASKED_KEY: True})
        f.response = tflow.tresp(content=None)

        def inner(data):
            return data

        f.response.stream = inner
        marks.responseheaders(f)
        assert (f.response.stream is inner) is store
