"""OpenAI Realtime over WebSocket: client events masked, server events rehydrated.

``websocket_message`` is awaited by mitmproxy before the message is relayed,
and every later message of the same connection, in both directions, waits
behind it: while a client event is being masked, the server's audio deltas
queue. Masking therefore runs in a thread (the loop keeps serving other
connections) under the detection timeout, and its cost is the engine's
(measured with the test engine: client hook p50 0.24 ms, i.e. the thread
hop; server delta rehydration p50 0.03 ms on the loop; the real engine adds
its detection time, NER included, to each client text event). A binary
frame from the client, when the policy blocks media, is refused like an
``input_audio_buffer.append`` event. Any failure drops the message, tells
the client with a Realtime ``error`` event (code only, no content), journals
``request_blocked`` for a refused client event, and closes the connection.
mitmproxy 12 cannot close an open WebSocket through ``flow.kill()`` (the
WebSocket layer never checks it: mitmproxy issues #4773 / #4711), so
``close_connection`` closes it through the proxy server (the one use of
mitmproxy internals, kept in ``masker.proxy.mitm_internals``), and until it
is gone every later message of the flow, either way, is dropped.

A server message may become several: when a ``*.done`` event flushes a
held-back token tail, that tail goes out first as its own delta message
(``RealtimeRehydrator.server_events``). The current message is rewritten to
the first of them and the rest are injected after it, in order
(``inject.websocket``: mitmproxy queues injected messages behind the message
whose hook is running, so order is kept). Injected server messages pass
through this hook again and are left alone. Rehydration events go to the
audit recorder (journaled off the loop, in batches).
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable

from mitmproxy import ctx, exceptions, http

from masker.audit.events import REQUEST_BLOCKED, AuditUnavailable, Event
from masker.engine import Engine, MaskingError, TextField
from masker.providers import realtime
from masker.providers.url import route_template
from masker.proxy import mitm_internals
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import MASKED_KEY, api_path
from masker.proxy.options import DEFAULT_DETECT_TIMEOUT, parse_detect_timeout
from masker.proxy.recorder import AuditRecorder
from masker.scope import Scope

log = logging.getLogger("masker.proxy")

DEFAULT_KEEP_MESSAGES = 64
Inject = Callable[[http.HTTPFlow, bool, bytes], None]  # (flow, to_client, text message)
Close = Callable[[http.HTTPFlow], bool]


def inject_websocket(flow: http.HTTPFlow, to_client: bool, message: bytes) -> None:
    """mitmproxy 12's ``inject.websocket`` command (a text message)."""
    ctx.master.commands.call("inject.websocket", flow, to_client, message, True)


def close_connection(flow: http.HTTPFlow) -> bool:
    """Close the flow's WebSocket; False when it is not (or no longer) live.

    mitmproxy has no public API for this: ``masker.proxy.mitm_internals``
    closes the upstream connection through the proxy server, and the
    WebSocket layer then closes the client with a close frame, after the
    messages queued before (the injected error event).
    """
    return mitm_internals.close_server_connection(flow)


def _reason(e: Exception) -> str:
    if isinstance(e, MaskingError):
        return e.code
    if isinstance(e, TimeoutError):
        return "detect_timeout"
    if isinstance(e, AuditUnavailable):
        return "audit_unavailable"
    return "masking_failed"


def error_event(reason: str) -> bytes:
    """A Realtime ``error`` server event naming only Masker's reason code."""
    return json.dumps({
        "type": "error",
        "event_id": "masker_error",
        "error": {"type": "masker_error", "code": reason,
                  "message": f"Masker refused a WebSocket message ({reason}); the connection is closed"},
    }).encode()


class RealtimeSocket:
    """``engine`` / ``recorder``: zero-argument callables returning the current one or None.

    Owns ``masker_ws_keep_messages``; parses it and ``masker_detect_timeout`` in ``configure``.
    """

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        recorder: Callable[[], AuditRecorder | None],
        inject: Inject = inject_websocket,
        close: Close = close_connection,
    ) -> None:
        self._engine = engine
        self._recorder = recorder
        self._inject = inject
        self._close = close
        self._failed: weakref.WeakSet[http.HTTPFlow] = weakref.WeakSet()
        self._rehydrators: weakref.WeakKeyDictionary[http.HTTPFlow, tuple[realtime.RealtimeRehydrator, list[Event]]] = (
            weakref.WeakKeyDictionary()
        )
        self._keep = DEFAULT_KEEP_MESSAGES
        self._timeout = parse_detect_timeout(DEFAULT_DETECT_TIMEOUT)

    def load(self, loader) -> None:
        loader.add_option(
            "masker_ws_keep_messages", int, DEFAULT_KEEP_MESSAGES,
            "WebSocket messages kept per flow (older ones are dropped from memory).",
        )

    def configure(self, updated: set[str]) -> None:
        if "masker_ws_keep_messages" in updated:
            if ctx.options.masker_ws_keep_messages < 1:
                raise exceptions.OptionsError("masker_ws_keep_messages must be >= 1")
            self._keep = ctx.options.masker_ws_keep_messages
        if "masker_detect_timeout" in updated:
            self._timeout = parse_detect_timeout(ctx.options.masker_detect_timeout)

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        msg = flow.websocket.messages[-1]
        if not flow.metadata.get(MASKED_KEY):
            return  # not an LLM flow (the upgrade request went through Masking)
        if flow in self._failed and not msg.injected:
            msg.drop()  # failed earlier: the connection is being closed
            return
        if msg.injected and not msg.from_client:
            return  # Masker's own (already rehydrated deltas, error events): failing here would re-inject forever
        try:
            engine, recorder = self._engine(), self._recorder()
            if engine is None:
                raise RuntimeError("no engine")
            if recorder is None or recorder.failure:
                # as for HTTP requests: once after-the-fact events cannot be journaled, nothing more goes through
                raise AuditUnavailable("audit recorder unavailable")
            scope: Scope = flow.metadata[SCOPE_KEY]
            if msg.from_client:
                await self._client(msg, engine, scope)
            elif msg.is_text:
                await self._server(flow, msg, engine, scope)
        except Exception as e:  # noqa: BLE001 - fail closed: drop and close
            msg.drop()
            self._fail(flow, msg.from_client, e)
        finally:
            keep = self._keep
            if len(flow.websocket.messages) > keep:
                del flow.websocket.messages[:-keep]

    def _fail(self, flow: http.HTTPFlow, from_client: bool, e: Exception) -> None:
        """Journal a refused client event, tell the client, close the connection.

        Never raises: a hook that raises lets mitmproxy relay the message.
        """
        reason = _reason(e)
        log.error("masker websocket %s message refused: %s (%s); closing the connection",
                  "client" if from_client else "server", reason, type(e).__name__)
        self._failed.add(flow)
        if flow.killable:
            flow.kill()  # marks the flow failed for mitmproxy's UI (it does not close it)
        try:
            engine, recorder = self._engine(), self._recorder()
            if from_client and engine is not None and recorder is not None and reason != "audit_unavailable":
                scope: Scope = flow.metadata[SCOPE_KEY]
                policy = engine.policy_for(scope.agent)
                recorder.record([Event(kind=REQUEST_BLOCKED, agent=scope.agent, session=scope.session, reason=reason,
                                       policy=policy.name, policy_hash=policy.hash,
                                       detail={"host": flow.request.pretty_host, "path": route_template(api_path(flow)),
                                               "transport": "websocket"})])
            self._inject(flow, True, error_event(reason))
            if not self._close(flow):
                log.error("masker could not close the websocket connection; its messages are dropped")
        except Exception as e2:  # noqa: BLE001
            log.error("masker websocket failure handling failed: %s", type(e2).__name__)

    async def _client(self, msg, engine: Engine, scope: Scope) -> None:
        media = engine.policy_for(scope.agent).media
        if not msg.is_text:
            if media == "block":  # as an audio event under "block": refused, journaled, the client told
                raise MaskingError("media_blocked", "binary WebSocket frames are blocked by policy", 400)
            return

        def mask(fields: list[TextField]) -> list[str]:
            return engine.mask_texts(fields, scope)

        msg.text = await asyncio.wait_for(
            asyncio.to_thread(realtime.mask_realtime_client_event, msg.text, mask, media=media),
            timeout=self._timeout,
        )

    async def _server(self, flow: http.HTTPFlow, msg, engine: Engine, scope: Scope) -> None:
        recorder = self._recorder()
        if recorder is None:
            raise RuntimeError("no audit recorder")
        state = self._rehydrators.get(flow)
        if state is None:
            events: list[Event] = []

            def rehydrate(text: str, *, json_escape: bool = False) -> str:
                return engine.rehydrate(text, scope, events, json_escape=json_escape)

            state = self._rehydrators[flow] = (realtime.RealtimeRehydrator(rehydrate), events)
        rehydrator, events = state
        first, *rest = rehydrator.server_events(msg.text)
        msg.text = first
        for text in rest:
            self._inject(flow, True, text.encode("utf-8"))
        if events:
            recorder.record(list(events))
            events.clear()
