"""Cue look-back: which kind the words said just before a value name.

The built-in phrases are ``vocab.spoken_cues.CUES``; a policy adds its
entities' ``context`` words as tenant cues (cue id ``tenant:<KIND>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from masker.detect.vocab.spoken_cues import CUES, WEAK_CUES
from masker.policy.model import Policy

_PHRASE_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True, slots=True)
class Cue:
    """A cue that fired: the ``kind`` it names and the ``id`` of its list (``"PHONE"``, ``"tenant:PHONE"``)."""

    kind: str
    id: str


class Cues:
    """Cue phrases by their last word, for nearest-cue look-back."""

    def __init__(self, policy: Policy | None) -> None:
        phrases: dict[str, list[tuple[tuple[str, ...], Cue]]] = {}

        def add(phrase: str, cue: Cue) -> None:
            words = tuple(_PHRASE_WORD_RE.findall(phrase.lower()))
            if words:
                phrases.setdefault(words[-1], []).append((words, cue))

        for kind, builtin in CUES.items():
            cue = Cue(kind, kind)
            for phrase in builtin:
                add(phrase, cue)
        if policy is not None:
            # Only kinds some recognizer looks a cue up for: the others could never fire.
            for kind, rule in policy.entities.items():
                if kind in CUES:
                    cue = Cue(kind, f"tenant:{kind}")
                    for phrase in rule.context:
                        add(phrase, cue)
        for entries in phrases.values():
            entries.sort(key=lambda e: -len(e[0]))  # longer phrases first; built-in before tenant
        self._by_last = phrases

    def before(self, words: Sequence[str], kinds: Sequence[str]) -> Cue | None:
        """The cue of one of ``kinds`` nearest to the end of ``words``.

        A weak cue ("number") counts only when no other cue is in the window,
        so "social security number" is an SSN cue, not a phone cue.
        """
        weak = None
        for end in range(len(words) - 1, -1, -1):
            for phrase, cue in self._by_last.get(words[end], ()):
                if cue.kind not in kinds:
                    continue
                n = len(phrase)
                if end + 1 >= n and tuple(words[end + 1 - n:end + 1]) == phrase:
                    if phrase not in WEAK_CUES:
                        return cue
                    weak = weak or cue
        return weak
