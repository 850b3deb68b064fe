"""Unit tests of the Masker addons with mitmproxy's test helpers (no sockets)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from pathlib import Path

import pytest
from mitmproxy import exceptions, flow
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import mode_specs
from mitmproxy.test import taddons, tflow

from masker.policy.load import default_policy_path
from masker.proxy import identity, routing
from masker.proxy.codec import BodyTooLarge, StreamDecoder, decode_bounded
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.identity import Identity, proxy_auth_user, split_agent_path
from masker.proxy.masking import MASKED_KEY, ForwardGuard, Masking
from masker.proxy.options import MaskerOptions
from masker.proxy.recorder import AuditRecorder
from masker.proxy.rehydration import Rehydration, StreamRehydration
from masker.scope import Scope
from tests.e2e.fake_engine import FakeEngine


def _flow(host: str = "api.openai.com", body: bytes = b'{"messages": []}', headers: dict | None = None):
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.scheme = host, 443, "https"
    f.request.method, f.request.path = "POST", "/v1/chat/completions"
    f.request.headers["content-type"] = "application/json"
    for k, v in (headers or {}).items():
        f.request.headers[k] = v
    f.request.content = body
    return f


def test_proxy_auth_username_without_password():
    header = "Basic " + base64.b64encode(b"billing-bot:").decode()
    assert proxy_auth_user(header) == "billing-bot"
    assert proxy_auth_user("Basic " + base64.b64encode(b"billing-bot").decode()) == "billing-bot"
    with pytest.raises(identity.IdentityError):
        proxy_auth_user("Bearer abc")
    with pytest.raises(identity.IdentityError):
        proxy_auth_user("Basic " + base64.b64encode(b"bad user:").decode())


def test_split_agent_path():
    assert split_agent_path("/proxy/billing-bot/v1/chat/completions?x=1") == ("billing-bot", "/v1/chat/completions?x=1")
    assert split_agent_path("/v1/messages") == (None, "/v1/messages")
    with pytest.raises(identity.IdentityError):
        split_agent_path("/proxy/%2e%2e/v1")


def test_identity_headers_win_and_are_stripped():
    ident = Identity()
    with taddons.context(MaskerOptions(), ident):
        f = _flow(headers={"X-Masker-Agent": "intake", "X-Masker-Session": "call-42",
                           "Proxy-Authorization": "Basic " + base64.b64encode(b"other:").decode()})
        ident.request(f)
        assert f.metadata[identity.SCOPE_KEY] == Scope("intake", "call-42")
        assert not any(k.lower().startswith(("x-masker", "proxy-auth")) for k in f.request.headers)
        g = _flow()
        ident.request(g)
        assert g.metadata[identity.SCOPE_KEY] == Scope("default", "default")


def test_identity_from_connect_proxy_auth():
    ident = Identity()
    with taddons.context(MaskerOptions(), ident):
        connect = _flow()
        connect.request.method = "CONNECT"
        connect.request.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(b"billing-bot:").decode()
        ident.http_connect(connect)
        inner = tflow.tflow()
        inner.client_conn = connect.client_conn
        ident.request(inner)
        assert inner.metadata[identity.SCOPE_KEY].agent == "billing-bot"


def test_options_refuse_stream_large_bodies_and_set_allow_hosts():
    opts = MaskerOptions()
    with taddons.context(Proxyserver(), opts) as tctx:
        tctx.configure(opts)
        assert any(r.startswith("^api\\.openai\\.com") for r in tctx.options.allow_hosts)
        assert tctx.options.body_size_limit == str(2 * 16 * 1024 * 1024)
        tctx.configure(opts, mode=["regular", "reverse:http://10.0.0.5:9000@8081"])
        assert r"^10\.0\.0\.5:9000$" in tctx.options.allow_hosts
        with pytest.raises(exceptions.OptionsError):
            tctx.options.update(stream_large_bodies="1m")
        with pytest.raises(exceptions.OptionsError):
            tctx.options.update(masker_llm_hosts=["api.openai.com/evil"])


def test_the_engine_holder_owns_and_checks_its_options():
    holder = EngineHolder(factory=lambda *args, **kwargs: None)  # never called: the proxy is not running
    with taddons.context(Proxyserver(), MaskerOptions(), holder) as tctx:
        with pytest.raises(exceptions.OptionsError):
            tctx.options.update(masker_workers=-1)
        with pytest.raises(exceptions.OptionsError, match="masker_audit_window"):
            tctx.options.update(masker_audit_window="6")
        tctx.options.update(masker_data_dir="/tmp/masker-x", masker_policy="", masker_audit_window="0")
        assert holder.data_dir == Path("/tmp/masker-x") and holder.policy_file == default_policy_path()


def test_llm_host_globs():
    assert routing.is_llm_host("myres.openai.azure.com", routing.DEFAULT_LLM_HOSTS)
    assert not routing.is_llm_host("openai.azure.com.evil.net", routing.DEFAULT_LLM_HOSTS)
    assert not routing.is_llm_host("example.com", routing.DEFAULT_LLM_HOSTS)


class _ExplodingEngine:
    class policy:
        name, hash, media = "p", "h", "block"

    def policy_for(self, agent):
        return self.policy

    def mask_texts(self, fields, scope, notes=None):
        raise RuntimeError("boom")

    def record(self, events):
        pass


def test_masking_failure_answers_502_and_forwards_nothing():
    engine = _ExplodingEngine()
    recorder = AuditRecorder(engine.record)
    masking = Masking(lambda: engine, lambda: recorder)
    with taddons.context(MaskerOptions(), masking):
        f = _flow(body=json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode())
        f.metadata[identity.SCOPE_KEY] = Scope()
        asyncio.run(masking.request(f))
        assert f.response is not None and f.response.status_code == 502
        assert json.loads(f.response.content)["error"]["code"] == "masking_failed"
        assert not f.metadata.get(MASKED_KEY)
    recorder.close()


def test_masking_ignores_non_llm_hosts_and_guard_blocks_unmasked_llm_flows():
    masking, guard = Masking(lambda: None, lambda: None), ForwardGuard()
    with taddons.context(MaskerOptions(), masking, guard):
        other = _flow(host="example.com", body=b"not json")
        other.client_conn.timestamp_tls_setup = None  # a plain-HTTP proxy request (no TLS)
        other.request.scheme, other.request.port = "http", 80
        asyncio.run(masking.request(other))
        guard.request(other)
        assert other.response is None
        skipped = _flow()  # an LLM flow that Masking never marked as masked
        guard.request(skipped)
        assert skipped.response.status_code == 502


def test_reverse_mode_flows_are_always_llm_flows():
    masking = Masking(lambda: None, lambda: None, lambda: "not built")
    with taddons.context(MaskerOptions(), masking):
        f = _flow(host="127.0.0.1")
        f.client_conn.proxy_mode = mode_specs.ProxyMode.parse("reverse:https://127.0.0.1:9999")
        f.metadata[identity.SCOPE_KEY] = Scope()
        asyncio.run(masking.request(f))
        assert f.response.status_code == 503
        assert json.loads(f.response.content)["error"]["code"] == "engine_unavailable"


class _CountingEngine:
    """Restores the one token ``MSKV1.NAME.K.AAAA``; counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def rehydrate(self, text, scope, events=None, *, json_escape=False):
        self.calls += 1
        return text.replace("MSKV1.NAME.K.AAAA", "Ana Diaz")

    def record(self, events):
        pass


def _answered(engine: _CountingEngine, body: bytes):
    recorder = AuditRecorder(engine.record)
    rehydration = Rehydration(lambda: engine, lambda: recorder)
    with taddons.context(MaskerOptions(), rehydration):
        f = _flow()
        f.metadata[identity.SCOPE_KEY] = Scope()
        f.metadata[MASKED_KEY] = True
        f.response = tflow.tresp(content=body)
        f.response.headers["content-type"] = "application/json"
        asyncio.run(rehydration.response(f))
    recorder.close()
    return f.response


def test_a_response_without_tokens_is_passed_on_byte_for_byte_without_rehydrating():
    engine = _CountingEngine()
    body = b'{"choices": [ {"message": {"content": "Take it with food."}} ]}\n'
    assert _answered(engine, body).content == body and engine.calls == 0


def test_a_json_escaped_token_is_still_rehydrated():
    engine = _CountingEngine()
    body = json.dumps({"choices": [{"message": {"content": "Hi MSKV1.NAME.K.AAAA"}}]}).replace("M", "\\u004d", 1).encode()
    assert b"MSK" not in body
    response = _answered(engine, body)
    assert engine.calls == 1 and json.loads(response.content)["choices"][0]["message"]["content"] == "Hi Ana Diaz"


class _ScriptedSse:
    def __init__(self, fail_on: bytes | None = None) -> None:
        self.fail_on = fail_on

    def feed(self, data: bytes) -> bytes:
        if self.fail_on and self.fail_on in data:
            raise ValueError("broken event")
        return data if data.endswith(b"\n\n") else b""

    def finish(self) -> bytes:
        return b"tail"


def _stream(sse) -> StreamRehydration:
    s = StreamRehydration(tflow.tflow(resp=True, live=True), FakeEngine(), Scope("agent", "s1"), "identity")
    s._sse = sse  # the scripted SSE rehydrator in place of the provider's
    return s


def test_stream_callable_holds_with_empty_list_and_flushes_at_end():
    s = _stream(_ScriptedSse())
    assert s(b"data: par") == []  # never b"": that would end a chunked body
    assert s(b"data: x\n\n") == b"data: x\n\n"
    assert s(b"") == b"tail"


def test_stream_callable_kills_flow_on_error():
    s = _stream(_ScriptedSse(fail_on=b"BAD"))
    assert s(b"data: BAD\n\n") == []
    assert s.flow.error is not None and s.flow.error.msg == flow.Error.KILLED_MESSAGE
    assert s(b"data: fine\n\n") == []  # nothing more after a failure


def test_codec_bounds_and_corruption():
    assert decode_bounded(gzip.compress(b"a" * 1000), "gzip", 1000) == b"a" * 1000
    with pytest.raises(BodyTooLarge):
        decode_bounded(gzip.compress(b"a" * 10_000_000), "gzip", 100_000)
    with pytest.raises(ValueError):
        decode_bounded(b"\x1f\x8bgarbage", "gzip", 1000)
    with pytest.raises(ValueError):
        StreamDecoder("compress")
    d = StreamDecoder("gzip")
    data = gzip.compress(b"data: hello\n\n")
    assert d.feed(data[:7]) + d.feed(data[7:]) + d.finish() == b"data: hello\n\n"


def test_every_addon_starts_from_what_its_options_default_to(monkeypatch):
    """``masker run`` embeds the master: ``configure`` gets the options that changed, so an option
    left at its default may never reach it. Each addon's parsed state must already be the default's."""
    from mitmproxy import hooks
    from mitmproxy.addons.proxyserver import Proxyserver

    from masker.proxy.assembly import sidecar_addons
    from masker.proxy.master import StartupReport
    from tests.e2e.fake_engine import FakeEngine

    monkeypatch.setenv("MASKER_ADMIN_TOKEN", "t0ken")  # a default taken from the environment
    addons = [*sidecar_addons(FakeEngine()), StartupReport(0.0)]

    def state(addon) -> dict:
        plain = (str, int, float, bool, tuple, frozenset, set, type(None), type(Path()))
        return {k: v for k, v in vars(addon).items() if isinstance(v, plain)}

    before = [state(a) for a in addons]
    with taddons.context(Proxyserver(), *addons) as tctx:
        for addon in addons:
            tctx.master.addons.invoke_addon_sync(addon, hooks.ConfigureHook(set(tctx.options.keys())))
        after = [state(a) for a in addons]
    changed = {type(a).__name__: {k: (b[k], s[k]) for k in b if b[k] != s.get(k)} for a, b, s in zip(addons, before, after)}
    assert not {name: diff for name, diff in changed.items() if diff}
    assert any(s.get("_token") == "t0ken" for s in before)  # AdminListener
