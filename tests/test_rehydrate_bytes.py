"""No raw token ever reaches the client: the byte-level guard behind the parsed paths.

Unit tests of ``masker.stream.guard`` (grammar on bytes, escaping per place,
tokens cut off at the end), of the buffered ``Rehydration`` addon on every
kind of body (no content type, text, binary, HTML, ND-JSON, JSON keys and
opaque keys, invalid UTF-8, headers) and of ``StreamRehydration`` on odd SSE
(``event:``/``id:``/comment lines, data that is not JSON, streams cut
mid-token), then hypothesis properties: any content type, any chunking,
tokens anywhere -> ``TOKEN_RE`` finds nothing in what the client gets and
every token of the caller's scope is restored.

Values are the fake ones of ``tests.helpers.providers`` (no real PHI); failure
messages say how many tokens got through, never the text.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy.test import taddons, tflow

from masker.audit.events import REHYDRATION, REHYDRATION_FAILED, Event
from masker.proxy import identity
from masker.proxy.masking import MASKED_KEY
from masker.proxy.options import MaskerOptions
from masker.proxy.recorder import AuditRecorder
from masker.proxy.rehydration import Rehydration, StreamRehydration
from masker.scope import Scope
from masker.stream import guard
from masker.stream.rehydrate import PendingTails
from masker.stream.sse import SseParser
from masker.tokens import scheme
from masker.tokens.scheme import TOKEN_RE
from tests.helpers.providers import UNKNOWN_TOKEN, VALUES, vault_token

MINE = Scope("intake", "s-1")
OTHER = Scope("intake", "s-2")

PLAIN = "Alice Smith"
QUOTED = 'Dan "Danny" O\\Brien'
MULTILINE = "12 Main St\r\nApt 4"
NAME = VALUES[PLAIN]
DAN = VALUES[QUOTED]
AEAD = VALUES["Zoë Müller"]
ADDRESS = vault_token("ADDRESS", "multiline")
FOREIGN = vault_token("NAME", "minted-in-another-session")  # in the vault, but for OTHER
VAULT = {MINE: {NAME: PLAIN, DAN: QUOTED, AEAD: "Zoë Müller", ADDRESS: MULTILINE}, OTHER: {FOREIGN: "Bob Jones"}}


def token_count(data: bytes | str) -> int:
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    return sum(1 for _ in TOKEN_RE.finditer(text))


class FakeEngine:
    """Restores a token only in the scope that minted it; anything else is redacted."""

    policy = None

    def __init__(self) -> None:
        self.calls = 0

    def rehydrate(self, text, scope, events=None, *, json_escape=False):
        self.calls += 1

        def sub(m) -> str:
            value = VAULT.get(scope, {}).get(m.group())
            if events is not None:
                events.append(Event(kind=REHYDRATION if value is not None else REHYDRATION_FAILED,
                                    entity_kind=m["kind"], token=m.group()))
            if value is None:
                return f"[REDACTED:{m['kind']}]"
            return json.dumps(value)[1:-1] if json_escape else value

        return TOKEN_RE.sub(sub, text)

    def record(self, events):
        pass


def mine(text: str, *, json_escape: bool = False) -> str:
    return FakeEngine().rehydrate(text, MINE, json_escape=json_escape)


# ------------------------------------------------------------- the grammar


TOKENISH = st.lists(
    st.sampled_from(["MSK", "MSKV1.", "MSK1.", "NAME.", "K_TEST.", "V1", "1", ".", "A", "M", "Z7", "_", " ", "\n",
                     "é", NAME, AEAD, UNKNOWN_TOKEN, NAME[:-3], AEAD + "Q", "MSKV1.NAME.K_TEST.", "2" * 30]),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(TOKENISH)
def test_bytes_grammar_finds_exactly_what_token_re_finds(text: str) -> None:
    data = text.encode("utf-8")
    as_bytes = [(m.start(), m.end()) for m in scheme.TOKEN_BYTES_RE.finditer(data)]
    # offsets compared on the surrogateescape text of the bytes: one character per byte for ASCII
    as_text = [(m.start(), m.end()) for m in TOKEN_RE.finditer(data.decode("ascii", "surrogateescape"))]
    assert as_bytes == as_text
    assert scheme.might_hold_token(data) or not as_bytes


def test_might_hold_token_is_only_the_scheme_marks() -> None:
    assert not scheme.might_hold_token(b"MSKCC is a hospital, base64 QUJDTVNL+/=")
    assert scheme.might_hold_token(b"x MSK1.") and scheme.might_hold_token("MSKV1.")


# ------------------------------------------------------ writing a restored value


def test_json_mode_escapes_quotes_and_backslashes_and_keeps_plain_values() -> None:
    doc = ('{"a": "%s", "b": "%s", "c": "%s"}' % (DAN, NAME, ADDRESS)).encode()
    out = guard.guard_bytes(doc, mine, guard.JSON)
    assert json.loads(out) == {"a": QUOTED, "b": PLAIN, "c": MULTILINE}


def test_raw_mode_keeps_the_value_and_every_byte_around_it() -> None:
    data = b"\xff\xfe" + NAME.encode() + b"\x00" + DAN.encode() + b"\x80"
    assert guard.guard_bytes(data, mine) == b"\xff\xfe" + PLAIN.encode() + b"\x00" + QUOTED.encode() + b"\x80"


def test_line_mode_never_breaks_a_line() -> None:
    out = guard.guard_bytes(b"id: " + ADDRESS.encode() + b"\n", mine, guard.LINE)
    assert out == b"id: 12 Main St Apt 4\n"


def test_markup_mode_escapes_html() -> None:
    out = guard.guard_bytes(b"<p>" + DAN.encode() + b"</p>", mine, guard.MARKUP)
    assert out == b"<p>Dan &quot;Danny&quot; O\\Brien</p>"


def test_foreign_and_unknown_tokens_are_redacted() -> None:
    out = guard.guard_bytes(f"{FOREIGN} {UNKNOWN_TOKEN}".encode(), mine)
    assert out == b"[REDACTED:NAME] [REDACTED:SSN]"


def test_aead_body_glued_to_letters_still_restores_what_follows() -> None:
    # The run after a match goes to the rehydrator with it (as in the text scan).
    data = (NAME + "QQ" + NAME).encode()
    out = guard.guard_bytes(data, mine)
    assert out == (PLAIN + "QQ" + PLAIN).encode()


def test_data_without_a_mark_is_returned_as_is_without_calls() -> None:
    engine = FakeEngine()
    data = b"MSKCC " * 1000
    assert guard.guard_bytes(data, lambda t, **kw: engine.rehydrate(t, MINE, **kw), at_end=True) is data
    assert engine.calls == 0


# ---------------------------------------------------- tokens cut off at the end


def test_a_token_cut_at_the_end_is_redacted_never_sent() -> None:
    for cut in (len("MSKV1."), len("MSKV1.NA"), len("MSKV1.NAME."), len(NAME) - 1):
        out = guard.guard_bytes(b"call " + NAME[:cut].encode(), mine, at_end=True)
        assert out.startswith(b"call [REDACTED:") and b"MSKV1" not in out
    assert guard.guard_bytes(b"call " + NAME[:-1].encode(), mine, at_end=True) == b"call [REDACTED:NAME]"
    assert guard.guard_bytes(b"call " + NAME[:8].encode(), mine, at_end=True) == b"call [REDACTED:TOKEN]"
    assert guard.guard_bytes(b"call " + NAME[:-1].encode() + b"\r\n", mine, at_end=True) == b"call [REDACTED:NAME]\r\n"
    # not at the end: a fragment, not held back by anything
    assert guard.guard_bytes(b"x " + NAME[:-1].encode() + b" y", mine, at_end=True) == b"x " + NAME[:-1].encode() + b" y"
    # short tails hold nothing of a token: text
    for text in (b"at 5 PM", b"see MSK", b"MSKV1"):
        assert guard.guard_bytes(text, mine, at_end=True) == text
    # a complete AEAD token at the end (could have grown) is restored
    assert guard.guard_bytes(b"hi " + AEAD.encode(), mine, at_end=True) == "hi Zoë Müller".encode()


def test_pending_tail_flushed_mid_token_is_redacted() -> None:
    tails = PendingTails(mine)
    assert tails.push("k", "Call " + NAME[:15], envelope=str) == "Call "
    assert tails.take("k") == "[REDACTED:NAME]"
    assert tails.push("k", "at 5 PM", envelope=str) == "at 5 P"
    assert tails.take("k") == "M"


def test_rehydrate_text_end_looks_after_rehydration() -> None:
    assert guard.rehydrate_text_end("x " + NAME, mine) == "x " + PLAIN
    assert guard.rehydrate_text_end("x " + NAME[:-2], mine) == "x [REDACTED:NAME]"


# --------------------------------------------------------- the SSE parser


def reference_lines(data: bytes) -> list[bytes]:
    """Lines of a whole body, split at once (what any chunking must give)."""
    out, pos = [], 0
    for m in re.finditer(rb"\r\n|\n|\r", data):
        out.append(data[pos : m.end()])
        pos = m.end()
    if pos < len(data):
        out.append(data[pos:])
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"data: x", b"\r", b"\n", b"\r\n", b":", b"\xff", b"event: e"]), max_size=40),
       st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_linear_parser_same_lines_as_a_whole_body_split(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    parser = SseParser()
    events = []
    prev = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        events += parser.feed(data[prev:cut])
        prev = cut
    events += parser.finish()
    got = [line for ev in events for line in (*ev.lines, ev.terminator) if line]
    assert got == reference_lines(data)


def test_long_line_parse_is_linear() -> None:
    def cost(size: int) -> float:
        line = b"data: " + b"A" * size + b"\n\n"
        parser = SseParser()
        started = time.perf_counter()
        for i in range(0, len(line), 16 * 1024):
            parser.feed(line[i : i + 16 * 1024])
        assert len(parser.finish()) == 0
        return time.perf_counter() - started

    cost(1 << 20)
    small, big = min(cost(1 << 20) for _ in range(3)), min(cost(8 << 20) for _ in range(3))
    assert big < 0.5 and big < 30 * max(small, 1e-3)  # quadratic was ~64x (and ~10 s at 8 MiB)


# ------------------------------------------------ buffered bodies (the addon)


def answered(body: bytes, content_type: str | None, *, headers: dict | None = None, encoding: str | None = None,
             scope: Scope = MINE, path: str = "/v1/chat/completions"):
    engine = FakeEngine()
    recorder = AuditRecorder(engine.record)
    rehydration = Rehydration(lambda: engine, lambda: recorder)
    with taddons.context(MaskerOptions(), rehydration):
        f = tflow.tflow()
        f.request.path = path
        f.metadata[identity.SCOPE_KEY] = scope
        f.metadata[MASKED_KEY] = True
        f.response = tflow.tresp(content=b"")
        f.response.headers.clear()
        for k, v in (headers or {}).items():
            f.response.headers[k] = v
        if content_type is not None:
            f.response.headers["content-type"] = content_type
        if encoding is not None:
            f.response.headers["content-encoding"] = encoding
        f.response.raw_content = body
        asyncio.run(rehydration.response(f))
    recorder.close()
    return f.response, engine


def test_json_without_content_type_keys_and_opaque_keys() -> None:
    doc = {NAME: {"signature": DAN, "encrypted_content": FOREIGN, "note": "for " + NAME},
           "b64_json": NAME, "audio": {"transcript": DAN, "data": "QUJD"}, "arguments": json.dumps({"who": DAN})}
    for ctype in (None, "text/plain", "application/octet-stream", "application/json"):
        resp, _ = answered(json.dumps(doc).encode(), ctype)
        n = token_count(resp.content)
        assert n == 0, f"{n} token(s) reached the client ({ctype})"
        got = json.loads(resp.content)
        assert got == {PLAIN: {"signature": QUOTED, "encrypted_content": "[REDACTED:NAME]", "note": "for " + PLAIN},
                       "b64_json": PLAIN, "audio": {"transcript": QUOTED, "data": "QUJD"},
                       "arguments": json.dumps({"who": QUOTED})}


def test_json_escaped_token_under_an_opaque_key() -> None:
    raw = json.dumps({"signature": NAME}).replace("M", "\\u004d", 1).encode()
    resp, _ = answered(raw, "application/json")
    assert json.loads(resp.content) == {"signature": PLAIN}


def test_keys_that_collide_once_redacted_keep_both_values() -> None:
    raw = json.dumps({FOREIGN: 1, UNKNOWN_TOKEN.replace("SSN", "NAME"): 2}).encode()
    resp, _ = answered(raw, "application/json")
    assert json.loads(resp.content) == {"[REDACTED:NAME]": 1, "[REDACTED:NAME]#2": 2}


def test_text_binary_and_invalid_utf8_bodies() -> None:
    body = b"\x89PNG\xff" + NAME.encode() + b"\xc3(" + DAN.encode() + b" " + FOREIGN.encode()
    for ctype in (None, "text/plain", "application/octet-stream", "image/png", "audio/mpeg"):
        resp, _ = answered(body, ctype)
        assert resp.content == b"\x89PNG\xff" + PLAIN.encode() + b"\xc3(" + QUOTED.encode() + b" [REDACTED:NAME]"
        assert resp.headers["content-length"] == str(len(resp.content))


def test_invalid_json_body_is_guarded_with_json_escaping() -> None:
    body = ('{"a": "%s", "cut": "%s' % (DAN, NAME[:20])).encode()  # cut off: not JSON
    resp, _ = answered(body, "application/json")
    assert resp.content == b'{"a": "Dan \\"Danny\\" O\\\\Brien", "cut": "[REDACTED:NAME]'


def test_json_lines_and_html() -> None:
    ndjson = (json.dumps({"t": NAME.replace("M", "\\u004d")}).replace("\\\\", "\\") + "\n" + f"not json {DAN}\n").encode()
    resp, _ = answered(ndjson, "application/x-ndjson")
    first, second = resp.content.splitlines()
    assert json.loads(first) == {"t": PLAIN} and second == b'not json Dan \\"Danny\\" O\\\\Brien'
    resp, _ = answered(b"<b>" + DAN.encode() + b"</b>", "text/html; charset=utf-8")
    assert resp.content == b"<b>Dan &quot;Danny&quot; O\\Brien</b>"


def test_compressed_body_is_decoded_and_guarded() -> None:
    resp, _ = answered(gzip.compress(b"plain " + NAME.encode()), "text/plain", encoding="gzip")
    assert resp.content == b"plain " + PLAIN.encode() and "content-encoding" not in resp.headers


def test_body_without_tokens_is_untouched_without_engine_calls() -> None:
    packed = gzip.compress(b"\xff\x00 MSKCC " * 100)
    resp, engine = answered(packed, "application/octet-stream", encoding="gzip")
    assert resp.raw_content == packed and resp.headers["content-encoding"] == "gzip"
    resp, engine = answered(b'{"a": "MSKCC"}', None)
    assert resp.content == b'{"a": "MSKCC"}' and engine.calls == 0


def test_headers_and_reason_are_guarded() -> None:
    resp, _ = answered(b"{}", "application/json", headers={"x-note": "for " + NAME, "x-other": FOREIGN, NAME: "v"})
    assert resp.headers["x-note"] == "for " + PLAIN and resp.headers["x-other"] == "[REDACTED:NAME]"
    assert NAME not in resp.headers and len(resp.headers.fields) == 3  # the field named by a token is dropped


def test_other_scope_gets_everything_redacted() -> None:
    body = f"{NAME} {DAN}".encode()
    resp, _ = answered(body, None, scope=OTHER)
    assert resp.content == b"[REDACTED:NAME] [REDACTED:NAME]"


# ---------------------------------------------------------- streamed SSE


def streamed(chunks: list[bytes], scope: Scope = MINE, path: str = "/v1/chat/completions") -> tuple[bytes, StreamRehydration]:
    flow = tflow.tflow(resp=True)
    flow.request.path = path
    s = StreamRehydration(flow, FakeEngine(), scope, "identity")
    out = b""
    for chunk in [*chunks, b""]:
        got = s(chunk)
        assert got != b"" or chunk == b"", "b'' mid-stream would end the body"
        out += got if isinstance(got, bytes) else b"".join(got)
    assert not s.dead
    return out, s


def chat(delta: dict, extra: dict | None = None) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}], **(extra or {})}).encode() + b"\n\n"


def test_sse_tokens_in_every_kind_of_line_are_restored() -> None:
    body = (b": keep-alive " + NAME.encode() + b"\n\n"
            + b"event: " + DAN.encode() + b"\nid: " + ADDRESS.encode() + b"\ndata: not json " + DAN.encode() + b"\n\n"
            + chat({"content": "hi"}, {NAME: DAN, "signature": NAME})
            + b'data: {"x": "\xff ' + NAME.encode() + b'"}\n\n'
            + b"data: [DONE]\n\n")
    out, s = streamed([body[i : i + 7] for i in range(0, len(body), 7)])
    n = token_count(out)
    assert n == 0, f"{n} token(s) reached the client"
    assert out.startswith(b": keep-alive Alice Smith\n\nevent: " + QUOTED.encode() + b"\nid: 12 Main St Apt 4\n"
                          b"data: not json " + QUOTED.encode() + b"\n\n")
    event = json.loads(out.split(b"\n\n")[2][len(b"data: "):])
    assert event[PLAIN] == QUOTED and event["signature"] == PLAIN  # JSON-escaped on a JSON data line
    assert b'data: {"x": "\xff Alice Smith"}\n\n' in out  # invalid UTF-8: guarded as bytes
    assert {e.kind for e in s.events} == {REHYDRATION}


def test_sse_stream_cut_mid_token_ends_redacted() -> None:
    out, _ = streamed([chat({"content": "Call " + NAME[:20]})])  # no finish, no [DONE], the body just ends
    assert b"MSKV1" not in out
    texts = [json.loads(e[6:])["choices"][0]["delta"]["content"] for e in out.split(b"\n\n") if e]
    assert "".join(texts) == "Call [REDACTED:NAME]"
    out, _ = streamed([b"data: plain " + NAME[:20].encode()])  # a line that never ended
    assert out == b"data: plain [REDACTED:NAME]"  # an unterminated last event goes out as it came
    out, _ = streamed([b"id: 1\ndata: plain " + NAME[:20].encode() + b"\n"])  # an event that never ended
    assert out == b"id: 1\ndata: plain [REDACTED:NAME]\n"
    out, _ = streamed([b'data: {"choices": [{"index": 0, "delta": {"content": "' + NAME[:20].encode()])
    assert b"MSKV1" not in out and out.endswith(b"[REDACTED:NAME]")


def test_sse_escaped_token_in_a_field_the_shape_ignores() -> None:
    event = json.dumps({"choices": [{"index": 0, "delta": {}, "logprobs": {"note": NAME}}]}).replace("M", "\\u004d")
    out, _ = streamed([b"data: " + event.replace("\\\\", "\\").encode() + b"\n\n"])
    assert json.loads(out[6:])["choices"][0]["logprobs"] == {"note": PLAIN}


def test_sse_killed_stream_sends_nothing_held() -> None:
    flow = tflow.tflow(resp=True, live=True)
    s = StreamRehydration(flow, FakeEngine(), MINE, "identity")
    assert s(chat({"content": "Call " + NAME[:20]})) in ([], b"data: " + json.dumps(
        {"choices": [{"index": 0, "delta": {"content": "Call "}}]}, separators=(",", ":")).encode() + b"\n\n")
    s._sse = None  # the next chunk raises: the stream is killed
    assert s(b"data: x\n\n") == [] and s.dead and s(b"") == []


# ------------------------------------------------------------ properties

OWN = [NAME, AEAD]  # plain values: written the same way in every mode
OWN_VALUES = {NAME: PLAIN, AEAD: "Zoë Müller"}
ANY_TOKEN = st.sampled_from([NAME, AEAD, FOREIGN, UNKNOWN_TOKEN, DAN])
SEP = st.sampled_from([" ", "\n", '"', "\xff", "\r\n", "\t", ",", ":", "é"])
FRAGMENT = st.one_of(
    st.tuples(SEP, ANY_TOKEN, SEP).map(lambda t: ("tok", t)),
    st.sampled_from(["plain text ", "5 PM ", "MSKCC ", "MSK", "M", "{", "}", '"signature": ', "data: ", "event: ",
                     "id: ", ": ", "\n\n", "\n", "\xc3", "\x80", "\x00"]).map(lambda t: ("txt", t)),
)
CTYPES = st.sampled_from([None, "", "text/plain", "application/octet-stream", "application/json", "text/html",
                          "application/x-ndjson", "image/png", "application/xml", "text/event-stream"])


def assemble(frags, tail_cut: int | None) -> tuple[bytes, int]:
    """Body bytes (\\xff / \\xc3 / \\x80 as raw invalid bytes) and how many own tokens it holds."""
    out, own = b"", 0
    for kind, frag in frags:
        if kind == "tok":
            a, tok, b = frag
            out += _raw(a) + tok.encode() + _raw(b)
            own += tok in OWN
        else:
            out += _raw(frag)
    if tail_cut is not None:
        out += b" " + NAME[: 6 + tail_cut % (len(NAME) - 6)].encode()  # ends mid-token
    return out, own


def _raw(text: str) -> bytes:
    return b"".join(bytes([ord(c)]) if c in "\xff\xc3\x80" else c.encode() for c in text)


def own_restored(out: bytes) -> int:
    """Restored own values in ``out``, in any way a mode writes them (as is, JSON-escaped)."""
    text = out.decode("utf-8", "replace")
    return sum(text.count(form) for v in OWN_VALUES.values() for form in {v, json.dumps(v)[1:-1]})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENT, max_size=25), CTYPES, st.one_of(st.none(), st.integers(0, 100)))
def test_property_buffered_any_type_no_token_reaches_the_client(frags, ctype, tail_cut) -> None:
    body, own = assemble(frags, tail_cut)
    resp, _ = answered(body, ctype)
    out = resp.content
    n = token_count(out)
    assert n == 0, f"{n} token(s) reached the client ({ctype})"
    marks = out.count(b"MSKV1.") + out.count(b"MSK1.")
    assert marks == 0, f"{marks} token fragment(s) reached the client"  # the token cut at the end too
    assert own_restored(out) >= own


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENT, max_size=25), st.one_of(st.none(), st.integers(0, 100)),
       st.lists(st.integers(min_value=0, max_value=4000), max_size=10))
def test_property_streamed_any_bytes_any_chunking(frags, tail_cut, cuts) -> None:
    body, own = assemble(frags, tail_cut)
    points = sorted({c % (len(body) + 1) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)])]
    out, _ = streamed(chunks)
    n = token_count(out)
    assert n == 0, f"{n} token(s) reached the client"
    marks = out.count(b"MSKV1.") + out.count(b"MSK1.")
    assert marks == 0, f"{marks} token fragment(s) reached the client"
    assert own_restored(out) >= own


JSON_DOC = st.recursive(
    st.one_of(ANY_TOKEN, st.sampled_from(["x", "M", "5 PM", "MSKCC"]), st.integers(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(ANY_TOKEN, st.sampled_from(["signature", "b64_json", "audio", "content",
                                                                "arguments", "encrypted_content", "k"])),
                        inner, max_size=4),
    ),
    max_leaves=12,
)


JSON_READ = (None, "", "text/plain", "application/octet-stream", "application/json", "application/x-ndjson")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_DOC, CTYPES, st.booleans(), st.integers(0, 2**32))
def test_property_json_anywhere_escaped_or_not(doc, ctype, escape, seed) -> None:
    raw = json.dumps(doc, ensure_ascii=False)
    if escape:  # some tokens \u-escaped, as a JSON encoder may write them
        rnd = random.Random(seed)
        raw = "".join("\\u004d" if c == "M" and rnd.random() < 0.5 else c for c in raw)
    resp, _ = answered(raw.encode(), ctype)
    out = resp.content
    n = token_count(out)
    assert n == 0, f"{n} token(s) reached the client ({ctype})"
    if ctype in JSON_READ:  # a client that parses it as JSON finds none either
        try:
            parsed = json.loads(out)
        except ValueError:
            parsed = None
        if parsed is not None:
            n = token_count(json.dumps(parsed, ensure_ascii=False))
            assert n == 0, f"{n} token(s) in the parsed body ({ctype})"
