"""A small deterministic stand-in for the masking engine (tests only).

Replaces a fixed set of PHI strings with real-grammar vault tokens and
restores them only inside the scope that minted them; any other token comes
back as ``[REDACTED:KIND]``. Marker words make it misbehave on purpose:
``FAIL_CRASH`` (RuntimeError), ``FAIL_AUDIT`` (AuditUnavailable),
``SLOW_PLEASE`` (sleeps SLOW_SECONDS), ``TIMEOUT_PLEASE`` (sleeps past any
test timeout); ``REHYDRATE_BOMB`` (one character, so it survives any stream
split) makes ``rehydrate`` raise. Events go to ``<data_dir>/fake-journal.jsonl``.

Only the ``fake_sidecar`` fixture and the tests that inject failures use it
(the entry script ``tests/e2e/fake_sidecar.py``); every other e2e test
runs the real engine (``masker.runtime:open_runtime``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from masker.audit.events import DETECTION, REHYDRATION, REHYDRATION_FAILED, AuditUnavailable, Event
from masker.engine import SpanNote, TextField
from masker.policy.model import Policy
from masker.scope import Scope
from masker.tokens.scheme import TOKEN_RE, VAULT_SCHEME, b32encode, format_token

PHI: dict[str, str] = {
    "John Smith": "NAME",
    "Maria Garcia": "NAME",
    "555-123-4567": "PHONE",
    "john.smith@example.com": "EMAIL",
    "123-45-6789": "SSN",
    "1984-03-12": "DOB",
}
KID = "K_HEALTHCARE"
REHYDRATE_BOMB = "\u2620"
SLOW_SECONDS = 0.8
TIMEOUT_SECONDS = 3.0
_KEY = b"fake-engine-test-key-not-secret!"


def token_for(value: str, kind: str) -> str:
    digest = hmac.new(_KEY, f"{kind}\x1f{value}".encode(), hashlib.sha256).digest()[:16]
    return format_token(VAULT_SCHEME, kind, KID, b32encode(digest))


class FakeEngine:
    def __init__(self, journal: Path | None = None) -> None:
        self.policy = Policy(
            name="fake", version=1, description="test engine", kid=KID,
            tokenization="vault-deterministic", passes=("regex",), entities={}, hash="0" * 64,
        )
        self._vault: dict[tuple[Scope, str], str] = {}
        self._lock = threading.Lock()
        self._journal = journal

    def policy_for(self, agent: str) -> Policy:
        return self.policy

    def upstream_for(self, agent: str) -> str | None:
        return None

    def mask_texts(self, fields: Sequence[TextField], scope: Scope, notes: list[SpanNote] | None = None) -> list[str]:
        out, events = [], []
        for f in fields:
            text = f.text
            if "FAIL_CRASH" in text:
                raise RuntimeError("engine crashed on purpose")
            if "FAIL_AUDIT" in text:
                raise AuditUnavailable("journal down on purpose")
            if "SLOW_PLEASE" in text:
                time.sleep(SLOW_SECONDS)
            if "TIMEOUT_PLEASE" in text:
                time.sleep(TIMEOUT_SECONDS)
            for value, kind in PHI.items():
                start = text.find(value)
                if start < 0:
                    continue
                tok = token_for(value, kind)
                with self._lock:
                    self._vault[(scope, tok)] = value
                text = text.replace(value, tok)
                events.append(Event(kind=DETECTION, agent=scope.agent, session=scope.session,
                                    entity_kind=kind, token=tok, detail={"path": f.path}))
            out.append(text)
        self.record(events)
        return out

    def rehydrate(self, text: str, scope: Scope, events: list[Event] | None = None, *, json_escape: bool = False) -> str:
        if REHYDRATE_BOMB in text:
            raise RuntimeError("rehydration failed on purpose")
        found: list[Event] = []

        def sub(m) -> str:
            tok = m.group(0)
            with self._lock:
                value = self._vault.get((scope, tok))
            if value is None:
                found.append(Event(kind=REHYDRATION_FAILED, agent=scope.agent, session=scope.session,
                                   entity_kind=m.group("kind"), token=tok, reason="foreign_scope"))
                return f"[REDACTED:{m.group('kind')}]"
            found.append(Event(kind=REHYDRATION, agent=scope.agent, session=scope.session,
                               entity_kind=m.group("kind"), token=tok))
            return json.dumps(value)[1:-1] if json_escape else value

        result = TOKEN_RE.sub(sub, text)
        if events is None:
            self.record(found)
        else:
            events.extend(found)
        return result

    def record(self, events: Sequence[Event]) -> None:
        if self._journal is None or not events:
            return
        with self._lock, self._journal.open("a") as f:
            for e in events:
                f.write(json.dumps(e.to_json()) + "\n")


def build_engine(policy_path: Path | None, data_dir: Path, env: Mapping[str, str], **_options: object) -> FakeEngine:
    data_dir.mkdir(parents=True, exist_ok=True)
    return FakeEngine(data_dir / "fake-journal.jsonl")


def broken_engine(policy_path: Path | None, data_dir: Path, env: Mapping[str, str], **_options: object) -> FakeEngine:
    raise RuntimeError("engine cannot start (on purpose)")
