"""Mask policy: loading, validation (codes + lines), hash, runtime fallback, diff, coverage."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from hashlib import sha256
from pathlib import Path

import pytest
import rfc8785

from masker.kinds import ALL_KINDS, KIND_CATEGORY
from masker.policy.coverage import coverage_matrix
from masker.policy.diff import ADDED, CHANGED, REMOVED, diff_policies
from masker.policy.load import (
    PolicyError,
    check_policy_file,
    default_policy_path,
    load_policy,
    load_policy_for_runtime,
    parse_policy,
    policy_document,
    policy_hash,
)
from masker.policy.model import EntityRule

KEY_ENV = {"MASKER_KEY_K_HEALTHCARE": "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="}
SHIPPED = default_policy_path().read_text(encoding="utf-8")


def variant(old: str, new: str) -> tuple[str, int]:
    """The shipped policy with ``old`` (unique) replaced; and the line of ``new``."""
    assert SHIPPED.count(old) == 1, old
    text = SHIPPED.replace(old, new)
    line = text[: text.index(new)].count("\n") + 1 if new else 0
    return text, line


SCOPE_LINE = "# token_scope: session\n"  # documented in the shipped file, left at its default


def with_scope(scope: str, text: str = SHIPPED) -> str:
    """``text`` with ``token_scope`` set (the shipped file leaves it commented out)."""
    assert text.count(SCOPE_LINE) == 1
    return text.replace(SCOPE_LINE, f"token_scope: {scope}\n")


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def issues_of(text: str, env: dict[str, str] | None = KEY_ENV) -> list[tuple[str, str, int]]:
    policy, issues = parse_policy(text, env)
    assert policy is None
    return [(i.code, i.path, i.line) for i in issues]


def shipped():
    return load_policy(default_policy_path(), KEY_ENV)


# ------------------------------------------------------------------ loading


def test_shipped_policy_validates_and_lists_every_kind():
    policy, issues = check_policy_file(default_policy_path(), KEY_ENV)
    assert issues == []
    assert policy.name == "healthcare-default"
    assert policy.version == 1 and policy.kid == "K_HEALTHCARE"
    assert policy.tokenization == "vault-deterministic"
    assert policy.passes == ("regex", "ner")
    assert set(policy.entities) == ALL_KINDS
    assert policy.entities["CREDIT_CARD"].action == "redact"
    assert policy.entities["MRN"].patterns and "chart" in policy.entities["MRN"].context
    assert policy.media == "block" and policy.audit.retention_days == 2555


def test_defaults_fill_unstated_fields():
    text = SHIPPED.replace(
        "  NAME:         {enabled: true, regex: true, ner: true, confidence_threshold: 0.6, action: tokenize}",
        "  NAME:",
    )
    policy, issues = parse_policy(text, KEY_ENV)
    assert issues == []
    assert policy.token_scope == "session"
    assert policy.entities["NAME"] == EntityRule(kind="NAME")
    assert parse_policy(with_scope("session"), KEY_ENV)[0].hash == shipped().hash  # spelled out or not


def test_shipped_policy_document_has_no_dead_settings():
    doc = policy_document(shipped())
    assert "epsilon" not in doc and doc["audit"] == {"retention_days": 2555}
    assert doc["token_scope"] == "session" and SCOPE_LINE in SHIPPED  # the default, documented
    for dead in ("epsilon", "log_events", "log_payloads"):
        assert f"\n{dead}:" not in SHIPPED and f"\n  {dead}:" not in SHIPPED


@pytest.mark.parametrize("scope", ["session", "agent"])
def test_token_scope_loads_and_changes_the_hash(scope):
    policy, issues = parse_policy(with_scope(scope), KEY_ENV)
    assert issues == [] and policy.token_scope == scope
    assert (policy.hash == shipped().hash) == (scope == "session")


@pytest.mark.parametrize("scope", ["session", "agent"])
def test_token_scope_does_not_apply_to_reversible_aead(scope):
    text, _ = variant("tokenization: vault-deterministic", "tokenization: reversible-aead")
    # the shipped file switched to MSK1 loads as is, and says it is not scope-bound
    policy, issues = parse_policy(text, KEY_ENV)
    assert issues == [] and policy.token_scope is None
    assert policy_document(policy)["token_scope"] is None
    # asking for a scope MSK1 cannot honour is an error at the key's line
    text = with_scope(scope, text)
    assert issues_of(text) == [("inapplicable_key", "token_scope", line_of(text, "token_scope:"))]
    _, issues = parse_policy(text, KEY_ENV)
    assert "MSK1" in issues[0].message
    # synthetic surrogates are scope-bound: the key applies
    text, _ = variant("tokenization: vault-deterministic", "tokenization: synthetic")
    policy, issues = parse_policy(with_scope(scope, text), KEY_ENV)
    assert issues == [] and policy.token_scope == scope


REMOVED_KEYS = [
    # (old text, replacement holding the removed key, dotted path)
    ("kid: K_HEALTHCARE\n", "kid: K_HEALTHCARE\nepsilon: 0.5\n", "epsilon"),
    ("kid: K_HEALTHCARE\n", "kid: K_HEALTHCARE\nepsilon: 7\n", "epsilon"),  # any value
    ("audit:\n", "audit:\n  log_events: true\n", "audit.log_events"),
    ("audit:\n", "audit:\n  log_events: false\n", "audit.log_events"),
    ("audit:\n", "audit:\n  log_payloads: false\n", "audit.log_payloads"),
    ("audit:\n", "audit:\n  log_payloads: true\n", "audit.log_payloads"),
    ("audit:\n", "audit:\n  log_payloads: nope\n", "audit.log_payloads"),
]


@pytest.mark.parametrize(("old", "new", "path"), REMOVED_KEYS)
def test_removed_keys_are_refused_with_their_line(old, new, path):
    text, _ = variant(old, new)
    key = path.rsplit(".", 1)[-1]
    line = line_of(text, f"{key}:") if path == key else line_of(text, f"  {key}:")
    assert issues_of(text) == [("removed_key", path, line)]
    _, issues = parse_policy(text, KEY_ENV)
    assert "was removed" in issues[0].message and "delete this line" in issues[0].message


def test_an_old_policy_with_every_removed_key_lists_them_all(tmp_path):
    text = SHIPPED.replace("kid: K_HEALTHCARE\n", "kid: K_HEALTHCARE\nepsilon: 0.5\n")
    text = text.replace("audit:\n", "audit:\n  log_events: true\n  log_payloads: false\n")
    assert [(c, p) for c, p, _ in issues_of(text)] == [
        ("removed_key", "epsilon"), ("removed_key", "audit.log_events"), ("removed_key", "audit.log_payloads"),
    ]
    path = tmp_path / "old.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:  # the proxy does not start on it
        load_policy_for_runtime(path, {**KEY_ENV, "MASKER_ENV": "production"})
    assert {i.code for i in err.value.issues} == {"removed_key"}
    # diff still compares it: the removed keys never had an effect
    old = parse_policy(text, None, tolerate=("removed_key",))[0]
    assert old is not None and diff_policies(old, shipped()) == []


def test_gemma_is_an_alias_of_ner_and_hashes_alike():
    text, _ = variant("passes: [regex, ner]", "passes: [regex, gemma]")
    policy, issues = parse_policy(text, KEY_ENV)
    assert issues == []
    assert policy.passes == ("regex", "ner")
    assert policy.hash == shipped().hash


def test_diarize_and_scan_roles_load():
    text, _ = variant("passes: [regex, ner]", "passes: [diarize, regex, ner]")
    text = text.replace("scan_roles: []", "scan_roles: [user, tool]")
    policy, issues = parse_policy(text, KEY_ENV)
    assert issues == []
    assert policy.diarize and policy.scan_roles == ("user", "tool")
    assert policy.scans_role("user") and not policy.scans_role("assistant")


def test_hash_is_sha256_of_canonical_normalized_document():
    policy = shipped()
    expected = sha256(rfc8785.dumps(policy_document(policy))).hexdigest()
    assert policy.hash == policy_hash(policy) == expected
    # Layout and comments do not matter; content does.
    compact = json.dumps(policy_document(policy))  # JSON is YAML
    assert parse_policy(compact, KEY_ENV)[0].hash == policy.hash
    changed, _ = variant("retention_days: 2555", "retention_days: 2556")
    assert parse_policy(changed, KEY_ENV)[0].hash != policy.hash


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("old", "new", "code", "path"),
    [
        ("passes: [regex, ner]", "passes: [regex, nre]", "invalid_pass", "passes[1]"),
        ("passes: [regex, ner]", "passes: [regex, ner, gemma]", "invalid_value", "passes[2]"),
        ("passes: [regex, ner]", "passes: [diarize]", "invalid_value", "passes"),
        ("tokenization: vault-deterministic", "tokenization: fpe", "invalid_value", "tokenization"),
        ("media: block", "media: maybe", "invalid_value", "media"),
        ("version: 1", "version: 2", "invalid_value", "version"),
        ("kid: K_HEALTHCARE", "kid: K-HEALTH CARE", "invalid_value", "kid"),
        ("scan_roles: []", "scan_roles: [user, robot]", "invalid_value", "scan_roles[1]"),
        (SCOPE_LINE, "token_scope: tenant\n", "invalid_value", "token_scope"),
        (SCOPE_LINE, "token_scope: [session]\n", "invalid_type", "token_scope"),
        ("retention_days: 2555", "retention_days: 0", "out_of_range", "audit.retention_days"),
        ("retention_days: 2555", "retention_days: seven years", "invalid_type", "audit.retention_days"),
        ("retention_days: 2555", "retention_dayz: 2555", "unknown_key", "audit.retention_dayz"),
        (SCOPE_LINE, "token_scoop: session\n", "unknown_key", "token_scoop"),
        ("name: healthcare-default", "name: [a, b]", "invalid_type", "name"),
        ("NAME:         {enabled: true,", "NAME:         {enabled: 1,", "invalid_type", "entities.NAME.enabled"),
        (
            "ZIP:          {enabled: true, regex: true, ner: true, confidence_threshold: 0.7",
            "ZIP:          {enabled: true, regex: true, ner: true, confidence_threshold: 1.01",
            "out_of_range",
            "entities.ZIP.confidence_threshold",
        ),
        (
            "confidence_threshold: 0.6, action: redact}",
            "confidence_threshold: 0.6, action: mask}",
            "invalid_value",
            "entities.CREDIT_CARD.action",
        ),
        (
            "ORGANIZATION: {enabled: true, regex: true, ner: true, confidence_threshold: 0.8,",
            "ORGANIZATION: {enabled: true, regex: true, nre: true, confidence_threshold: 0.8,",
            "unknown_key",
            "entities.ORGANIZATION.nre",
        ),
        ("      - '\\bMR[N]?-?\\d{6,10}\\b'", "      - '\\bMR(N\\b'", "invalid_pattern", "entities.MRN.patterns[0]"),
        ("      - '\\bMR[N]?-?\\d{6,10}\\b'", "      - '\\d*'", "invalid_pattern", "entities.MRN.patterns[0]"),
        ("    context: [chart,", "    context: [7,", "invalid_type", "entities.MRN.context[0]"),
        ("  NPI:", "  PASSPORT: {}\n  NPI:", "unknown_entity", "entities.PASSPORT"),
    ],
)
def test_each_error_code_points_at_its_line(old, new, code, path):
    text, line = variant(old, new)
    assert issues_of(text) == [(code, path, line)]


def test_missing_entity_points_at_entities_key():
    text, _ = variant(
        "  FAX:          {enabled: true, regex: true, ner: true, confidence_threshold: 0.6, action: tokenize}   # E\n",
        "",
    )
    assert issues_of(text) == [("missing_entity", "entities.FAX", line_of(text, "\nentities:") + 1)]


def test_missing_required_key():
    text, _ = variant("kid: K_HEALTHCARE\n", "")
    assert issues_of(text) == [("missing_key", "kid", line_of(text, "name: healthcare-default"))]


def test_unknown_kid_checks_the_environment_given():
    assert issues_of(SHIPPED, env={}) == [("unknown_kid", "kid", line_of(SHIPPED, "kid: K_HEALTHCARE"))]
    assert issues_of(SHIPPED, env={"MASKER_KEY_K_HEALTHCARE": "  "})[0][0] == "unknown_kid"
    policy, issues = parse_policy(SHIPPED, None)  # None: keys are not checked
    assert issues == [] and policy is not None


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        ("name: x\nversion: 1\nkid: [a\nfoo: 1\n", 4, "<root>"),
        ("name: x\n  bad: 1\n", 2, "<root>"),
        ("", 1, "<root>"),
        ("name: a\nname: b\n", 2, "name"),
        ("name: a\nkid: !!python/object:os.system x\n", 2, "kid"),
    ],
)
def test_yaml_errors_have_lines(text, line, path):
    assert issues_of(text) == [("yaml_error", path, line)]


def test_all_issues_are_collected_in_line_order():
    text = with_scope("forever")
    text = text.replace("passes: [regex, ner]", "passes: [regex, spacy]")
    text = text.replace("retention_days: 2555", "retention_days: -3")
    codes = [code for code, _, _ in issues_of(text, env={})]
    assert codes == ["unknown_kid", "invalid_value", "invalid_pass", "out_of_range"]


def test_unreadable_file_is_reported(tmp_path):
    policy, issues = check_policy_file(tmp_path / "nope.yaml", KEY_ENV)
    assert policy is None and [i.code for i in issues] == ["yaml_error"]


# ------------------------------------------------------------------ runtime


def write_bad(tmp_path: Path) -> Path:
    """An invalid policy whose bad values look like PHI (they must not be logged)."""
    text = SHIPPED.replace("kid: K_HEALTHCARE", "kid: 123-45-6789").replace("action: redact}", "action: Jane Doe}")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_runtime_loads_a_valid_policy(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SHIPPED.replace("name: healthcare-default", "name: tenant-a"), encoding="utf-8")
    assert load_policy_for_runtime(path, {**KEY_ENV, "MASKER_ENV": "production"}).name == "tenant-a"
    assert load_policy_for_runtime(None, KEY_ENV).name == "healthcare-default"


@pytest.mark.parametrize(
    "extra",
    [{"MASKER_ENV": "production"}, {"MASKER_ENV": "production", "MASKER_DEV": "1"}, {}],
)
def test_runtime_refuses_invalid_policy_unless_dev(tmp_path, extra):
    with pytest.raises(PolicyError) as err:
        load_policy_for_runtime(write_bad(tmp_path), {**KEY_ENV, **extra})
    assert {i.code for i in err.value.issues} == {"invalid_value"}
    assert "123-45-6789" not in str(err.value) and "Jane" not in str(err.value)


def test_runtime_refuses_missing_key_in_production(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SHIPPED, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy_for_runtime(path, {"MASKER_ENV": "production"})
    assert [i.code for i in err.value.issues] == ["unknown_kid"]


def test_dev_falls_back_to_shipped_default_and_logs_without_values(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="masker.policy")
    policy = load_policy_for_runtime(write_bad(tmp_path), {**KEY_ENV, "MASKER_DEV": "1"})
    assert policy.name == "healthcare-default" and policy.hash == shipped().hash
    assert "invalid_value at kid" in caplog.text
    assert "invalid_value at entities.CREDIT_CARD.action" in caplog.text
    assert "123-45-6789" not in caplog.text and "Jane" not in caplog.text


def test_dev_fallback_still_needs_the_default_key(tmp_path):
    with pytest.raises(PolicyError):
        load_policy_for_runtime(write_bad(tmp_path), {"MASKER_DEV": "1"})


# --------------------------------------------------------------------- diff


def lenient(text: str):
    policy, _ = parse_policy(text, None, tolerate=("missing_entity", "unknown_entity"))
    assert policy is not None
    return policy


@pytest.mark.parametrize(
    ("old", "new", "path", "before", "after"),
    [
        ("confidence_threshold: 0.8", "confidence_threshold: 0.9", "entities.ORGANIZATION.confidence_threshold", 0.8, 0.9),
        ("action: redact}", "action: tokenize}", "entities.CREDIT_CARD.action", "redact", "tokenize"),
        ("  NPI:          {enabled: true,", "  NPI:          {enabled: false,", "entities.NPI.enabled", True, False),
        ("  VIN:          {enabled: true, regex: true,", "  VIN:          {enabled: true, regex: false,", "entities.VIN.regex", True, False),
        ("  URL:          {enabled: true, regex: true, ner: true", "  URL:          {enabled: true, regex: true, ner: false", "entities.URL.ner", True, False),
        ("\\d{6,10}", "\\d{7}", "entities.MRN.patterns", ["\\bMR[N]?-?\\d{6,10}\\b"], ["\\bMR[N]?-?\\d{7}\\b"]),
        ("passes: [regex, ner]", "passes: [ner, regex]", "passes", ["regex", "ner"], ["ner", "regex"]),
        ("tokenization: vault-deterministic", "tokenization: synthetic", "tokenization", "vault-deterministic", "synthetic"),
        (SCOPE_LINE, "token_scope: agent\n", "token_scope", "session", "agent"),
        ("kid: K_HEALTHCARE", "kid: K_TENANT_B", "kid", "K_HEALTHCARE", "K_TENANT_B"),
        ("retention_days: 2555", "retention_days: 365", "audit.retention_days", 2555, 365),
        ("media: block", "media: allow", "media", "block", "allow"),
    ],
)
def test_diff_reports_each_change(old, new, path, before, after):
    text, _ = variant(old, new)
    changes = diff_policies(shipped(), lenient(text))
    assert [(c.path, c.change, c.old, c.new) for c in changes] == [(path, CHANGED, before, after)]


def test_diff_to_reversible_aead_shows_token_scope_going_away():
    text, _ = variant("tokenization: vault-deterministic", "tokenization: reversible-aead")
    changes = diff_policies(shipped(), lenient(text))
    assert [(c.path, c.old, c.new) for c in changes] == [
        ("token_scope", "session", None), ("tokenization", "vault-deterministic", "reversible-aead"),
    ]
    assert changes[0].describe() == "~ token_scope: session -> null"


def test_diff_reports_entities_added_and_removed():
    text, _ = variant("  NPI:", "  PASSPORT: {action: redact}\n  NPI:")
    text = text.replace(
        "  FAX:          {enabled: true, regex: true, ner: true, confidence_threshold: 0.6, action: tokenize}   # E\n",
        "",
    )
    changes = diff_policies(shipped(), lenient(text))
    assert [(c.path, c.change) for c in changes] == [("entities.FAX", REMOVED), ("entities.PASSPORT", ADDED)]
    assert changes[1].new["action"] == "redact"
    assert changes[0].describe().startswith("- entities.FAX: {enabled: true")


def test_diff_of_equivalent_policies_is_empty():
    text, _ = variant("passes: [regex, ner]", "passes: [regex, gemma]")
    assert diff_policies(shipped(), lenient(text + "\n# comment\n")) == []


# ----------------------------------------------------------------- coverage

DETECTORS = {
    "regex": frozenset(ALL_KINDS - {"NAME", "LOCATION", "ORGANIZATION"}),
    "spoken": frozenset({"PHONE", "SSN", "ZIP"}),
    "ner": frozenset({"NAME", "LOCATION", "ORGANIZATION", "ADDRESS"}),
}


def with_rule(policy, kind, **changes):
    entities = {**policy.entities, kind: replace(policy.entities[kind], **changes)}
    return replace(policy, entities=entities)


def test_shipped_policy_covers_every_text_category():
    matrix = coverage_matrix(shipped(), DETECTORS)
    assert list(matrix) == [*"ABCDEFGHIJKLMNOPQR", "PCI"]
    for letter in (*"ABCDEFGHIJKLMNOR", "PCI"):
        assert matrix[letter]["status"] == "full", letter
        assert matrix[letter]["gaps"] == []
    assert matrix["R"]["kinds"] == ["MAC_ADDRESS", "NPI", "ORGANIZATION"]
    assert matrix["PCI"]["covered"] == ["CREDIT_CARD"]
    assert matrix["B"]["kinds"] == sorted(k for k, c in KIND_CATEGORY.items() if c == "B")
    for letter in "PQ":
        assert matrix[letter]["status"] == "blocked" and matrix[letter]["kinds"] == []
        assert "refused" in matrix[letter]["note"]


def test_passthrough_or_disabled_or_undetectable_kind_is_a_gap():
    base = shipped()
    m = coverage_matrix(with_rule(base, "PHONE", action="passthrough"), DETECTORS)
    assert m["D"]["status"] == "none"
    assert m["D"]["gaps"] == [{"kind": "PHONE", "reason": "action is passthrough: detected but sent unmasked"}]

    m = coverage_matrix(with_rule(base, "ZIP", enabled=False), DETECTORS)
    assert m["B"]["status"] == "partial" and [g["kind"] for g in m["B"]["gaps"]] == ["ZIP"]
    assert m["B"]["covered"] == ["ADDRESS", "LOCATION"]

    m = coverage_matrix(with_rule(base, "NAME", regex=False, ner=False), DETECTORS)
    assert m["A"]["status"] == "none" and "ner: false for this kind" in m["A"]["gaps"][0]["reason"]

    # A kind only the NER model knows is lost when the policy drops the ner pass.
    m = coverage_matrix(replace(base, passes=("regex",)), DETECTORS)
    assert m["A"]["status"] == "none" and "ner pass not in passes" in m["A"]["gaps"][0]["reason"]
    assert m["B"]["status"] == "partial" and m["D"]["status"] == "full"


def test_spoken_detector_counts_for_the_regex_flag_only():
    detectors = {**DETECTORS, "regex": DETECTORS["regex"] - {"SSN"}}
    base = shipped()
    assert coverage_matrix(base, detectors)["G"]["status"] == "full"  # spoken finds SSN
    assert coverage_matrix(with_rule(base, "SSN", regex=False), detectors)["G"]["status"] == "none"


def test_media_allow_and_role_limited_scanning_are_reported():
    base = shipped()
    m = coverage_matrix(replace(base, media="allow"), DETECTORS)
    assert m["P"]["status"] == "none" and "unscanned" in m["Q"]["note"]
    limited = replace(base, passes=("diarize", "regex", "ner"), scan_roles=("user",))
    m = coverage_matrix(limited, DETECTORS)
    assert m["D"]["status"] == "partial" and "user" in m["D"]["note"]


def test_missing_rule_and_missing_detector_key_are_gaps():
    base = shipped()
    entities = {k: v for k, v in base.entities.items() if k != "EMAIL"}
    m = coverage_matrix(replace(base, entities=entities), {})
    assert m["F"]["gaps"] == [{"kind": "EMAIL", "reason": "not listed in the policy"}]
    assert all(m[letter]["status"] == "none" for letter in (*"ABCDEFGHIJKLMNOR", "PCI"))


# ----------------------------------------------------------------- registry


def test_detector_kinds_reads_ner_labels(tmp_path):
    pytest.importorskip("masker.detect.regex")  # written in parallel by another part
    pytest.importorskip("masker.detect.spoken")
    from masker.detect import registry

    (tmp_path / "labels.json").write_text(json.dumps({"labels": ["O", "B-NAME", "I-NAME", "B-MISC", "B-PHONE"]}))
    assert registry.ner_model_kinds(tmp_path) == {"NAME", "PHONE"}
    mapped = {"labels": ["O", "B-PER", "I-PER", "B-CITY", "B-X"], "kinds": {"PER": "NAME", "CITY": "LOCATION"}}
    (tmp_path / "labels.json").write_text(json.dumps(mapped))
    kinds = registry.detector_kinds(tmp_path)
    assert kinds["ner"] == {"NAME", "LOCATION"}
    assert kinds["regex"] and kinds["regex"] <= ALL_KINDS and kinds["spoken"] <= ALL_KINDS
    assert registry.detector_kinds()["ner"] == frozenset()
