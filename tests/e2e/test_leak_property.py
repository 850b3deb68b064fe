"""Property: whatever the JSON body looks like, no planted value leaves in clear.

Hypothesis draws small JSON documents (any nesting, random keys, numbers,
duplicate keys written as raw JSON text, unknown fields) and puts
identifiers from a fixed planted set at random places: string leaves, object
keys, and number leaves for all-digit values under a key that names them
(``"ssn": 123456789``). Each document is POSTed through the REAL sidecar
(one session-scoped sidecar, real engine) to ``/v1/chat/completions`` and to
an endpoint nobody described. The answer may be a refusal (4xx/5xx with
Masker's JSON error) or a forward; either way the recording upstream must
hold none of the planted values (``leak_helpers.assert_no_leak``: raw,
decompressed and JSON-decoded bytes, plain and normalized).

The drawn documents hold placeholders (``("planted", "SSN")``), replaced by
the values only when the body is written: a falsifying example printed by
Hypothesis shows kinds, never the values. Shrinking is off (it would run the
sidecar hundreds of times); set ``LEAK_PROPERTY_SHRINK=1`` to shrink a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import string

import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from tests.e2e.leak_helpers import assert_json_answer, assert_no_leak

pytestmark = pytest.mark.timeout(240)

# What a placeholder stands for; the texts carry the cue words the regex pass needs.
TEXTS = {
    "SSN": "SSN 123-45-6789",
    "PHONE": "call 555-123-4567",
    "EMAIL": "maria.lopez@example.com",
    "NAME": "Patient Maria Lopez asks for a refill.",
    "ALL": "Patient Maria Lopez, SSN 123-45-6789, call 555-123-4567, email maria.lopez@example.com.",
}
NUMBERS = {"ssn": 123456789, "phone": 5551234567}  # all-digit values, as JSON numbers under a key that names them

# Keys the fake upstream reads to shape its answer (it must not crash on a drawn value).
_RESERVED = {"messages", "tools", "stream", "model"}
# No digits in random text or keys, and small numbers: nothing drawn can spell a planted value by chance.
_text = st.text(alphabet=string.ascii_letters + " .,:_-", max_size=10)
_key = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(lambda k: k not in _RESERVED)
_planted = st.sampled_from(sorted(TEXTS)).map(lambda kind: ("planted", kind))
_number_pair = st.sampled_from(sorted(NUMBERS)).map(lambda key: ("pair", key, ("number", key)))
_leaf = st.one_of(
    _text.map(lambda t: ("str", t)),
    st.integers(-50, 50).map(lambda n: ("int", n)),
    st.sampled_from(["true", "false", "null"]).map(lambda v: ("lit", v)),
    _planted,
    _planted,
)


def _one_in(n: int):
    """True about once in ``n`` draws (``integers(1, n) == 1`` would hit far more
    often: Hypothesis favours boundary values)."""
    return st.sampled_from([False] * (n - 1) + [True])


def _objects(children, dup_one_in: int = 0):
    """Objects as (key, value) pairs, keys unique unless a duplicate is drawn
    (one object in ``dup_one_in``): the second value of a duplicate key is planted."""
    key = _one_in(8).flatmap(lambda hit: _planted if hit else _key)  # about one key in eight planted
    pair = st.tuples(key, children).map(lambda kv: ("pair", *kv)) | _number_pair

    @st.composite
    def obj(draw):
        pairs = draw(st.lists(pair, max_size=4, unique_by=lambda p: repr(p[1])))
        if pairs and dup_one_in and draw(_one_in(dup_one_in)):
            first = draw(st.sampled_from(pairs))
            pairs.insert(draw(st.integers(pairs.index(first) + 1, len(pairs))), ("pair", first[1], draw(_planted)))
        return ("obj", pairs)

    return obj()


_node = st.recursive(_leaf, lambda children: st.one_of(st.lists(children, max_size=3).map(lambda xs: ("arr", xs)),
                                                      _objects(children)), max_leaves=8)
_extras = _objects(_node, dup_one_in=10).map(lambda o: o[1])  # top-level (key, value) pairs


def render(node) -> str:
    """Raw JSON text of a drawn node (duplicate keys kept), placeholders replaced."""
    tag = node[0]
    if tag == "str":
        return json.dumps(node[1])
    if tag == "int":
        return str(node[1])
    if tag == "lit":
        return node[1]
    if tag == "planted":
        return json.dumps(TEXTS[node[1]])
    if tag == "number":
        return str(NUMBERS[node[1]])
    if tag == "arr":
        return "[" + ",".join(render(x) for x in node[1]) + "]"
    if tag == "obj":
        return "{" + ",".join(_render_pair(p) for p in node[1]) + "}"
    raise ValueError(tag)


def _render_pair(pair) -> str:
    _, key, value = pair
    k = TEXTS[key[1]] if isinstance(key, tuple) else key
    return json.dumps(k) + ":" + render(value)


@st.composite
def chat_bodies(draw) -> tuple:
    messages = draw(st.lists(st.tuples(_node, _objects(_node, dup_one_in=24).map(lambda o: o[1])), min_size=1, max_size=3))
    return ("chat", messages, draw(_extras))


def render_chat(doc) -> bytes:
    _, messages, extras = doc
    msgs = ['{"role":"user","content":' + render(content) + "".join("," + _render_pair(p) for p in pairs) + "}"
            for content, pairs in messages]
    msgs.append('{"role":"user","content":"Please help."}')  # the fake upstream echoes the last user text
    top = "".join("," + _render_pair(p) for p in extras)
    return ('{"model":"gpt-4o-mini","messages":[' + ",".join(msgs) + "]" + top + "}").encode()


SETTINGS = settings(
    max_examples=int(os.environ.get("LEAK_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    database=None,  # nothing written to the working tree
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if os.environ.get("LEAK_PROPERTY_SHRINK") else [])],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _session() -> str:
    """Letters only: random hex digits sometimes look like an identifier, and
    Masker refuses such a session id (the example would test nothing)."""
    return "prop-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def _post(sidecar, bundle, path: str, content: bytes) -> httpx.Response:
    __tracebackhide__ = True  # pytest must not print ``content`` (test PHI)
    headers = {"content-type": "application/json", "x-masker-session": _session()}
    with httpx.Client(proxy=sidecar.url, verify=str(bundle), timeout=30, trust_env=False) as c:
        return c.post(f"https://api.openai.com{path}", content=content, headers=headers)


def _check(sidecar, bundle, upstream, path: str, content: bytes) -> None:
    __tracebackhide__ = True  # pytest must not print ``content`` (test PHI)
    upstream.received.clear()
    resp = _post(sidecar, bundle, path, content)
    event("forwarded" if upstream.received else f"refused {resp.status_code} {resp.headers.get('x-masker-error', '-')}")
    assert_no_leak(upstream)
    assert_json_answer(resp, upstream)


@SETTINGS
@given(doc=chat_bodies())
def test_chat_completions_never_forward_a_planted_value(sidecar, bundle, upstream, doc):
    _check(sidecar, bundle, upstream, "/v1/chat/completions", render_chat(doc))


@SETTINGS
@given(doc=_objects(_node, dup_one_in=6))
def test_unknown_endpoint_never_forwards_a_planted_value(sidecar, bundle, upstream, doc):
    _check(sidecar, bundle, upstream, "/v1/some/new/endpoint", render(doc).encode())


def test_rendering_plants_what_it_says():
    """The renderer writes valid JSON with the planted values where the placeholders are."""
    from tests.e2e.leak_helpers import kinds_in, loads_pairs

    doc = ("obj", [("pair", ("planted", "EMAIL"), ("planted", "SSN")), ("pair", "ssn", ("number", "ssn")),
                   ("pair", "a", ("arr", [("str", "x"), ("int", 3), ("lit", "null")])), ("pair", "a", ("planted", "PHONE"))])
    text = render(doc)
    assert loads_pairs(text) is not None
    assert set(kinds_in(text)) >= {"EMAIL", "PHONE", "SSN"}
    assert text.count('"a":') == 2  # the duplicate key is kept
    body = render_chat(("chat", [(("planted", "NAME"), [("pair", "x", ("planted", "ALL"))])], [("pair", "y", ("int", 1))]))
    assert json.loads(body)["messages"][-1] == {"role": "user", "content": "Please help."}
    assert set(kinds_in(body.decode())) >= {"NAME", "SSN", "PHONE", "EMAIL"}
