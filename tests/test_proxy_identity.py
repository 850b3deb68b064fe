"""Agent and session ids: the documented safe shape, refusals without the value."""

from __future__ import annotations

import base64
import json
import logging
import random
import uuid

import pytest
from mitmproxy import exceptions
from mitmproxy.proxy import mode_specs
from mitmproxy.test import taddons, tflow

from masker.proxy import identity
from masker.proxy.identity import (
    INVALID_AGENT_ID,
    INVALID_SESSION_ID,
    Identity,
    IdentityError,
    check_session_id,
    id_problem,
    proxy_auth_user,
    split_agent_path,
)
from masker.proxy.options import MaskerOptions
from masker.scope import Scope

# Shaped like identifiers (synthetic values; the tests never print them on success).
REFUSED = {
    "email": "jane.doe@example.com",
    "phone dashed": "555-123-4567",
    "phone glued to letters": "tel5551234567",
    "phone dotted in an id": "s-555.123.4567",
    "phone underscored": "p_555_123_4567",
    "local phone": "5551234",
    "ssn": "123-45-6789",
    "iso date": "1980-05-12",
    "compact date": "dob19800512",
    "date and time": "call-20240512-1430",
    "mrn": "MRN-00123456",
    "mrn colon": "mrn:00123456",
    "card": "4111111111111111",
    "epoch seconds": "sess-1715520000",
    "epoch millis": "sess-1715520000123",
    "long number": "acct-123456789012345678901",
    "ipv4": "192.168.1.20",
    "short ipv4": "10.0.0.1",
    "mac": "aa:bb:cc:dd:ee:ff",
    "space": "john doe",
    "plus": "a+b",
    "slash": "x/y",
    "percent-encoded at": "jane%40example.com",
    "non-ascii": "Zoë",
    "non-ascii digits": "s-\u0665\u0665\u0665\u0661\u0662\u0663\u0664",
    "leading dash": "-lead",
    "empty": "",
    "too long": "a" * 129,
    "control character": "a\x1fb",
}
ACCEPTED = [
    "default", "call-42", "billing-bot", "intake", "s1", "agent-a", "triage-bot", "bot_v2", "v1.2.3",
    "room:12:seat:3", "a" * 128,
    "3f2a9c1e-7b4d-4e2a-9c1f-2a3b4c5d6e7f", "sess-12345678-1234-4234-8234-123456789012",  # UUIDs
    "0123456789abcdef0123456789abcdef", "5f2b8c0e1d3a4b6c7d8e9f01",  # hex digests, ObjectIds
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",  # ULID
    "s-556677889900",  # uuid4().hex[:12] that happens to be all digits (1 in 280)
]


@pytest.mark.parametrize("name", list(REFUSED))
def test_identifier_shaped_ids_are_refused(name):
    value = REFUSED[name]
    problem = id_problem(value)
    assert problem is not None
    assert value not in problem or not value  # the reason never quotes the id
    with pytest.raises(IdentityError) as err:
        check_session_id(value, "X-Masker-Session")
    assert err.value.code == INVALID_SESSION_ID


@pytest.mark.parametrize("value", ACCEPTED)
def test_ordinary_and_random_ids_are_accepted(value):
    assert id_problem(value) is None


def test_random_ids_are_never_refused_at_random():
    rng = random.Random(20240512)
    for _ in range(20000):
        raw = rng.getrandbits(128)
        u = uuid.UUID(int=raw, version=4)
        for value in (str(u), u.hex, f"s-{u.hex[:12]}", f"prop-{u.hex[:12]}", f"sess-{u}"):
            assert id_problem(value) is None


# ---------------------------------------------------------------- the addon


def _flow(headers: dict[str, str] | None = None, path: str = "/v1/chat/completions"):
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.scheme = "api.openai.com", 443, "https"
    f.request.method, f.request.path = "POST", path
    for k, v in (headers or {}).items():
        f.request.headers[k] = v
    f.request.content = b'{"messages": []}'
    return f


def _error(f) -> dict:
    assert f.response is not None and f.response.headers["content-type"] == "application/json"
    return json.loads(f.response.content)["error"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"X-Masker-Session": "jane.doe@example.com"}, INVALID_SESSION_ID),
        ({"X-Masker-Session": "555-123-4567"}, INVALID_SESSION_ID),
        ({"X-Masker-Agent": "nurse 555-123-4567"}, INVALID_AGENT_ID),
        ({"X-Masker-Agent": "jane.doe@example.com", "X-Masker-Session": "call-42"}, INVALID_AGENT_ID),
        ({"Proxy-Authorization": "Basic " + base64.b64encode(b"123-45-6789:").decode()}, INVALID_AGENT_ID),
    ],
)
def test_refused_id_gets_json_400_without_the_value(headers, code, caplog):
    caplog.set_level(logging.DEBUG)
    ident = Identity()
    with taddons.context(MaskerOptions(), ident):
        f = _flow(headers)
        ident.request(f)
        assert f.response.status_code == 400
        err = _error(f)
        assert err["code"] == code and f.response.headers["x-masker-error"] == code
        assert f.metadata.get("masker_refused") == code
        assert identity.SCOPE_KEY not in f.metadata
        body = f.response.content.decode()
        for value in ("jane.doe", "555-123-4567", "123-45-6789", "4567"):
            assert value not in body and value not in caplog.text


def test_refused_reverse_path_agent():
    ident = Identity()
    with taddons.context(MaskerOptions(), ident):
        f = _flow(path="/proxy/555-123-4567/v1/chat/completions")
        f.client_conn.proxy_mode = mode_specs.ProxyMode.parse("reverse:https://127.0.0.1:9999")
        ident.request(f)
        assert f.response.status_code == 400 and _error(f)["code"] == INVALID_AGENT_ID
        good = _flow(path="/proxy/intake-bot/v1/chat/completions")
        good.client_conn.proxy_mode = mode_specs.ProxyMode.parse("reverse:https://127.0.0.1:9999")
        ident.request(good)
        assert good.response is None and good.request.path == "/v1/chat/completions"
        assert good.metadata[identity.SCOPE_KEY].agent == "intake-bot"


def test_valid_ids_pass_and_headers_are_stripped():
    ident = Identity()
    sid = str(uuid.uuid4())
    with taddons.context(MaskerOptions(), ident):
        f = _flow({"X-Masker-Agent": "intake", "X-Masker-Session": sid})
        ident.request(f)
        assert f.response is None
        assert f.metadata[identity.SCOPE_KEY] == Scope("intake", sid)
        assert not any(k.lower().startswith("x-masker") for k in f.request.headers)


def test_connect_with_identifier_username_is_refused_with_407():
    ident = Identity()
    with taddons.context(MaskerOptions(), ident):
        connect = _flow()
        connect.request.method = "CONNECT"
        connect.request.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(b"jane@example.com:").decode()
        ident.http_connect(connect)
        assert connect.response.status_code == 407 and _error(connect)["code"] == INVALID_AGENT_ID
        assert b"jane" not in connect.response.content
        malformed = _flow()
        malformed.request.method = "CONNECT"
        malformed.request.headers["Proxy-Authorization"] = "Bearer abc"
        ident.http_connect(malformed)
        assert malformed.response.status_code == 407 and _error(malformed)["code"] == identity.BAD_IDENTITY


def test_helpers_raise_with_codes():
    with pytest.raises(IdentityError) as err:
        proxy_auth_user("Basic " + base64.b64encode(b"jane@example.com:").decode())
    assert err.value.code == INVALID_AGENT_ID and "jane" not in str(err.value)
    with pytest.raises(IdentityError) as err:
        split_agent_path("/proxy/5551234567/v1")
    assert err.value.code == INVALID_AGENT_ID and "5551234567" not in str(err.value)


def test_default_session_option_is_checked_at_configure():
    ident = Identity()
    with taddons.context(MaskerOptions(), ident) as tctx:
        with pytest.raises(exceptions.OptionsError) as err:
            tctx.configure(ident, masker_default_session="555-123-4567")
        assert "555" not in str(err.value)
        tctx.configure(ident, masker_default_session="shared-session")
        f = _flow()
        ident.request(f)
        assert f.metadata[identity.SCOPE_KEY] == Scope("default", "shared-session")
