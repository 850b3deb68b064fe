"""What a report says about masking, derived from the policies and events it covers.

Every sentence names what a policy actually does to each identifier kind: a
token (MSKV1 vault or MSK1 AEAD), a synthetic surrogate, a ``[REDACTED:KIND]``
placeholder, or passthrough in clear. A session's events name the policy
hash they ran under; each hash gets its own paragraph. A policy's rules are
read from the policy the report was made with when its hash is the same;
for any other hash only what its events show is known (the kinds detected
and the action taken), and the paragraph says so.

The PCI paragraph exists only when card numbers concern the session: some
policy of it has an enabled ``CREDIT_CARD`` rule, or a card number was
detected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from masker.tokens.scheme import AEAD_PREFIX, AEAD_SCHEME, VAULT_PREFIX, VAULT_SCHEME

CARD = "CREDIT_CARD"

TOKEN_VAULT = "token-vault"
TOKEN_AEAD = "token-aead"
SYNTHETIC = "synthetic"
REDACT = "redact"
PASSTHROUGH = "passthrough"
UNRECORDED = "unrecorded"  # detected, but no event says what was done (journals older than the action field)
_TOKEN_TREATMENT = {"vault-deterministic": TOKEN_VAULT, "reversible-aead": TOKEN_AEAD, "synthetic": SYNTHETIC}
TREATMENTS = (TOKEN_VAULT, TOKEN_AEAD, SYNTHETIC, REDACT, PASSTHROUGH, UNRECORDED)
# What a redaction_applied event wrote, by the prefix of its token field.
_WRITTEN = ((VAULT_PREFIX, TOKEN_VAULT), (AEAD_PREFIX, TOKEN_AEAD), ("[SYNTHETIC:", SYNTHETIC), ("[REDACTED:", REDACT))

FROM_POLICY = "policy"  # the rules of the policy file the report was made with (same hash)
FROM_EVENTS = "events"  # only what the session's events recorded

_PSEUDONYMS = (
    "These tokens are derived from the values under keys: they are pseudonyms (re-identification codes) "
    "under 45 CFR 164.514(c); the masked text is NOT de-identified under the Safe Harbor method of "
    "45 CFR 164.514(b)(2), and remains PHI for whoever holds the keys or the vault."
)
_SENTENCES = {
    TOKEN_VAULT: f"{{kinds}}: replaced with {VAULT_SCHEME} tokens (keyed HMAC of the value; the value is kept encrypted "
                 "in the vault).",
    TOKEN_AEAD: f"{{kinds}}: replaced with {AEAD_SCHEME} tokens (the value encrypted with AES-256-GCM-SIV under a key).",
    SYNTHETIC: "{kinds}: replaced with synthetic surrogates (realistic values of the same kind, chosen under a "
               "key and stable within the token scope); they cannot be restored, but whoever holds the key can "
               "recompute the surrogate of a known value.",
    REDACT: "{kinds}: replaced with [REDACTED:KIND] placeholders, which hold no re-identification code.",
    PASSTHROUGH: "{kinds}: detected but sent to the provider in clear (action passthrough).",
    UNRECORDED: "{kinds}: detected; the events do not record what was done with them.",
}
_CLOSING = (
    "The coverage matrix states which Safe Harbor identifier kinds the policy looks for and the recall "
    "measured on benchmark sets, not that every instance was found."
)
_NOT_CLAIMED = (
    "The masked text is not claimed to be de-identified under Safe Harbor: detection can miss values "
    "(see the measured recall)."
)
PCI_SCOPE = "Payment card numbers (12-19 digits passing Luhn) are in PCI DSS scope, not a Safe Harbor category."
_PCI_SENTENCES = {
    TOKEN_VAULT: f"Masker tokenizes detected PANs before they leave ({VAULT_SCHEME}: keyed HMAC; the PAN is kept "
                 "encrypted in the vault under keys from the environment).",
    TOKEN_AEAD: f"Masker tokenizes detected PANs before they leave ({AEAD_SCHEME}: the PAN encrypted with AES-256-GCM-SIV "
                "under a key from the environment; no vault).",
    SYNTHETIC: "Masker replaces detected PANs with synthetic Luhn-valid test card numbers before they leave; "
               "no PAN is kept.",
    REDACT: "Masker redacts detected PANs ([REDACTED:CREDIT_CARD]) before they leave; no token or copy of a "
            "PAN is kept.",
    PASSTHROUGH: "Masker detects PANs but passes them through to the provider in clear (action passthrough): "
                 "the provider receives card numbers.",
    UNRECORDED: "PANs were detected; the events do not record what was done with them.",
}
_PCI_COUNTS = "Detection counts are of events, never of values."


def treatment(action: str, tokenization: str | None) -> str:
    """One of TREATMENTS for a policy ``action`` (tokenize / redact / passthrough) and tokenization."""
    if action == "tokenize":
        # an unknown scheme is described as the token kind that keeps the most (fail closed: never understate)
        return _TOKEN_TREATMENT.get(tokenization or "", TOKEN_VAULT)
    return REDACT if action == "redact" else PASSTHROUGH


def policy_handling(bodies: Sequence[Mapping[str, Any]], policy: Any | None) -> list[dict[str, Any]]:
    """One entry per policy hash the event ``bodies`` (in journal order) name, in order of first appearance.

    Entry: ``name``, ``hash``, ``source`` (FROM_POLICY when ``policy`` has
    this hash, else FROM_EVENTS), ``tokenization`` and ``kinds`` (kind ->
    treatment). From the policy: every enabled rule, plus any kind its events
    show; from events: the kinds detected, with the action recorded.
    """
    order: list[str] = []
    names: dict[str, str] = {}
    schemes: dict[str, str] = {}
    actions: dict[str, dict[str, str]] = {}  # hash -> kind -> recorded action
    written: dict[str, dict[str, str]] = {}  # hash -> kind -> treatment seen in a token field
    detected: dict[str, set[str]] = {}
    for b in bodies:
        h = b.get("policy_hash")
        if not h:
            continue
        if h not in names:
            order.append(h)
            names[h] = str(b.get("policy") or "")
            actions[h], written[h], detected[h] = {}, {}, set()
        detail = b.get("detail") or {}
        if detail.get("tokenization"):
            schemes.setdefault(h, str(detail["tokenization"]))
        kind = b.get("entity_kind")
        if not kind or b.get("kind") not in ("detection", "redaction_applied"):
            continue
        detected[h].add(str(kind))
        if detail.get("action"):
            actions[h].setdefault(str(kind), str(detail["action"]))
        token = str(b.get("token") or "")
        for prefix, how in _WRITTEN:
            if token.startswith(prefix):
                written[h].setdefault(str(kind), how)
    if policy is not None and policy.hash in names:
        schemes[policy.hash] = policy.tokenization
    out = []
    for h in order:
        rules = policy if policy is not None and policy.hash == h else None
        tokenization = schemes.get(h)
        kinds = {k: UNRECORDED for k in detected[h]}
        kinds.update(written[h])
        kinds.update({k: treatment(a, tokenization) for k, a in actions[h].items()})
        if rules is not None:
            kinds.update({k: treatment(r.action, tokenization) for k, r in rules.entities.items() if r.enabled})
        out.append({
            "name": names[h] or (rules.name if rules is not None else ""),
            "hash": h,
            "source": FROM_POLICY if rules is not None else FROM_EVENTS,
            "tokenization": tokenization,
            "kinds": dict(sorted(kinds.items())),
        })
    return out


def _by_treatment(kinds: Mapping[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {t: [] for t in TREATMENTS}
    for kind, how in sorted(kinds.items()):
        grouped[how].append(kind)
    return {t: ks for t, ks in grouped.items() if ks}


def _label(entry: Mapping[str, Any]) -> str:
    return f"policy {entry['name'] or '(unnamed)'} (sha256 {entry['hash'][:12]})"


def _policy_paragraph(entry: Mapping[str, Any]) -> str:
    grouped = _by_treatment(entry["kinds"])
    if entry["source"] == FROM_POLICY:
        lead = f"Under {_label(entry)}:"
    else:
        lead = (f"Under {_label(entry)}, whose rules are not those of the policy this report was made with, "
                "the session's events show:")
    if not grouped:
        body = ["it masks no identifier kind." if entry["source"] == FROM_POLICY
                else "no identifier detected."]
    else:
        body = [_SENTENCES[t].format(kinds=", ".join(kinds)) for t, kinds in grouped.items()]
    if TOKEN_VAULT in grouped or TOKEN_AEAD in grouped:
        body.append(_PSEUDONYMS)
    elif set(grouped) & {SYNTHETIC, REDACT}:
        body.append(_NOT_CLAIMED)
    return " ".join([lead, *body])


def masking_statement(handling: Sequence[Mapping[str, Any]]) -> str:
    """The report's statement: one paragraph per policy (hash), then what the coverage matrix means."""
    paragraphs = []
    if len(handling) > 1:
        paragraphs.append(f"The session's events name {len(handling)} policies: "
                          + "; ".join(_label(e) for e in handling) + ". Each is described below.")
    elif not handling:
        paragraphs.append("The session's events name no policy: no statement on masking can be made.")
    paragraphs += [_policy_paragraph(e) for e in handling]
    paragraphs.append(_CLOSING)
    return "\n".join(paragraphs)


def pci_section(handling: Sequence[Mapping[str, Any]], card_detections: int) -> dict[str, Any] | None:
    """The PCI paragraph and facts, or None when no policy of the session masks cards and none was detected."""
    if card_detections == 0 and not any(CARD in e["kinds"] for e in handling):
        return None
    sentences = [PCI_SCOPE]
    for e in handling:
        how = e["kinds"].get(CARD)
        if how is not None:
            sentences.append(f"Under {_label(e)}: {_PCI_SENTENCES[how]}")
        elif e["source"] == FROM_POLICY:
            sentences.append(f"Under {_label(e)}: card numbers are not looked for (no enabled {CARD} rule); "
                             "a PAN in a request is sent as it is.")
    sentences.append(_PCI_COUNTS)
    return {
        "card_detections": card_detections,
        "by_policy": [{"policy": e["name"], "hash": e["hash"], "treatment": e["kinds"].get(CARD)} for e in handling],
        "note": " ".join(sentences),
    }
