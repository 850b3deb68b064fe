"""Payment and bank numbers: card numbers (Luhn), ABA routing numbers, IBANs."""

from __future__ import annotations

import regex

from masker.detect.checksums import aba_ok, card_ok, iban_ok
from masker.detect.context import NEGATIVE_AFTER, NEGATIVE_BEFORE
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import DIGIT_GROUP, RegexRecognizer, Scan

CARD_BRANDED_CUED_CONFIDENCE = 0.99  # a known network's prefix and length, after a card cue
CARD_BRANDED_CONFIDENCE = 0.95
CARD_CUED_CONFIDENCE = 0.9  # Luhn only, after a card cue
CARD_CONFIDENCE = 0.75
CARD_NEGATIVE_PENALTY = 0.5  # next to "IMEI", "serial", "order #"...: another Luhn-valid number
ABA_CUED_CONFIDENCE = 0.9
ABA_CONFIDENCE = 0.45  # nine digits passing the ABA check, no cue
IBAN_CONFIDENCE = 0.95

# Maximal runs of digit groups with single space/dash separators, >= 12 digits.
DIGIT_RUN = regex.compile(r"(?<![0-9]|[0-9][ -])(?=(?:[0-9][ -]?){12})[0-9]+(?:[ -][0-9]+)*+")
NINE = regex.compile(r"(?<![0-9]|[0-9][ -])[0-9]{9}(?![0-9]|[ -][0-9])")
# IBAN: country, check digits, 11-30 alphanumerics, optionally in groups of four.
IBAN = regex.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?"
    r"(?![A-Za-z0-9]|[ ][A-Z0-9]{1,4}(?![A-Za-z0-9]))"
)


class CreditCard(RegexRecognizer):
    """12-19 digits passing Luhn, written whole or in card-like groups.

    A run of digit groups is searched for the best card-shaped sub-run, so
    that a neighbouring group ("4111 1111 1111 1111 1234") is not glued on
    and an SSN-like "123-45-6789 ..." sequence never forms a card.
    """

    id = "credit_card"
    kinds = frozenset({"CREDIT_CARD"})
    detectors = frozenset({"card"})
    description = "payment card numbers: 12-19 digits passing Luhn, whole or grouped"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for run in DIGIT_RUN.finditer(text):
            groups = [(g.start(), g.end()) for g in DIGIT_GROUP.finditer(text, run.start(), run.end())]
            i = 0
            while i < len(groups):
                best = best_card(text, groups, i)
                if best is None:
                    i += 1
                    continue
                j, branded = best
                start, end = groups[i][0], groups[j][1]
                cue = context.before("CREDIT_CARD", text, start)
                if branded:
                    conf = CARD_BRANDED_CUED_CONFIDENCE if cue else CARD_BRANDED_CONFIDENCE
                else:
                    conf = CARD_CUED_CONFIDENCE if cue else CARD_CONFIDENCE
                if context.before("CARD_NEGATIVE", text, start, NEGATIVE_BEFORE) or context.after(
                    "NEGATIVE", text, end, NEGATIVE_AFTER
                ):
                    conf -= CARD_NEGATIVE_PENALTY
                emit(start, end, "CREDIT_CARD", "card", conf, cue=cue, validator="luhn")
                i = j + 1


class AbaRouting(RegexRecognizer):
    id = "aba_routing"
    kinds = frozenset({"ACCOUNT"})
    detectors = frozenset({"aba_routing"})
    description = "ABA bank routing numbers: nine digits passing the ABA check (a routing cue for full confidence)"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in NINE.finditer(text):
            if aba_ok(m.group()):
                cue = context.before("ROUTING", text, m.start())
                emit(m.start(), m.end(), "ACCOUNT", "aba_routing", ABA_CUED_CONFIDENCE if cue else ABA_CONFIDENCE,
                     cue=cue, validator="aba")


class Iban(RegexRecognizer):
    id = "iban"
    kinds = frozenset({"ACCOUNT"})
    detectors = frozenset({"iban"})
    description = "international bank account numbers (IBAN) passing the mod-97 check"

    def find(self, scan: Scan, emit: Emit) -> None:
        for m in IBAN.finditer(scan.text):
            if iban_ok(m.group()):
                emit(m.start(), m.end(), "ACCOUNT", "iban", IBAN_CONFIDENCE, validator="iban_mod97")


def best_card(text: str, groups: list[tuple[int, int]], i: int) -> tuple[int, bool] | None:
    """(last group index, branded) of the best card starting at group ``i``, or None.

    Separated cards use one separator kind and groups of 4-6 digits (the last
    may have 3, for 19-digit "4-4-4-4-3"). Preference: a known network's
    prefix and length, then the usual 15/16 digits, then length.
    """
    best: tuple[tuple[bool, bool, int], int] | None = None
    digits = ""
    sep = None
    for j in range(i, len(groups)):
        s, e = groups[j]
        if j > i:
            this_sep = text[groups[j - 1][1]]
            if sep is not None and this_sep != sep:
                break
            sep = this_sep
            if not 4 <= groups[j - 1][1] - groups[j - 1][0] <= 6 or not 3 <= e - s <= 6:
                break
        digits += text[s:e]
        if len(digits) > 19:
            break
        if len(digits) >= 12 and card_ok(digits):
            key = (brand_ok(digits), len(digits) in (15, 16), len(digits))
            if best is None or key > best[0]:
                best = (key, j)
    if best is None:
        return None
    return best[1], best[0][0]


def brand_ok(digits: str) -> bool:
    """Prefix and length of a known card network (Visa, Mastercard, Amex, Discover, JCB, ...)."""
    n = len(digits)
    p2, p4 = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if digits.startswith("6011") or p2 == 65 or 644 <= int(digits[:3]) <= 649:
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if 300 <= int(digits[:3]) <= 305 or p2 in (36, 38):
        return 14 <= n <= 19
    if p2 == 62:
        return 16 <= n <= 19
    return False
