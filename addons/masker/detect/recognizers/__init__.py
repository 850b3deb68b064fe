"""The written-form (regex) recognizers, one family per module, in the order the regex pass runs them.

==================  ==========================================================
``network``         e-mail, URL and domain, IPv6/MAC/IPv4 addresses
``phone``           phone and fax numbers
``national_ids``    SSN, NPI, VIN, DEA number, Medicare MBI
``cards_bank``      payment cards, ABA routing numbers, IBANs
``record_ids``      values after an ID cue, letter-prefixed codes
``dates``           dates, dates of birth, ages over 89
``addresses``       ZIP codes, street addresses, PO boxes
``facility``        outside facilities, wards with their floor (clinical notes)
``staff``           clinicians named by initial, credential or signature
``cued_names``      relatives and labelled names
``tenant``          the policy's per-kind patterns
==================  ==========================================================

The order is the order of the spans the pass reports (``RegexPass.detect``),
which the merge's tie-breaks depend on: keep it when adding a recognizer.
"""

from __future__ import annotations

from masker.detect.recognizers.addresses import StreetAddress, Zip
from masker.detect.recognizers.base import RegexRecognizer, Scan
from masker.detect.recognizers.cards_bank import AbaRouting, CreditCard, Iban
from masker.detect.recognizers.cued_names import LabelledName, RelativeName
from masker.detect.recognizers.dates import Age, Date
from masker.detect.recognizers.facility import Facility, WardFloor
from masker.detect.recognizers.national_ids import Dea, Mbi, Npi, Ssn, Vin
from masker.detect.recognizers.network import Email, NetworkAddress, Url
from masker.detect.recognizers.phone import Phone
from masker.detect.recognizers.record_ids import RecordId
from masker.detect.recognizers.staff import StaffName
from masker.detect.recognizers.tenant import TenantPattern

RECOGNIZERS: tuple[type[RegexRecognizer], ...] = (
    Email,
    Url,
    NetworkAddress,
    Phone,
    Ssn,
    CreditCard,
    AbaRouting,
    Npi,
    Vin,
    Dea,
    Mbi,
    Iban,
    RecordId,
    Date,
    Age,
    Zip,
    StreetAddress,
    WardFloor,
    Facility,
    StaffName,
    RelativeName,
    LabelledName,
    TenantPattern,
)

__all__ = ["RECOGNIZERS", "RegexRecognizer", "Scan"]
