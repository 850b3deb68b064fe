"""Masks LLM request bodies before anything goes upstream.

Per request: JSON only (decoded from gzip/br/zstd, bounded in size, no
duplicate keys), every string, number and key walked by the provider router,
all of them masked by one ``engine.mask_texts`` call off the event loop
under a timeout (it journals the detection/redaction events durably before
returning), the masked JSON forwarded uncompressed. The URL goes through the
same engine first: path segments that hold an identifier refuse the request,
query names and values are masked. Only allow-listed headers leave
(``masker.providers.headers``). ``request_forwarded`` is held by the audit recorder
and journaled with the response's rehydration events once the response is
complete (``masker.proxy.recorder``). Anything else answers the client with
a JSON error and forwards nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from mitmproxy import ctx, http

from masker.audit.events import REQUEST_BLOCKED, REQUEST_FORWARDED, AuditUnavailable, Event
from masker.engine import Engine, MaskingError, SpanNote, TextField
from masker.providers import headers as provider_headers
from masker.providers import router, url
from masker.providers.base import loads_strict
from masker.proxy import access_log, errors, routing
from masker.proxy.codec import BodyTooLarge, decode_bounded
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.options import DEFAULT_DETECT_TIMEOUT, DEFAULT_MAX_BODY, parse_detect_timeout, parse_max_body
from masker.proxy.recorder import AuditRecorder
from masker.scope import Scope

log = logging.getLogger("masker.proxy")

# The thread checks the detection deadline itself once masking is done; the
# await gives it this much longer so its journal write is not cut off.
RECORD_GRACE_S = 1.0
MASKED_KEY = "masker_masked"  # set once a request may go upstream
LLM_KEY = "masker_llm"
# flow.metadata: a dict per span replaced in the request (``SpanNote.to_json``: kind, pass,
# confidence, action, the token written; never the value), for mitmweb, metrics and the live view
SPANS_KEY = "masker_spans"


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, type_: str = errors.MASKER_ERROR) -> None:
        super().__init__(message)
        self.status, self.code, self.type_ = status, code, type_


def is_json_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def api_path(flow: http.HTTPFlow) -> str:
    return flow.request.path.split("?", 1)[0]


def parse_json_body(raw: bytes, encoding: str | None, limit: int) -> object:
    try:
        data = decode_bounded(raw, encoding, limit)
    except BodyTooLarge:
        raise Refusal(413, "body_too_large", f"request body exceeds {limit} bytes") from None
    except ValueError:
        raise Refusal(400, "bad_encoding", "request body could not be decoded (content-encoding)") from None
    try:
        return loads_strict(data)
    except (UnicodeDecodeError, ValueError) as e:
        raise Refusal(400, "invalid_json", f"request body is not valid JSON (at byte {getattr(e, 'pos', None)})") from None


MaskFn = Callable[[list[TextField]], list[str]]


def mask_url(path: str, pairs: list[tuple[str, str]], mask: MaskFn) -> list[tuple[str, str]] | None:
    """Masked query parameters (names and values), or None when nothing changed.

    Path segments and query strings of an intercepted host go upstream too
    (and into its logs): both are scanned in one engine call, and journaled.
    A path segment that holds an identifier cannot be masked (the request
    would reach another resource): the request is refused.
    """
    segments = url.path_fields(path)
    fields, where = url.query_fields(pairs)
    if not segments and not fields:
        return None
    masked = mask(segments + fields)
    if any(m != f.text for m, f in zip(masked, segments)):
        raise Refusal(400, "identifier_in_path", "the URL path holds an identifier; nothing was forwarded")
    out = [list(p) for p in pairs]
    for (i, j), text in zip(where, masked[len(segments):], strict=True):
        out[i][j] = text
    new = [(n, v) for n, v in out]
    return None if new == pairs else new


class _LlmHosts:
    """``masker_llm_hosts`` as the last ``configure`` saw it (the option's default until then)."""

    def __init__(self) -> None:
        self.llm_hosts: tuple[str, ...] = routing.DEFAULT_LLM_HOSTS

    def configure(self, updated: set[str]) -> None:
        if "masker_llm_hosts" in updated:
            self.llm_hosts = tuple(ctx.options.masker_llm_hosts)


class Masking(_LlmHosts):
    """``engine`` / ``recorder``: zero-argument callables returning the current one or None.

    Parses ``masker_llm_hosts``, ``masker_max_body`` and ``masker_detect_timeout`` in ``configure``.
    """

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        recorder: Callable[[], AuditRecorder | None],
        problem: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._recorder = recorder
        self._problem = problem
        self._max_body = parse_max_body(DEFAULT_MAX_BODY)
        self._timeout = parse_detect_timeout(DEFAULT_DETECT_TIMEOUT)

    def configure(self, updated: set[str]) -> None:
        super().configure(updated)
        if "masker_max_body" in updated:
            self._max_body = parse_max_body(ctx.options.masker_max_body)
        if "masker_detect_timeout" in updated:
            self._timeout = parse_detect_timeout(ctx.options.masker_detect_timeout)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.metadata.get("masker_local"):
            return
        try:
            if not routing.is_llm_flow(flow, self.llm_hosts):
                return  # plain-HTTP proxy request to a non-LLM host: not ours
            flow.metadata[LLM_KEY] = True
            await self._mask(flow)
            flow.metadata[MASKED_KEY] = True
        except Refusal as r:
            errors.refuse(flow, r.status, r.code, str(r), type_=r.type_)
            self._record_blocked(flow, r.code)
        except Exception as e:  # noqa: BLE001 - fail closed
            errors.fail_closed(flow, "masking", e)
            self._record_blocked(flow, "masking_failed")

    async def _mask(self, flow: http.HTTPFlow) -> None:
        engine, recorder = self._engine(), self._recorder()
        if engine is None or recorder is None:
            raise Refusal(503, "engine_unavailable", f"Masker is not ready: {self._problem() or 'no engine'}")
        if recorder.failure:
            raise Refusal(503, "audit_unavailable", "the audit journal is unavailable; nothing was forwarded", "AuditUnavailable")
        scope: Scope = flow.metadata[SCOPE_KEY]
        req = flow.request
        req.anticomp()  # responses arrive uncompressed: streams can be parsed as they come
        raw, encoding = req.raw_content, req.headers.get("content-encoding")
        if req.trailers:  # trailer fields would go upstream unscanned
            raise Refusal(400, "trailers_unsupported", "Masker does not forward request trailers")
        if raw and not is_json_type(req.headers.get("content-type", "")):
            raise Refusal(415, "unsupported_media_type", "Masker forwards only application/json request bodies")
        policy = engine.policy_for(scope.agent)
        path, media = api_path(flow), policy.media
        limit, timeout = self._max_body, self._timeout
        deadline = time.monotonic() + timeout
        event = Event(kind=REQUEST_FORWARDED, agent=scope.agent, session=scope.session,
                      policy=policy.name, policy_hash=policy.hash,
                      detail={"host": req.pretty_host, "path": url.route_template(path), "method": req.method})

        spans: list[dict] = flow.metadata.setdefault(SPANS_KEY, [])

        def mask(fields: list[TextField]) -> list[str]:
            notes: list[SpanNote] = []
            masked = engine.mask_texts(fields, scope, notes)
            access_log.count_masked(flow.metadata, fields, masked)  # kinds and counts for the access line, no values
            spans.extend(n.to_json() for n in notes)
            return masked

        query = list(req.query.items(multi=True))

        def work() -> tuple[bytes | None, list[tuple[str, str]] | None]:
            """Everything CPU- or disk-bound, in one thread hop: decode, parse, mask (and journal)."""
            out = None
            new_query = mask_url(path, query, mask)
            if raw:
                masked = router.mask_request(path, parse_json_body(raw, encoding, limit), mask, media=media)
                out = json.dumps(masked, ensure_ascii=False, separators=(",", ":")).encode()
            if time.monotonic() > deadline:
                raise TimeoutError  # too late: the caller refuses it
            return out, new_query

        try:
            out, new_query = await asyncio.wait_for(asyncio.to_thread(work), timeout + RECORD_GRACE_S)
        except TimeoutError:
            raise Refusal(503, "detect_timeout", f"masking took longer than {timeout}s") from None
        except AuditUnavailable:
            raise Refusal(
                503, "audit_unavailable", "the audit journal is unavailable; nothing was forwarded", "AuditUnavailable"
            ) from None
        except MaskingError as e:
            raise Refusal(e.status, e.code, str(e)) from None
        if new_query is not None:
            req.query = new_query
        if out is not None:
            req.headers.pop("content-encoding", None)
            req.content = out
            req.headers["content-type"] = "application/json"
        try:
            kept, dropped = provider_headers.forwardable(list(req.headers.items(multi=True)))
        except MaskingError as e:
            raise Refusal(e.status, e.code, str(e)) from None
        req.headers = http.Headers([(n.encode(), v.encode()) for n, v in kept])
        event.detail["headers_dropped"] = dropped
        recorder.hold(flow.id, event)  # journaled with the response (Rehydration releases it)

    def _record_blocked(self, flow: http.HTTPFlow, code: str) -> None:
        engine, recorder = self._engine(), self._recorder()
        scope = flow.metadata.get(SCOPE_KEY) or Scope()
        if engine is None or recorder is None or code == "audit_unavailable":
            return
        policy = engine.policy_for(scope.agent)
        event = Event(kind=REQUEST_BLOCKED, agent=scope.agent, session=scope.session, reason=code,
                      policy=policy.name, policy_hash=policy.hash,
                      detail={"host": flow.request.pretty_host, "path": url.route_template(api_path(flow))})
        recorder.record([event])  # the request is refused either way: no need to wait for the fsync


class ForwardGuard(_LlmHosts):
    """Last addon in the request chain: an LLM flow not marked as masked is refused.

    Defence in depth against a masking hook that was skipped or raised
    outside its own handler (mitmproxy then forwards the flow unmodified).

    A replayed flow (``replay.client``, mitmweb's edit-and-replay) is the same
    flow object, metadata included: markers of an earlier pass are cleared in
    ``requestheaders`` so they cannot wave an edited, unmasked body through.
    A request body streamed upstream is never seen by the ``request`` hooks,
    so streaming is switched off for LLM flows, whoever switched it on.
    """

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        for key in (MASKED_KEY, LLM_KEY, "masker_local"):
            flow.metadata.pop(key, None)
        try:
            if flow.request.stream and routing.is_llm_flow(flow, self.llm_hosts):
                log.warning("masker turned off request body streaming for an LLM flow (it would bypass masking)")
                flow.request.stream = False
        except Exception as e:  # noqa: BLE001
            errors.fail_closed(flow, "guard", e)

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            if flow.response is not None or flow.metadata.get(MASKED_KEY):
                return
            if flow.metadata.get(LLM_KEY) or routing.is_llm_flow(flow, self.llm_hosts):
                errors.refuse(flow, 502, "not_masked", "request was not masked; nothing was forwarded")
        except Exception as e:  # noqa: BLE001
            errors.fail_closed(flow, "guard", e)
