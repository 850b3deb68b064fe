"""Check digits and validity rules shared by the regex and spoken-form passes.

The digit checks take the digit string only (separators already removed);
``vin_ok``, ``dea_ok`` and ``iban_ok`` take the code with its letters.
Digits must be ASCII: ``str.isdigit`` alone accepts "²" or Arabic-Indic digits,
whose code points would corrupt the arithmetic.
"""

from __future__ import annotations


def _ascii_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812 Luhn check (credit cards, NPI with prefix)."""
    if not _ascii_digits(digits) or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """A PAN: 12-19 digits passing Luhn, not all one digit."""
    return 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def ssn_ok(digits: str) -> bool:
    """SSA rules: 9 digits, area not 000/666/9xx, group not 00, serial not 0000."""
    if len(digits) != 9 or not _ascii_digits(digits):
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def aba_ok(digits: str) -> bool:
    """ABA routing number: 9 digits, weights 3-7-1, first two digits 00-12, 21-32, 61-72, 80."""
    if len(digits) != 9 or not _ascii_digits(digits):
        return False
    prefix = int(digits[:2])
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights)) % 10 == 0 and digits != "000000000"


def npi_ok(digits: str) -> bool:
    """US National Provider Identifier: 10 digits, Luhn over '80840' + digits."""
    return len(digits) == 10 and _ascii_digits(digits) and digits[0] in "12" and luhn_ok("80840" + digits)


def iban_ok(value: str) -> bool:
    """ISO 13616 check: the IBAN (spaces allowed), rearranged, letters as 10-35, is 1 mod 97."""
    iban = value.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_ok(vin: str) -> bool:
    """North-American VIN: 17 chars without I/O/Q, position 9 is the mod-11 check digit."""
    vin = vin.upper()
    if len(vin) != 17 or any(c not in _VIN_VALUES for c in vin):
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS))
    check = total % 11
    return vin[8] == ("X" if check == 10 else str(check))


_DEA_FIRST = frozenset("ABCDEFGHJKLMPRSTUX")


def dea_ok(dea: str) -> bool:
    """DEA registration number: registrant letter, name letter (or 9), 7 digits.

    Check: (d1 + d3 + d5) + 2 * (d2 + d4 + d6), last digit equals d7.
    """
    dea = dea.upper()
    if len(dea) != 9 or not dea.isascii() or dea[0] not in _DEA_FIRST:
        return False
    if not (dea[1].isalpha() or dea[1] == "9"):
        return False
    d = dea[2:]
    if not _ascii_digits(d):
        return False
    n = [ord(c) - 48 for c in d]
    return (n[0] + n[2] + n[4] + 2 * (n[1] + n[3] + n[5])) % 10 == n[6]
