"""Sessions: ``/api/v1/sessions``, ``/api/v1/sessions/{id}/events``, ``/api/v1/sessions/{id}/report``.

* ``GET /api/v1/sessions``: every session the journal records (agents,
  events by kind, first and last time) and those the live view holds
  (turns in memory, blocked requests, kinds detected, ``live`` when a
  turn is recent), most recently active first; ids, kinds and counts only.
* ``GET /api/v1/sessions/{id}/events``: the session's journal events, as
  journaled (no values: kinds, tokens, offsets, codes), after the chain
  verified.
* ``POST /api/v1/sessions/{id}/report`` (bearer token only, like every
  state-changing call): builds the signed session report (JSON + PDF
  written under ``<data dir>/reports``) and answers the signed document,
  its Ed25519 signature (base64) and public key.

Journal reads and report building run in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from masker.admin.auth import AdminHandler
from masker.admin.journal_view import JournalUnreadable
from masker.audit.report import ReportError


def merge_sessions(view: list[dict[str, Any]], journal: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """One entry per session id: ``view`` (the live buffer's summary) and ``journal`` (None where absent)."""
    merged: dict[str, dict[str, Any]] = {}
    for source, summaries in (("journal", journal or []), ("view", view)):
        for s in summaries:
            entry = merged.setdefault(s["session"], {"session": s["session"], "live": False, "view": None, "journal": None})
            entry[source] = {k: v for k, v in s.items() if k not in ("session", "live")}
            entry["live"] = entry["live"] or bool(s.get("live"))

    def last(entry: dict[str, Any]) -> str:
        return max((entry[src] or {}).get("last_ts") or "" for src in ("view", "journal"))

    return sorted(merged.values(), key=last, reverse=True)


class SessionsHandler(AdminHandler):
    async def get(self) -> None:
        view = self.backend.live().sessions()
        try:
            journal = await asyncio.to_thread(self.backend.journal().sessions)
            status: dict[str, Any] = {"ok": True}
        except (LookupError, JournalUnreadable) as e:
            journal, status = None, {"ok": False, "message": str(e)}
        self.send_json(200, {"sessions": merge_sessions(view, journal), "journal": status})


class SessionEventsHandler(AdminHandler):
    async def get(self, session: str) -> None:
        try:
            journal = self.backend.journal()
        except LookupError:
            self.send_error_json(503, "engine_unavailable", "no running engine: the journal cannot be read")
            return
        try:
            doc = await asyncio.to_thread(journal.events, session)
        except JournalUnreadable as e:
            self.send_error_json(409, "journal_unreadable", str(e))
            return
        if not doc["count"]:
            self.send_error_json(404, "session_not_found", "the journal holds no event of this session")
            return
        self.send_json(200, doc)


class SessionReportHandler(AdminHandler):
    async def post(self, session: str) -> None:
        try:
            doc = await asyncio.to_thread(self.backend.session_report, session)
        except LookupError:
            self.send_error_json(503, "engine_unavailable", "no running engine: no key to sign a report with")
            return
        except ReportError as e:  # no events for the session, or a journal that does not verify
            self.send_error_json(422, "report_unavailable", str(e))
            return
        self.send_json(201, doc)


def routes(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    args = {"backend": backend}
    return [
        (r"/api/v1/sessions", SessionsHandler, args),
        (r"/api/v1/sessions/([^/]+)/events", SessionEventsHandler, args),
        (r"/api/v1/sessions/([^/]+)/report", SessionReportHandler, args),
    ]
