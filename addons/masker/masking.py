"""``MaskingEngine``: the implementation of ``masker.engine.Engine`` for one policy
(``masker.agent_engines`` picks the one of a request's agent).

Where a request is masked: ``MaskingEngine.mask_texts``.
"""

from __future__ import annotations

from collections.abc import Sequence

from masker.audit.events import DETECTION, REDACTION_APPLIED, RESIDUAL_SCAN, SCAN_SKIPPED, Event, EventSink
from masker.detect.pipeline import Detector
from masker.detect.propagation import occurrences, propagated_values
from masker.detect.spans import Span
from masker.engine import MaskingError, SpanNote, TextField
from masker.policy.model import Policy
from masker.scope import Scope
from masker.tokens.apply import TokenApplier
from masker.tokens.rehydrate import Rehydrator
from masker.tokens.scheme import TOKEN_MARK, TOKEN_RE


class MaskingEngine:
    """The engine the sidecar and the CLI use: detector + tokens + journal.

    Beyond per-field detection it does two things a request needs as a whole:
    *propagation* (a value detected in one field is masked wherever else it
    occurs in the request, where context may have been too weak to find it)
    and a *residual scan* (the masked texts are scanned again by the
    rule-based passes; a finding outside a token blocks the request).

    Token-shaped text is left alone only when it is a genuine token of the
    caller's scope (it rehydrates there). Anything else shaped like a token
    refuses the request (``unverified_token``): its kind, key id and body can
    carry a value in forms no detector reads (a name as the kind, base32 of
    the value as the body), and no honest client holds one, since callers
    only ever see restored values.
    """

    def __init__(
        self,
        policy: Policy,
        detector: Detector,
        applier: TokenApplier,
        rehydrator: Rehydrator,
        sink: EventSink,
    ) -> None:
        self.policy = policy
        self.detector = detector
        self._applier = applier
        self._rehydrator = rehydrator
        self._sink = sink

    def policy_for(self, agent: str) -> Policy:
        return self.policy

    def upstream_for(self, agent: str) -> str | None:
        return None

    def mask_texts(self, fields: Sequence[TextField], scope: Scope, notes: list[SpanNote] | None = None) -> list[str]:
        events: list[Event] = []
        out = [f.text for f in fields]
        written: set[str] = set()  # replacements Masker wrote (surrogates are not tokens)

        touched: set[int] = set()  # fields that had spans to apply

        def apply(i: int, spans: Sequence[Span]) -> None:
            if spans:
                touched.add(i)
            out[i], ev = self._applier.apply(out[i], spans, scope)
            events.extend(_with_path(ev, fields[i].path))
            if notes is not None:
                notes.extend(_notes(i, fields[i].path, ev))
            written.update(_replacements(out[i], ev))

        scanned: list[int] = []
        for i, f in enumerate(fields):
            if self.policy.scans_role(f.role):
                scanned.append(i)
            else:
                events.append(self._event(SCAN_SKIPPED, scope, reason="role_not_scanned", path=f.path, role=f.role))

        # Tokens already in the request that are genuine for this scope; others are text.
        for i in scanned:
            written.update(self._verified_tokens(out[i], scope, fields[i].path))

        # 1. detection, all fields of the request in one batch (a field's context read in front of it)
        found: dict[str, str] = {}  # detected value -> kind
        views = [fields[i].context + out[i] for i in scanned]
        for i, spans in zip(scanned, self.detector.detect_batch(views)):
            spans = _after_context(spans, len(fields[i].context))
            found.update(propagated_values(out[i], spans, self.policy))
            apply(i, spans)
        # 2. propagation: a value detected anywhere is masked everywhere in the request
        if found:
            for i in scanned:
                spans = occurrences(out[i], found, _written_ranges(out[i], written))
                if spans:
                    apply(i, spans)
        # 3. residual scan: what the rule-based passes still find is masked once more;
        #    what remains after that (or straddles Masker's own output) blocks the request
        remasked = findings = 0
        for i in scanned:
            if i not in touched:
                continue  # no span at all: the rule-based passes found nothing in this text
            outside, straddling = self._residual(out[i], written)
            if outside:
                remasked += len(outside)
                apply(i, outside)
                outside, straddling = self._residual(out[i], written)
            findings += len(outside) + len(straddling)
        events.append(
            self._event(RESIDUAL_SCAN, scope, clean=findings == 0, findings=findings, remasked=remasked)
        )
        self._sink.append(events)
        if findings:
            raise MaskingError("residual_phi", f"{findings} identifier(s) remained after masking", 502)
        return out

    def rehydrate(
        self,
        text: str,
        scope: Scope,
        events: list[Event] | None = None,
        *,
        json_escape: bool = False,
    ) -> str:
        if TOKEN_MARK not in text:
            return text
        restored, ev = self._rehydrator.rehydrate(text, scope, json_escape=json_escape)
        if events is not None:
            events.extend(ev)
        elif ev:
            self._sink.append(ev)
        return restored

    def record(self, events: Sequence[Event]) -> None:
        self._sink.append(events)

    def _verified_tokens(self, text: str, scope: Scope, path: str) -> list[str]:
        """The token-shaped strings of ``text``, each a genuine token of ``scope``; else refused."""
        if TOKEN_MARK not in text:
            return []
        tokens = []
        for m in TOKEN_RE.finditer(text):
            if not self._rehydrator.is_genuine(m, scope):
                raise MaskingError("unverified_token", f"a token-shaped string at {path} was not minted for this "
                                   "agent and session; nothing was forwarded", 400)
            tokens.append(m.group())
        return tokens

    def _residual(self, text: str, written: set[str]) -> tuple[list[Span], list[Span]]:
        """Identifiers the rule-based passes still find: (clear of Masker's output, straddling it).

        Only the neighbourhood of what Masker wrote is scanned again: elsewhere
        the text and the context its detectors read are unchanged, so they
        would find what the first pass found. Spans wholly inside a token,
        placeholder or surrogate are Masker's own output.
        """
        ranges = _written_ranges(text, written)
        outside: list[Span] = []
        straddling: list[Span] = []
        # spans were applied but nothing Masker writes is here: trust nothing, scan it all
        windows = _windows(text, ranges) if ranges else [(0, len(text))]
        # Read twice: as sent (a finding across Masker's output is one it cut
        # short), and with Masker's output blanked, so that a token glued to
        # what follows it ("...TOKEN4(212) 555-0199") hides no word boundary.
        blanked = _blank(text, ranges)
        for a, b in windows:
            for piece in (text[a:b], blanked[a:b]):
                for w in self.detector.rule_based(piece):
                    s = Span(w.start + a, w.end + a, w.kind, w.pass_name, w.detector, w.confidence)
                    if not self.policy.masks(s.kind) or any(x <= s.start and s.end <= y for x, y in ranges):
                        continue
                    if any(o.start == s.start and o.end == s.end for o in outside + straddling):
                        continue
                    overlaps = any(x < s.end and s.start < y for x, y in ranges)
                    (straddling if overlaps else outside).append(s)
        return outside, straddling

    def _event(self, kind: str, scope: Scope, *, reason: str | None = None, **detail: object) -> Event:
        return Event(
            kind=kind,
            agent=scope.agent,
            session=scope.session,
            policy=self.policy.name,
            policy_hash=self.policy.hash,
            reason=reason,
            detail=dict(detail),
        )


# Characters around a replacement that the rule-based detectors may read as
# context (their cue windows are a few words); the residual scan re-reads them.
_RESIDUAL_CONTEXT = 96


def _with_path(events: list[Event], path: str) -> list[Event]:
    for e in events:
        e.detail.setdefault("path", path)
    return events


def _notes(field: int, path: str, events: list[Event]) -> list[SpanNote]:
    """A ``SpanNote`` per detection in ``events`` (the applier's: each detection is
    followed by its redaction event unless the kind passes through)."""
    notes: list[SpanNote] = []
    for n, e in enumerate(events):
        if e.kind != DETECTION:
            continue
        after = events[n + 1] if n + 1 < len(events) else None
        written = after.token if after is not None and after.kind == REDACTION_APPLIED and after.span == e.span else None
        notes.append(SpanNote(field, path, e.entity_kind or "", str(e.detail.get("pass", "")), e.detector or "",
                              float(e.detail.get("confidence", 0.0)), str(e.detail.get("action", "")), written))
    return notes


def _replacements(masked: str, events: list[Event]) -> set[str]:
    return {
        masked[e.detail["out"][0] : e.detail["out"][1]]
        for e in events
        if e.kind == REDACTION_APPLIED and "out" in e.detail
    }


def _after_context(spans: Sequence[Span], n: int) -> list[Span]:
    """Spans of ``context + text`` as spans of ``text``: shifted back, cut at its start."""
    if not n:
        return list(spans)
    return [Span(max(s.start, n) - n, s.end - n, s.kind, s.pass_name, s.detector, s.confidence)
            for s in spans if s.end > n]


def _blank(text: str, ranges: list[tuple[int, int]]) -> str:
    """``text`` with each range replaced by as many spaces (offsets hold)."""
    if not ranges:
        return text
    chars = list(text)
    for a, b in ranges:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def _written_ranges(text: str, produced: set[str]) -> list[tuple[int, int]]:
    """Ranges of ``text`` that Masker wrote (tokens, placeholders, surrogates) or
    genuine tokens of the scope that were there already."""
    ranges: list[tuple[int, int]] = []
    for value in produced:
        start = text.find(value)
        while start != -1:
            ranges.append((start, start + len(value)))
            start = text.find(value, start + 1)
    return ranges


def _windows(text: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged windows of ``_RESIDUAL_CONTEXT`` around each range, widened to whitespace."""
    windows: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        a, b = max(0, a - _RESIDUAL_CONTEXT), min(len(text), b + _RESIDUAL_CONTEXT)
        while a > 0 and not text[a - 1].isspace():
            a -= 1
        while b < len(text) and not text[b].isspace():
            b += 1
        if windows and a <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(b, windows[-1][1]))
        else:
            windows.append((a, b))
    return windows
