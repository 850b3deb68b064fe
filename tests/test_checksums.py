"""Check-digit and validity rules shared by the detectors."""

from masker.detect.checksums import aba_ok, card_ok, dea_ok, luhn_ok, npi_ok, ssn_ok, vin_ok


def test_luhn_and_card() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert card_ok("378282246310005")  # Amex test number, 15 digits
    assert not card_ok("0000000000000")  # passes Luhn but all one digit
    assert not card_ok("42424242424")  # 11 digits
    assert not card_ok("4" + "0" * 19)  # 20 digits


def test_non_ascii_digits_are_rejected() -> None:
    # "²" and Arabic-Indic digits satisfy str.isdigit but are not digits to check.
    assert not luhn_ok("411111111111111²")
    assert not ssn_ok("١٢٣٤٥٦٧٨٩")
    assert not aba_ok("٠٢١٠٠٠٠٢١")


def test_ssn_rules() -> None:
    assert ssn_ok("123456789")
    for bad in ("000456789", "666456789", "900456789", "999456789", "123006789", "123450000"):
        assert not ssn_ok(bad), bad
    assert not ssn_ok("12345678")


def test_aba() -> None:
    assert aba_ok("021000021")
    assert aba_ok("011000015")
    assert not aba_ok("021000022")  # bad check digit
    assert not aba_ok("500000005")  # prefix 50 is not a Federal Reserve routing symbol


def test_npi() -> None:
    assert npi_ok("1234567893")
    assert not npi_ok("1234567890")
    assert not npi_ok("3234567893")  # must start with 1 or 2


def test_vin() -> None:
    assert vin_ok("1HGCM82633A004352")
    assert vin_ok("1hgcm82633a004352")
    assert not vin_ok("1HGCM82643A004352")  # check digit changed
    assert not vin_ok("1HGCM8263OA004352")  # O is not a VIN character


def test_dea() -> None:
    assert dea_ok("AB1234563")
    assert dea_ok("ab1234563")
    assert not dea_ok("AB1234564")
    assert not dea_ok("ZB1234563")  # Z is not a registrant type
