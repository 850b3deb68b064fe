"""OpenAI Realtime over WebSocket: client events masked, server events rehydrated.

``websocket_message`` is awaited by mitmproxy before the message is relayed,
and every later message of the same connection, in both directions, waits
behind it: while a client event is being masked, the server's audio deltas
queue. Masking therefore runs in a thread (the loop keeps serving other
connections) under the detection timeout, and its cost is the engine's
(measured with the test engine: client hook p50 0.24 ms, i.e. the thread
hop; server delta rehydration p50 0.03 ms on the loop; the real engine adds
its detection time, NER included, to each client text event). Binary frames from the client are dropped when the policy blocks
media. Any failure drops the message and closes the connection.

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
import logging
import weakref
from typing import Callable

from mitmproxy import ctx, http

from masker.audit.events import Event
from masker.engine import Engine, TextField
from masker.providers import realtime
from masker.proxy.identity import SCOPE_KEY
from masker.proxy.masking import MASKED_KEY
from masker.proxy.options import detect_timeout
from masker.proxy.recorder import AuditRecorder
from masker.scope import Scope

log = logging.getLogger("masker.proxy")

Inject = Callable[[http.HTTPFlow, bool, bytes], None]  # (flow, to_client, text message)


def inject_websocket(flow: http.HTTPFlow, to_client: bool, message: bytes) -> None:
    """mitmproxy 12's ``inject.websocket`` command (a text message)."""
    ctx.master.commands.call("inject.websocket", flow, to_client, message, True)


class RealtimeSocket:
    """``engine`` / ``recorder``: zero-argument callables returning the current one or None."""

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        recorder: Callable[[], AuditRecorder | None],
        inject: Inject = inject_websocket,
    ) -> None:
        self._engine = engine
        self._recorder = recorder
        self._inject = inject
        self._rehydrators: weakref.WeakKeyDictionary[http.HTTPFlow, tuple[realtime.RealtimeRehydrator, list[Event]]] = (
            weakref.WeakKeyDictionary()
        )

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        msg = flow.websocket.messages[-1]
        if not flow.metadata.get(MASKED_KEY):
            return  # not an LLM flow (the upgrade request went through Masking)
        try:
            engine = self._engine()
            if engine is None:
                raise RuntimeError("no engine")
            scope: Scope = flow.metadata[SCOPE_KEY]
            if msg.from_client:
                await self._client(msg, engine, scope)
            elif msg.is_text and not msg.injected:  # injected: already rehydrated, see _server
                await self._server(flow, msg, engine, scope)
        except Exception as e:  # noqa: BLE001 - fail closed: drop and close
            log.error("masker websocket %s message failed: %s; connection closed",
                      "client" if msg.from_client else "server", type(e).__name__)
            msg.drop()
            flow.kill()
        finally:
            keep = ctx.options.masker_ws_keep_messages
            if len(flow.websocket.messages) > keep:
                del flow.websocket.messages[:-keep]

    async def _client(self, msg, engine: Engine, scope: Scope) -> None:
        media = getattr(engine.policy, "media", "block")
        if not msg.is_text:
            if media == "block":
                log.warning("masker dropped a binary websocket frame from the client (media blocked)")
                msg.drop()
            return

        def mask(fields: list[TextField]) -> list[str]:
            return engine.mask_texts(fields, scope)

        msg.text = await asyncio.wait_for(
            asyncio.to_thread(realtime.mask_realtime_client_event, msg.text, mask, media=media),
            timeout=detect_timeout(),
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
