"""The policy's per-kind ``patterns``: a tenant's own identifier formats ("HX" and six digits).

A pattern with a ``value`` group reports that group, else the whole match.
Tenant regexes run with a timeout: a pathological one raises ``TimeoutError``
and the request is refused (fail closed).
"""

from __future__ import annotations

import regex

from masker.detect.context import id_kind
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan
from masker.policy.model import Policy

CUED_CONFIDENCE = 0.95  # after an ID cue naming the pattern's kind
CONFIDENCE = 0.85
TENANT_TIMEOUT_S = 1.0


class TenantPattern(RegexRecognizer):
    id = "tenant_pattern"
    kinds: frozenset[str] = frozenset()  # the policy's patterns say which
    detectors = frozenset({"tenant_pattern"})
    description = "the policy's per-kind patterns (entities.<KIND>.patterns), reported as their kind"
    needs_digit = False

    def __init__(self, policy: Policy | None = None) -> None:
        super().__init__()
        entities = policy.entities if policy is not None else {}
        self._patterns = [(kind, regex.compile(p)) for kind, rule in entities.items() for p in rule.patterns]
        self.kinds = frozenset(kind for kind, _ in self._patterns)

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for kind, pattern in self._patterns:
            use_group = "value" in pattern.groupindex
            for m in pattern.finditer(text, timeout=TENANT_TIMEOUT_S):
                start, end = m.span("value") if use_group else m.span()
                if end <= start:
                    continue
                cue = context.id_cue(text, start)
                if cue is not None and id_kind(cue)[0] == kind:
                    emit(start, end, kind, "tenant_pattern", CUED_CONFIDENCE, cue=context.id_label(text, cue))
                else:
                    emit(start, end, kind, "tenant_pattern", CONFIDENCE)
