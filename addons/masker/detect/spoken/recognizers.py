"""The spoken-form recognizers, in the order they run and claim items.

The order is part of the behaviour: a detection claims its items, so what
runs first wins them. An e-mail ("... at gmail dot com") goes before the
letters and numbers inside it, a date ("january fifth nineteen eighty")
before the digit chain it would otherwise be, spelled runs before chains
(a run holds its own digits), and addresses and ages take what is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from masker.detect.spoken.address import SpokenAddress
from masker.detect.spoken.age import SpokenAge
from masker.detect.spoken.dates import SpokenDate
from masker.detect.spoken.email import SpokenEmail
from masker.detect.spoken.letters import SpokenSpelled
from masker.detect.spoken.numbers import SpokenNumber

if TYPE_CHECKING:
    from masker.detect.spoken.scan import SpokenRecognizer

RECOGNIZERS: tuple[SpokenRecognizer, ...] = (
    SpokenEmail(),
    SpokenDate(),
    SpokenSpelled(),
    SpokenNumber(),
    SpokenAddress(),
    SpokenAge(),
)
