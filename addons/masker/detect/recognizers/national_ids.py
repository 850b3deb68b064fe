"""National identifiers with a fixed shape: SSN, NPI, VIN, DEA registration, Medicare MBI.

A strong ID cue ("MRN:") nearer to an SSN- or NPI-shaped number than the
number's own cue types it as that record (``ContextScorer.other_id_cue``).
"""

from __future__ import annotations

import regex

from masker.detect.checksums import dea_ok, npi_ok, ssn_ok, vin_ok
from masker.detect.context import id_kind
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan
from masker.detect.recognizers.record_ids import ID_DETECTOR, ID_KINDS, SHAPE_DETECTOR, SHAPE_KIND

OTHER_CUE_CONFIDENCE = 0.9  # an SSN or NPI shape re-typed by a nearer ID cue
# SSN: 3-2-4 digits.
SSN_CUED_VALID_CONFIDENCE = 0.98
SSN_CUED_SEPARATED_CONFIDENCE = 0.9  # after a cue, SSA rules fail
SSN_CUED_BARE_CONFIDENCE = 0.8  # nine bare digits after a cue, SSA rules fail
SSN_DASHED_CONFIDENCE = 0.85  # valid, dash-separated, no cue
SSN_SEPARATED_CONFIDENCE = 0.7  # valid, space- or dot-separated, no cue
SSN_SHAPE_CONFIDENCE = 0.7  # dash-separated, SSA rules fail, no cue: an identifier (MRN)
# NPI: ten digits starting 1 or 2, Luhn over 80840 + digits.
NPI_CUED_CONFIDENCE = 0.97
NPI_PHONE_CUED_CONFIDENCE = 0.4  # after a phone cue: a phone number
NPI_CONFIDENCE = 0.65
VIN_CONFIDENCE = 0.95
DEA_CUED_CONFIDENCE = 0.97
DEA_CONFIDENCE = 0.8
MBI_CUED_CONFIDENCE = 0.95  # after a health-plan cue
MBI_CONFIDENCE = 0.8

_NB = r"(?<![0-9]|[0-9][./-])"  # not inside a longer number / date
SSN = regex.compile(
    _NB + r"(?<![0-9][ ])(?P<a>[0-9]{3})(?P<s>[- .]?)(?P<g>[0-9]{2})(?P=s)(?P<n>[0-9]{4})"
    r"(?![0-9]|[ .-][0-9])"
)
TEN = regex.compile(r"(?<![0-9]|[0-9][ -])[12][0-9]{9}(?![0-9]|[ -][0-9])")
VIN = regex.compile(r"\b[A-HJ-NPR-Za-hj-npr-z0-9]{17}\b")
# Upper case only: DEA numbers are written, not spoken; lower case costs a full scan.
DEA = regex.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z9][0-9]{7}(?![A-Za-z0-9])")
_MBI_L = "[AC-HJKMNP-RT-Y]"
MBI = regex.compile(
    rf"(?<![A-Z0-9-])[1-9]{_MBI_L}(?:{_MBI_L}|[0-9])[0-9]-?"
    rf"{_MBI_L}(?:{_MBI_L}|[0-9])[0-9]-?{_MBI_L}{{2}}[0-9]{{2}}(?![A-Z0-9]|-[A-Z0-9])",
    regex.I,
)


class Ssn(RegexRecognizer):
    """3-2-4 digit numbers: SSNs, and identifiers either way when the SSA rules fail.

    Numbers that break the SSA rules (area 000/666/9xx, group 00, serial
    0000: ITINs, test and surrogate data) are still masked after an SSN cue,
    and as a generic identifier (MRN) when dash-formatted without one: a
    3-2-4 number is somebody's identifier whatever its ranges.
    """

    id = "ssn"
    kinds = frozenset({"SSN"}) | ID_KINDS
    detectors = frozenset({"ssn", SHAPE_DETECTOR, *ID_DETECTOR.values()})
    description = "US social security numbers (SSA rules, cue for nine bare digits); 3-2-4 shapes after an ID cue"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in SSN.finditer(text):
            start, end = m.span()
            valid = ssn_ok(m.group("a") + m.group("g") + m.group("n"))
            sep = m.group("s")
            cue = context.before("SSN", text, start)
            if not sep and not cue:
                continue  # nine bare digits are an SSN only next to a cue
            other = context.other_id_cue("SSN", text, start)
            if other is not None:
                kind = id_kind(other)[0]
                emit(start, end, kind, ID_DETECTOR[kind], OTHER_CUE_CONFIDENCE, cue=context.id_label(text, other))
                continue
            kind, detector = "SSN", "ssn"
            if cue:
                if valid:
                    conf = SSN_CUED_VALID_CONFIDENCE
                else:
                    conf = SSN_CUED_SEPARATED_CONFIDENCE if sep else SSN_CUED_BARE_CONFIDENCE
            elif valid:
                conf = SSN_DASHED_CONFIDENCE if sep == "-" else SSN_SEPARATED_CONFIDENCE
            elif sep == "-":
                kind, detector, conf = SHAPE_KIND, SHAPE_DETECTOR, SSN_SHAPE_CONFIDENCE
            else:
                continue
            emit(start, end, kind, detector, context.penalized(conf, text, start, end),
                 cue=cue, validator="ssn_area" if valid else None)


class Npi(RegexRecognizer):
    id = "npi"
    kinds = frozenset({"NPI"}) | ID_KINDS
    detectors = frozenset({"npi", *ID_DETECTOR.values()})
    description = "US National Provider Identifiers: ten digits passing the NPI Luhn check"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in TEN.finditer(text):
            if not npi_ok(m.group()):
                continue
            start = m.start()
            other = context.other_id_cue("NPI", text, start)
            if other is not None:
                kind = id_kind(other)[0]
                emit(start, m.end(), kind, ID_DETECTOR[kind], OTHER_CUE_CONFIDENCE,
                     cue=context.id_label(text, other), validator="npi_luhn")
                continue
            cue = context.before("NPI", text, start)
            if cue:
                conf = NPI_CUED_CONFIDENCE
            elif (phone := context.phone_cue(text, start)) is not None:
                conf, cue = NPI_PHONE_CUED_CONFIDENCE, context.phone_label(text, phone)
            else:
                conf = NPI_CONFIDENCE
            emit(start, m.end(), "NPI", "npi", conf, cue=cue, validator="npi_luhn")


class Vin(RegexRecognizer):
    id = "vin"
    kinds = frozenset({"VIN"})
    detectors = frozenset({"vin"})
    description = "vehicle identification numbers: 17 characters with a valid check digit"

    def find(self, scan: Scan, emit: Emit) -> None:
        for m in VIN.finditer(scan.text):
            value = m.group()
            if any(c.isalpha() for c in value) and any(c.isdigit() for c in value) and vin_ok(value):
                emit(m.start(), m.end(), "VIN", "vin", VIN_CONFIDENCE, validator="vin_check")


class Dea(RegexRecognizer):
    id = "dea"
    kinds = frozenset({"LICENSE"})
    detectors = frozenset({"dea"})
    description = "DEA registration numbers: two letters and seven digits with a valid check digit"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in DEA.finditer(text):
            if dea_ok(m.group()):
                cue = context.before("DEA", text, m.start())
                emit(m.start(), m.end(), "LICENSE", "dea", DEA_CUED_CONFIDENCE if cue else DEA_CONFIDENCE,
                     cue=cue, validator="dea_check")


class Mbi(RegexRecognizer):
    id = "mbi"
    kinds = frozenset({"HEALTH_PLAN"})
    detectors = frozenset({"medicare_mbi"})
    description = "Medicare beneficiary identifiers (MBI): the CMS 11-character format"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in MBI.finditer(text):
            cue = context.id_cue(text, m.start())
            if cue is not None and id_kind(cue)[0] == "HEALTH_PLAN":
                emit(m.start(), m.end(), "HEALTH_PLAN", "medicare_mbi", MBI_CUED_CONFIDENCE,
                     cue=context.id_label(text, cue))
            else:
                emit(m.start(), m.end(), "HEALTH_PLAN", "medicare_mbi", MBI_CONFIDENCE)
