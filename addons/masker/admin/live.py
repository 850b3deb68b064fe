"""The live firewall view's memory: recent turns per session, public side only.

A *turn* is one LLM request and its response. The buffer keeps only what
the provider saw (the public side): the masked request body, the notes of
the spans Masker replaced (kinds, passes, confidences, the tokens written,
never a value), the response text as the upstream sent it (tokens), the
rehydration outcomes by kind and, for a refused request, Masker's code.
The regulated side (real values) is never stored: the page gets it from
``render_turn``, which rehydrates the public text from the vault at view
time under the turn's own scope, like any rehydration, and nothing of it
is written anywhere.

Bounds (oldest dropped first, nothing ever blocks the proxy):

* ``MAX_SESSIONS`` sessions (the least recently active one goes);
* ``MAX_TURNS`` turns per session;
* ``MAX_BYTES`` of kept text in all; a request body over
  ``MAX_REQUEST_BYTES`` is not kept (the turn says how large it was), a
  response is kept up to ``MAX_RESPONSE_BYTES`` (then marked truncated);
* each subscriber (an open page) has a queue of ``QUEUE_SIZE`` notices: a
  page that falls behind is dropped (``Subscription.overflowed``) and
  reconnects with a fresh snapshot, rather than hold memory or the loop.

The buffer's mutators and ``subscribe`` are called on the proxy's event
loop (mitmproxy hooks and the admin handlers share it); reads take a lock
and may run in a thread (rendering rehydrates, which reads SQLite).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from masker.engine import TextField
from masker.providers import router
from masker.scope import Scope

MAX_SESSIONS = 200
MAX_TURNS = 50
MAX_BYTES = 32 * 1024 * 1024
MAX_REQUEST_BYTES = 256 * 1024
MAX_RESPONSE_BYTES = 64 * 1024
QUEUE_SIZE = 256
LIVE_SECONDS = 300.0  # a session with a turn this recent is "live"; older ones are "recent"
TURN_OVERHEAD = 512  # bytes counted per turn besides its texts (notes, counters)
# String leaves of a response body (JSON or SSE data) that hold model text, for display.
_TEXT_KEYS = frozenset({"content", "text", "arguments", "delta", "transcript", "refusal", "thinking", "partial_json"})


@dataclass
class Turn:
    """One request/response, public side only (see the module doc)."""

    id: int
    agent: str
    session: str
    method: str
    route: str
    path: str  # the API path, for reading the body's text fields (never holds a value: checked on the way in)
    ts: float
    body: bytes | None = None  # the masked request body that went upstream
    body_size: int = 0
    spans: list[dict[str, Any]] = field(default_factory=list)
    upstream: bytes = b""
    upstream_mime: str = ""
    truncated: bool = False
    rehydrated: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    blocked: str | None = None
    status: int = 0
    outcome: str = ""
    done: bool = False

    @property
    def scope(self) -> Scope:
        return Scope(self.agent, self.session)

    @property
    def size(self) -> int:
        return TURN_OVERHEAD + len(self.body or b"") + len(self.upstream)

    def kinds(self) -> set[str]:
        return {str(s.get("kind")) for s in self.spans} | set(self.rehydrated) | set(self.failed)


class ResponseCopy:
    """The first ``MAX_RESPONSE_BYTES`` of a response as the upstream sent it (decoded), piece by piece."""

    def __init__(self, mime: str, limit: int = MAX_RESPONSE_BYTES) -> None:
        self.mime = mime
        self.data = bytearray()
        self.truncated = False
        self._limit = limit

    def add(self, piece: bytes) -> None:
        room = self._limit - len(self.data)
        if len(piece) > room:
            self.truncated = True
            piece = piece[:max(room, 0)]
        self.data += piece


@dataclass(eq=False)  # compared (and hashed) by identity: one per open page
class Subscription:
    """An open page's queue of ``(session, turn id)`` notices."""

    queue: asyncio.Queue[tuple[str, int]]
    overflowed: bool = False  # the page fell behind: its notices stopped, it should reconnect
    closed: bool = False

    @property
    def active(self) -> bool:
        return not (self.overflowed or self.closed)

    def close(self) -> None:
        """The page went away: wakes its reader, which then stops."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(("", 0))


class LiveBuffer:
    """Recent turns per session, bounded (see the module doc)."""

    def __init__(self, *, max_sessions: int = MAX_SESSIONS, max_turns: int = MAX_TURNS,
                 max_bytes: int = MAX_BYTES, clock: Callable[[], float] = time.time) -> None:
        self._max_sessions, self._max_turns, self._max_bytes = max_sessions, max_turns, max_bytes
        self._clock = clock
        self._sessions: collections.OrderedDict[str, collections.deque[Turn]] = collections.OrderedDict()
        self._bytes = 0
        self._by_id: dict[int, Turn] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        # Turns are recorded only while the admin listener serves the view: with no one
        # able to look, no traffic is held in memory for it.
        self.recording = False

    # -- writing (event loop) --------------------------------------------------

    def open_turn(self, scope: Scope, method: str, route: str, path: str, body: bytes | None,
                  spans: list[dict[str, Any]]) -> int:
        """A masked request on its way upstream; returns the turn id for ``finish``."""
        size = len(body or b"")
        turn = Turn(next(self._ids), scope.agent, scope.session, method, route, path, self._clock(),
                    body=body if size <= MAX_REQUEST_BYTES else None, body_size=size, spans=list(spans))
        self._add(turn)
        return turn.id

    def blocked(self, scope: Scope, method: str, route: str, code: str, status: int) -> int:
        """A request Masker refused: only its code is kept (its body may hold PHI)."""
        turn = Turn(next(self._ids), scope.agent, scope.session, method, route, "", self._clock(),
                    blocked=code, status=status, outcome=code, done=True)
        self._add(turn)
        return turn.id

    def finish(self, turn_id: int, *, status: int, outcome: str, response: ResponseCopy | None,
               rehydrated: dict[str, int], failed: dict[str, int]) -> None:
        """The response is complete (or failed): its upstream copy, outcome and rehydration counts by kind."""
        with self._lock:
            turn = self._by_id.get(turn_id)
            if turn is None:
                return
            turn.status, turn.outcome, turn.done = status, outcome, True
            turn.rehydrated, turn.failed = dict(rehydrated), dict(failed)
            if response is not None:
                turn.upstream, turn.upstream_mime, turn.truncated = bytes(response.data), response.mime, response.truncated
                self._bytes += len(turn.upstream)
            session = turn.session
        self._trim()
        self._notify(session, turn_id)

    def _add(self, turn: Turn) -> None:
        with self._lock:
            turns = self._sessions.pop(turn.session, None) or collections.deque()
            self._sessions[turn.session] = turns  # most recently active last
            turns.append(turn)
            self._by_id[turn.id] = turn
            self._bytes += turn.size
            if len(turns) > self._max_turns:
                self._forget(turns.popleft())
            while len(self._sessions) > self._max_sessions:
                _, dropped = self._sessions.popitem(last=False)
                for old in dropped:
                    self._forget(old)
        self._trim()
        self._notify(turn.session, turn.id)

    def _trim(self) -> None:
        """Drop the oldest turns until the kept text fits ``max_bytes`` (the newest turn stays)."""
        with self._lock:
            while self._bytes > self._max_bytes:
                oldest = min((t[0] for t in self._sessions.values() if t), key=lambda t: t.id, default=None)
                if oldest is None or sum(len(t) for t in self._sessions.values()) <= 1:
                    return
                turns = self._sessions[oldest.session]
                self._forget(turns.popleft())
                if not turns:
                    del self._sessions[oldest.session]

    def _forget(self, turn: Turn) -> None:
        self._by_id.pop(turn.id, None)
        self._bytes -= turn.size

    # -- subscribers (event loop) ----------------------------------------------

    def subscribe(self) -> Subscription:
        sub = Subscription(asyncio.Queue(QUEUE_SIZE))
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def _notify(self, session: str, turn_id: int) -> None:
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait((session, turn_id))
            except asyncio.QueueFull:  # a page that does not read: dropped, it reconnects
                sub.overflowed = True
                self._subscribers.discard(sub)

    # -- reading (any thread) --------------------------------------------------

    @property
    def kept_bytes(self) -> int:
        return self._bytes

    def turn(self, turn_id: int) -> Turn | None:
        with self._lock:
            return _copy(self._by_id.get(turn_id))

    def turns(self, session: str) -> list[Turn]:
        with self._lock:
            return [_copy(t) for t in self._sessions.get(session, ())]  # type: ignore[misc]

    def sessions(self) -> list[dict[str, Any]]:
        """Summaries, most recently active first (ids, counts, kinds; no text)."""
        now = self._clock()
        with self._lock:
            out = []
            for session, turns in reversed(self._sessions.items()):
                if not turns:
                    continue
                kinds: collections.Counter[str] = collections.Counter()
                for t in turns:
                    kinds.update(str(s.get("kind")) for s in t.spans)
                out.append({
                    "session": session,
                    "agents": sorted({t.agent for t in turns}),
                    "turns": len(turns),
                    "blocked": sum(1 for t in turns if t.blocked),
                    "first_ts": iso(turns[0].ts),
                    "last_ts": iso(turns[-1].ts),
                    "live": now - turns[-1].ts <= LIVE_SECONDS,
                    "kinds": dict(sorted(kinds.items())),
                })
            return out


def iso(ts: float) -> str:
    """UTC ISO 8601 with milliseconds, as the journal writes its times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _copy(turn: Turn | None) -> Turn | None:
    if turn is None:
        return None
    return Turn(turn.id, turn.agent, turn.session, turn.method, turn.route, turn.path, turn.ts, turn.body,
                turn.body_size, list(turn.spans), turn.upstream, turn.upstream_mime, turn.truncated,
                dict(turn.rehydrated), dict(turn.failed), turn.blocked, turn.status, turn.outcome, turn.done)


# -- display: the two sides of a turn ----------------------------------------

Rehydrate = Callable[[str], str]


def request_texts(turn: Turn) -> list[TextField]:
    """The masked request's text fields (role, path), read by the same body walk that masked them."""
    if turn.body is None or not turn.body:
        return []
    found: list[TextField] = []

    def collect(fields: list[TextField]) -> list[str]:
        found.extend(fields)
        return [f.text for f in fields]

    router.mask_request(turn.path, json.loads(turn.body), collect, media="allow")
    return [f for f in found if not f.context]  # numbers (read with their key's words) are not text


def response_text(turn: Turn) -> str:
    """The model's text in the upstream response (JSON or SSE), else the body as sent."""
    raw = turn.upstream.decode("utf-8", "replace")
    if turn.upstream_mime == "text/event-stream":
        docs = [_loads(line[5:].strip()) for line in raw.splitlines() if line.startswith("data:")]
        text = "".join(_texts(d) for d in docs if d is not None)
        return text or raw
    doc = _loads(raw)
    return "\n".join(_leaves(doc)) if doc is not None and _leaves(doc) else raw


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _texts(doc: Any) -> str:
    return "".join(_leaves(doc))


def _leaves(doc: Any, key: str = "") -> Iterator[str]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, str(k))
    elif isinstance(doc, list):
        for v in doc:
            yield from _leaves(v, key)
    elif isinstance(doc, str) and key in _TEXT_KEYS:
        yield doc


def render_turn(turn: Turn, rehydrate: Callable[[str, Scope], str] | None) -> dict[str, Any]:
    """The turn as the page shows it: each text's public side (tokens) and, when ``rehydrate``
    is given (the engine is up), its regulated side restored at view time under the turn's scope.

    Blocking (the body walk, vault reads): call it off the event loop. The result holds PHI:
    it goes to an authenticated page and nowhere else.
    """

    def sides(public: str) -> dict[str, str | None]:
        return {"public": public, "regulated": rehydrate(public, turn.scope) if rehydrate is not None else None}

    doc: dict[str, Any] = {
        "id": turn.id, "agent": turn.agent, "session": turn.session, "method": turn.method,
        "route": turn.route, "ts": iso(turn.ts), "status": turn.status, "outcome": turn.outcome,
        "done": turn.done, "blocked": turn.blocked, "chips": chips(turn), "request": [], "response": None,
        "request_note": None, "truncated": turn.truncated,
    }
    if turn.blocked:
        return doc
    if turn.body is None and turn.body_size:
        doc["request_note"] = f"request body of {turn.body_size} bytes is too large to show"
    try:
        doc["request"] = [{"role": f.role, "path": f.path, **sides(f.text)} for f in request_texts(turn)]
    except Exception as e:  # noqa: BLE001 - the type only: a message could quote the body
        doc["request_note"] = f"the request body could not be read ({type(e).__name__})"
    if turn.done and turn.upstream:
        doc["response"] = sides(response_text(turn))
    return doc


def chips(turn: Turn) -> list[dict[str, Any]]:
    """One chip per detection, per kind rehydrated or not, and per refusal (kinds and codes only)."""
    out: list[dict[str, Any]] = [
        {"type": "detection", "kind": s.get("kind"), "pass": s.get("pass"), "confidence": s.get("confidence"),
         "action": s.get("action"), "path": s.get("path")}
        for s in turn.spans
    ]
    out += [{"type": "rehydrated", "kind": k, "count": n} for k, n in sorted(turn.rehydrated.items())]
    out += [{"type": "rehydration_failed", "kind": k, "count": n} for k, n in sorted(turn.failed.items())]
    if turn.blocked:
        out.append({"type": "blocked", "code": turn.blocked})
    return out
