"""Test PHI that the real engine (shipped policy: regex + NER) is checked to mask.

Every value here is replaced by a token of the given kind in the prompts the
e2e tests send (checked with the shipped model; names need the NER pass).
"""

from __future__ import annotations

PHI: dict[str, str] = {
    "Maria Lopez": "NAME",
    "1984-03-12": "DOB",
    "00482913": "MRN",
    "555-123-4567": "PHONE",
    "123-45-6789": "SSN",
    "maria.lopez@example.com": "EMAIL",
}

CHART = "Patient Maria Lopez (DOB 1984-03-12, MRN 00482913) asks to be called on 555-123-4567."
REFILL = "Maria Lopez, SSN 123-45-6789, email maria.lopez@example.com, needs a refill."
CALL = "Call Maria Lopez at 555-123-4567."


def values_in(text: str) -> list[str]:
    """Kinds of the test PHI values found in ``text`` (never the values: test output stays clean)."""
    return [kind for value, kind in PHI.items() if value in text]
