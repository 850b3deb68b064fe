"""Sessions and their events as the verified audit journal records them (no values).

Every line is read through ``masker.audit.verify.scan``, so what the API
answers has passed the HMAC chain. The session summaries are kept up to date
incrementally (each call reads only the lines appended since the last one,
at most ``MAX_SESSIONS`` sessions kept, least recently active dropped);
``events`` reads the whole journal for one session, like a report does.

No lock is taken (a shared lock would hold every writer, i.e. every
request, for the whole read): a final line still being written is simply
read next time. A journal that does not verify raises ``JournalUnreadable``.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacl.signing import VerifyKey

from masker.audit.verify import ChainBroken, ChainState, Record, initial_state, scan

MAX_SESSIONS = 10_000
MAX_EVENTS = 10_000  # events answered per session (the first ones; ``truncated`` says so)
_HIDDEN = ("curr_hash", "prev_hash")


class JournalUnreadable(Exception):
    """The journal does not verify (the message names the seq, never a value)."""


class JournalView:
    def __init__(self, directory: Path, audit_key: bytes, verify_key: VerifyKey | None = None) -> None:
        self._directory, self._key, self._verify_key = Path(directory), audit_key, verify_key
        self._state: ChainState | None = None
        self._sessions: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def sessions(self) -> list[dict[str, Any]]:
        """One summary per session (agents, event counts by kind, first/last ts), most recent first."""
        with self._lock:
            try:
                self._catch_up()
            except JournalUnreadable:  # e.g. retention deleted a day file we had read: read it all again
                self._state = None
                self._sessions.clear()
                self._catch_up()
            return [dict(s, agents=sorted(s["agents"]), kinds=dict(sorted(s["kinds"].items())))
                    for s in reversed(self._sessions.values())]

    def events(self, session: str) -> dict[str, Any]:
        """The session's events (fields as journaled, hashes left out), in journal order."""
        found: list[dict[str, Any]] = []
        total = 0

        def keep(rec: Record, _state: ChainState) -> None:
            nonlocal total
            if rec.body.get("session") == session:
                total += 1
                if len(found) < MAX_EVENTS:
                    found.append({k: v for k, v in rec.body.items() if k not in _HIDDEN})

        self._scan(self._start(), keep)
        return {"session": session, "events": found, "count": total, "truncated": total > len(found)}

    def _catch_up(self) -> None:
        if self._state is None:
            self._state = self._start()
        self._scan(self._state, self._add)

    def _start(self) -> ChainState:
        try:
            return initial_state(self._directory, self._verify_key)
        except ChainBroken as e:
            raise JournalUnreadable(f"the journal's anchor does not verify ({e})") from None

    def _add(self, rec: Record, _state: ChainState) -> None:
        session = rec.body.get("session")
        if not session:
            return
        summary = self._sessions.pop(session, None) or {
            "session": session, "agents": set(), "events": 0, "kinds": collections.Counter(),
            "first_ts": rec.body.get("ts"), "first_seq": rec.seq,
        }
        summary["agents"].add(rec.body.get("agent") or "")
        summary["events"] += 1
        summary["kinds"][rec.body.get("kind")] += 1
        summary["last_ts"], summary["last_seq"] = rec.body.get("ts"), rec.seq
        self._sessions[session] = summary
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def _scan(self, state: ChainState, on_record: Callable[[Record, ChainState], None]) -> None:
        try:
            scan(self._directory, self._key, state, on_record)
        except ChainBroken as e:
            if e.torn:
                return  # a line being written now: read next time
            raise JournalUnreadable(f"the journal does not verify at seq {e.seq}") from None
