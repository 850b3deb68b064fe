"""A tenant's allow-list and deny-list (the policy's ``allow:`` and ``deny:``).

- The **deny list** is a recognizer: each listed value (whole words,
  case-insensitive, any run of whitespace inside) and each match of a listed
  pattern is reported as the entry's kind with confidence 1, pass ``tenant``.
  Its spans are not subject to the kind's pass switches or threshold: the
  tenant said this value is that kind (the policy refuses a deny entry for a
  kind it disables or passes through).
- The **allow list** is a filter: a candidate whose covered text is a listed
  value (same comparison) or matches a listed pattern as a whole is dropped
  before merging, so it neither is masked nor trims another span. A deny
  entry wins over an allow entry.

Tenant regexes run with a timeout; a pathological one raises ``TimeoutError``
and the request is refused (fail closed), as for the policy's per-kind
``patterns``.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

from masker.detect.context import literal
from masker.detect.recognizer import Explanation
from masker.detect.spans import Span
from masker.policy.model import Policy

PASS = "tenant"
CONFIDENCE = 1.0
TENANT_TIMEOUT_S = 1.0
_WHY_VALUE = Explanation("deny_list", cue="deny:value")
_WHY_PATTERN = Explanation("deny_list", cue="deny:pattern")
_SPACES = regex.compile(r"\s+")


def _key(value: str) -> str:
    """How listed values compare: case-folded, whitespace runs as one space, ends trimmed."""
    return _SPACES.sub(" ", value).strip().casefold()


def _words(values: Iterable[str]) -> regex.Pattern[str] | None:
    """Whole-word, case-insensitive alternation of ``values`` (longest first)."""
    frags = sorted({literal(v) for v in values if v.strip()}, key=len, reverse=True)
    if not frags:
        return None
    return regex.compile(r"(?<![\p{L}\p{N}])(?:" + "|".join(frags) + r")(?![\p{L}\p{N}])", regex.I)


class DenyList:
    """Values and patterns that are always their entry's kind."""

    id = "deny_list"
    pass_name = PASS
    kinds: frozenset[str] = frozenset()  # the policy's entries say which
    detectors = frozenset({"deny_value", "deny_pattern"})
    description = "the policy's deny list: listed values and patterns, always masked as their kind"

    def __init__(self, policy: Policy) -> None:
        self._values = [(d.kind, p) for d in policy.deny if (p := _words(d.values)) is not None]
        self._patterns = [(d.kind, regex.compile(p)) for d in policy.deny for p in d.patterns]

    def __bool__(self) -> bool:
        return bool(self._values or self._patterns)

    def find(self, text: str) -> list[Span]:
        spans = [Span(m.start(), m.end(), kind, PASS, "deny_value", CONFIDENCE, _WHY_VALUE)
                 for kind, pattern in self._values for m in pattern.finditer(text)]
        spans += [Span(m.start(), m.end(), kind, PASS, "deny_pattern", CONFIDENCE, _WHY_PATTERN)
                  for kind, pattern in self._patterns
                  for m in pattern.finditer(text, timeout=TENANT_TIMEOUT_S) if m.end() > m.start()]
        return spans


class AllowList:
    """Values never masked: a candidate covering exactly one of them is dropped."""

    def __init__(self, policy: Policy) -> None:
        self._values = frozenset(_key(v) for v in policy.allow.values if v.strip())
        self._patterns = [regex.compile(p) for p in policy.allow.patterns]

    def __bool__(self) -> bool:
        return bool(self._values or self._patterns)

    def allows(self, value: str) -> bool:
        if _key(value) in self._values:
            return True
        return any(p.fullmatch(value, timeout=TENANT_TIMEOUT_S) is not None for p in self._patterns)

    def filter(self, text: str, spans: list[Span]) -> list[Span]:
        return [s for s in spans if not self.allows(text[s.start : s.end])]


RECOGNIZERS = (DenyList,)
