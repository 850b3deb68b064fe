"""The live firewall view: the page at ``/``, its static files, and the live stream of turns.

* ``/`` (authenticated; a browser without the session cookie is sent to
  ``/login``): ``static/index.html``, which loads ``live.js`` and ``admin.css``
  (the CSP allows no inline script or style);
* ``/static/NAME`` (public): only the script, style and image files that
  ship in ``admin/static`` (no page: pages are served by their routes);
* ``/api/v1/live?session=ID`` (authenticated): server-sent events. First a
  ``sessions`` event (the buffer's summaries) and, for ``session``, one
  ``turn`` event per kept turn; then, as traffic flows, a ``sessions``
  event and (for the chosen session) a ``turn`` event per change. Each
  turn carries both sides: the public text as the provider saw it and the
  regulated text rehydrated from the vault *now*, under the turn's scope
  (``live.render_turn``); a comment line every ``HEARTBEAT_S`` keeps
  proxies from closing an idle stream. A page that falls behind is cut off
  and reconnects (``EventSource`` does so by itself) with a fresh snapshot.

Rehydration for display is not journaled (its events are dropped): it is
no traffic, and the session's report must count what the caller got.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.iostream

from masker.admin.auth import AdminHandler
from masker.admin.live import Subscription, Turn, render_turn
from masker.scope import Scope

STATIC_DIR = Path(__file__).with_name("static")
INDEX_PAGE = STATIC_DIR / "index.html"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".png": "image/png", ".svg": "image/svg+xml"}
HEARTBEAT_S = 15.0


class PageHandler(AdminHandler):
    """``GET /``: the live view page, or a redirect to the login form."""

    public = True  # checked here: a browser is redirected rather than answered 401

    def get(self) -> None:
        if not self.authenticated():
            self.redirect("/login")
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(INDEX_PAGE.read_bytes())


class StaticHandler(AdminHandler):
    """``GET /static/NAME``: a file of ``admin/static`` whose type is in ``STATIC_TYPES``."""

    public = True  # the login page needs its style before anyone is logged in; no file holds data

    def get(self, name: str) -> None:
        path = STATIC_DIR / name
        content_type = STATIC_TYPES.get(path.suffix)
        if content_type is None or path.parent != STATIC_DIR or not path.is_file():
            self.send_error_json(404, "not_found", "no such static file")
            return
        self.set_header("Content-Type", content_type)
        self.write(path.read_bytes())


def display_rehydrate(engine: Any) -> Callable[[str, Scope], str] | None:
    """Rehydration for display under a turn's scope, its events dropped (not journaled); None without an engine."""
    if engine is None:
        return None

    def rehydrate(text: str, scope: Scope) -> str:
        return engine.rehydrate(text, scope, [])

    return rehydrate


class LiveStreamHandler(AdminHandler):
    """``GET /api/v1/live?session=ID``: the live turns as server-sent events (see the module doc)."""

    _sub: Subscription | None = None

    async def get(self) -> None:
        live = self.backend.live()
        session = self.get_query_argument("session", "") or None
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        sub = self._sub = live.subscribe()  # before the snapshot: nothing that happens meanwhile is missed
        try:
            await self._send("sessions", live.sessions())
            if session is not None:
                for turn in live.turns(session):
                    await self._send_turn(turn)
            while sub.active:
                try:
                    changed, turn_id = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    self.write(": ping\n\n")
                    await self.flush()
                    continue
                if not sub.active:
                    break
                await self._send("sessions", live.sessions())
                if changed == session and (turn := live.turn(turn_id)) is not None:
                    await self._send_turn(turn)
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            live.unsubscribe(sub)

    def on_connection_close(self) -> None:
        if self._sub is not None:
            self._sub.close()

    async def _send_turn(self, turn: Turn) -> None:
        doc = await asyncio.to_thread(render_turn, turn, display_rehydrate(self.backend.engine()))
        await self._send("turn", doc)

    async def _send(self, event: str, doc: Any) -> None:
        self.write(f"event: {event}\ndata: {json.dumps(doc, ensure_ascii=False)}\n\n")
        await self.flush()


def routes(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    args = {"backend": backend}
    return [
        (r"/", PageHandler, args),
        (r"/static/([A-Za-z0-9][A-Za-z0-9._-]*)", StaticHandler, args),
        (r"/api/v1/live", LiveStreamHandler, args),
    ]
