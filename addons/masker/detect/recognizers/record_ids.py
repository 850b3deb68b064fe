"""Record identifiers: the value after an ID cue ("MRN: 00123456"), and letter-prefixed codes ("AB-123456").

The ID cue names the kind: MRN, ACCOUNT, HEALTH_PLAN, LICENSE, DEVICE or
VEHICLE (``vocab.cues.ID_CUES``). A weak cue ("ID", "plan", "insurance")
only counts before a value shaped like an identifier.
"""

from __future__ import annotations

import regex

from masker.detect.context import NEG_PENALTY, NEGATIVE_AFTER, find_words, id_kind
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan

# The detector of each kind an ID cue names (also used where a cue re-types an SSN or NPI shape).
ID_DETECTOR: dict[str, str] = {
    "MRN": "mrn",
    "ACCOUNT": "account_number",
    "HEALTH_PLAN": "member_id",
    "LICENSE": "license_number",
    "DEVICE": "device_serial",
    "VEHICLE": "license_plate",
}
ID_KINDS = frozenset(ID_DETECTOR)
SHAPE_DETECTOR = "id_shape"  # an identifier by its shape alone, reported as MRN
SHAPE_KIND = "MRN"

# Value after a cue.
MRN_CUE_CONFIDENCE = 0.9
ID_CUE_CONFIDENCE = 0.85  # any other kind's strong cue
WEAK_CUE_CONFIDENCE = 0.8
CUE_VALUE_GAP = 20  # characters allowed between the cue and its value
# Prefixed codes.
PREFIXED_CUED_CONFIDENCE = 0.85
PREFIXED_WEAK_CUED_CONFIDENCE = 0.8
PREFIXED_CONFIDENCE = 0.7  # 6+ digits or a leading "#"
PREFIXED_SHORT_CONFIDENCE = 0.5  # five digits, no cue
PREFIX_MAX = 4  # letters before the digits
PREFIXED_LONG_DIGITS = 6  # digits that make a code an identifier without a cue

# Connectors between a cue and its value; possessive so they are never retried.
_CONNECT = (
    r"[ \t]*(?:(?:[:#=.\-(]|(?:number|nbr|num|no|id|is|was|of|on[ ]file)(?![\p{L}\p{N}]))[ \t]*)*+"
)
ID_VALUE = regex.compile(
    _CONNECT + r"(?P<v>[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){1,29}(?:[ ](?=[0-9]{3})[0-9]+(?:-[0-9]+)*){0,4})"
    r"(?![A-Z0-9])",
    regex.I,
)
SHORT_WORD_LEAD = regex.compile(r"[A-Za-z]{1,2} ")  # a value that starts with a short word
# Letter-prefixed codes ("AB-123456", "#XY-1234567", "QZ12345678"): the shape of
# member, policy and record numbers. Upper case only; 5-12 digits keep drug,
# gene, vertebra and billing codes ("HER2", "L4-L5", "J1100", "E11.9") out.
# Matched digits first (fast: digit runs are rare); the letter prefix is read backwards.
PREFIXED_DIGITS = regex.compile(r"(?<=[A-Z]-?)[0-9]{5,12}(?![\w-]|[.,/][0-9A-Za-z])")
# Public registry ids that share the shape but identify no person.
PUBLIC_CODE_PREFIXES = frozenset({"NCT", "PMC", "PMID", "ISBN", "ISSN", "NDC", "CPT", "ICD", "DOI"})


class RecordId(RegexRecognizer):
    id = "record_id"
    kinds = ID_KINDS
    detectors = frozenset({*ID_DETECTOR.values(), SHAPE_DETECTOR})
    description = "record numbers typed by the ID cue before them (MRN, account, member id, license, serial, plate)"

    def find(self, scan: Scan, emit: Emit) -> None:
        self._prefixed_codes(scan, emit)
        self._cue_values(scan, emit)

    def _prefixed_codes(self, scan: Scan, emit: Emit) -> None:
        """Letter-prefixed codes ("AB-123456"): identifiers, typed by the nearest ID cue.

        Without a cue the shape alone is reported as a generic identifier (MRN)
        when it has 6+ digits or a leading "#"; five digits need a cue.
        """
        text, context = scan.text, scan.context
        for m in PREFIXED_DIGITS.finditer(text):
            prefix_end = m.start() - 1 if text[m.start() - 1] == "-" else m.start()
            start = prefix_end
            while start > 0 and prefix_end - start < PREFIX_MAX + 1 and "A" <= text[start - 1] <= "Z":
                start -= 1
            before = text[start - 1] if start > 0 else " "
            hashed = before == "#" or (before == " " and text[max(0, start - 2) : start] == "# ")
            edge = start - (2 if hashed and before == " " else 1 if hashed else 0)
            if prefix_end - start > PREFIX_MAX or (edge > 0 and (text[edge - 1].isalnum() or text[edge - 1] in "_#-")):
                continue  # five capitals or glued into a longer token
            if text[start:prefix_end] in PUBLIC_CODE_PREFIXES:
                continue
            end = m.end()
            cue = context.id_cue(text, start)
            if cue is not None:
                kind, weak = id_kind(cue)
                conf = PREFIXED_WEAK_CUED_CONFIDENCE if weak else PREFIXED_CUED_CONFIDENCE
                detector, label = ID_DETECTOR[kind], context.id_label(text, cue)
            else:
                kind, detector, label = SHAPE_KIND, SHAPE_DETECTOR, None
                conf = PREFIXED_CONFIDENCE if hashed or end - m.start() >= PREFIXED_LONG_DIGITS else PREFIXED_SHORT_CONFIDENCE
            emit(start, end, kind, detector, context.penalized(conf, text, start, end), cue=label)

    def _cue_values(self, scan: Scan, emit: Emit) -> None:
        """MRN, account, member id, license, device serial, plate: the value after a cue word."""
        text, context = scan.text, scan.context
        cue_end = 0
        for pos in find_words(scan.low, context.id_triggers):
            if pos < cue_end:
                continue  # "id" inside "member id" is part of the cue already matched
            cue = context.id_cue_at(text, pos)
            if cue is None:
                continue
            cue_end = cue.end()
            v = ID_VALUE.match(text, cue.end())
            if v is None or v.start("v") - cue.end() > CUE_VALUE_GAP:
                continue
            value = v.group("v")
            digits = sum(c.isdigit() for c in value)
            kind, weak = id_kind(cue)
            if weak:
                # "ID consult", "plan: 2 weeks", "insurance 2024": only ID-shaped values,
                # in the same sentence ("COVERAGE. BS 176-211"), not led by a short word
                # ("PLAN: OR 0930": the operating room at 09:30).
                if len(value) < 5 or digits < 4 or ". " in text[cue.end() : v.start("v")]:
                    continue
                if SHORT_WORD_LEAD.match(value):
                    continue
                conf = WEAK_CUE_CONFIDENCE
            elif len(value) < 3 or digits < 2:
                continue
            else:
                conf = MRN_CUE_CONFIDENCE if kind == "MRN" else ID_CUE_CONFIDENCE
            # The cue itself says what the value is: only units after it count against.
            if context.after("NEGATIVE", text, v.end("v"), NEGATIVE_AFTER):
                conf -= NEG_PENALTY
            emit(v.start("v"), v.end("v"), kind, ID_DETECTOR[kind], conf, cue=context.id_label(text, cue))
