"""Load and validate a mask policy YAML file.

Validation collects every issue (not just the first), each with a stable
``code``, the dotted ``path`` of the offending field and its 1-based YAML
line, so that ``masker policy validate`` can point at the exact place.
Messages name the field, the expected type or the allowed choices, never a
value from the file (only ``yaml_error`` quotes the YAML parser, which may
show a character or an alias name). Runtime logging uses codes, paths and
lines only.

Codes: ``yaml_error``, ``missing_key``, ``unknown_key``, ``removed_key``,
``inapplicable_key``, ``invalid_type``, ``invalid_value``, ``out_of_range``,
``invalid_pass``, ``missing_entity``, ``unknown_entity``, ``invalid_pattern``,
``unknown_kid``, ``unknown_recognizer``.

``removed_key`` is a key older policies had that never did anything
(``epsilon``, ``audit.log_events``, ``audit.log_payloads``): it is an error,
not a warning, so that nobody keeps relying on a setting that is not honoured
(a policy saying ``log_payloads: true`` would promise payload retention that
does not exist). ``inapplicable_key`` is a key that cannot have an effect
with the rest of the policy (``token_scope`` with ``reversible-aead``).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from hashlib import sha256
from pathlib import Path
from typing import Any

import regex
import rfc8785
import yaml

from masker.kinds import ALL_KINDS
from masker.policy.model import (
    ACTIONS,
    PASS_ALIASES,
    PASSES,
    SCOPED_TOKENIZATIONS,
    TOKEN_SCOPES,
    TOKENIZATIONS,
    AuditSettings,
    DenyRule,
    EntityRule,
    Policy,
    RecognizerRule,
    ValueList,
)
from masker.tokens.scheme import AEAD_SCHEME, KID_RE

log = logging.getLogger("masker.policy")

ROOT = "<root>"
MEDIA_MODES = ("block", "allow")
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
DETECTION_PASSES = ("regex", "ner")

_TOP_KEYS = (
    "name",
    "version",
    "description",
    "kid",
    "tokenization",
    "token_scope",
    "passes",
    "entities",
    "audit",
    "scan_roles",
    "media",
    "recognizers",
    "allow",
    "deny",
)
_REQUIRED = ("name", "version", "kid", "tokenization", "passes", "entities")
_ENTITY_KEYS = ("enabled", "regex", "ner", "confidence_threshold", "action", "patterns", "context")
_AUDIT_KEYS = ("retention_days",)
_RECOGNIZER_KEYS = ("enabled", "confidence_threshold")
_VALUE_LIST_KEYS = ("values", "patterns")
_DENY_KEYS = ("kind", "values", "patterns")
# Keys of older policies that were removed because nothing honoured them.
_REMOVED_TOP = {
    "epsilon": "epsilon was removed: it never changed masking (no token or synthetic"
    " surrogate has a privacy parameter it could set); delete this line",
}
_REMOVED_AUDIT = {
    "log_events": "log_events was removed: every event is always journaled (the audit"
    " is fail-closed, a request whose events cannot be written is refused); delete this line",
    "log_payloads": "log_payloads was removed: Masker never stores request or response"
    " payloads, in clear or encrypted; delete this line",
}
_KID = regex.compile(KID_RE)


def default_policy_path() -> Path:
    """The shipped policy, ``<repo>/configs/mask_policy.yaml``."""
    return Path(__file__).resolve().parents[3] / "configs" / "mask_policy.yaml"


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    code: str
    path: str
    line: int
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.code}: {self.path}: {self.message}"


class PolicyError(Exception):
    """A policy file did not validate. ``str()`` names codes and paths only."""

    def __init__(self, source: str, issues: list[PolicyIssue]) -> None:
        self.source = source
        self.issues = issues
        listed = "; ".join(f"{i.code} at {i.path} (line {i.line})" for i in issues)
        super().__init__(f"invalid mask policy {source}: {len(issues)} issue(s): {listed}")


# ---------------------------------------------------------------- YAML nodes


def _join(path: str, key: str) -> str:
    return key if path == ROOT else f"{path}.{key}"


@dataclass(frozen=True, slots=True)
class _Loc:
    """A YAML value with its line. Mappings hold ``{key: (key_line, _Loc)}``."""

    value: Any
    line: int


class _YamlIssue(Exception):
    def __init__(self, line: int, message: str, path: str = ROOT) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path


def _located(node: yaml.Node, loader: yaml.SafeLoader, path: str = ROOT) -> _Loc:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves "<<" merge keys
        out: dict[str, tuple[int, _Loc]] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _YamlIssue(key_line, "mapping keys must be plain scalars", path)
            key_path = _join(path, key_node.value)
            if key_node.value in out:
                raise _YamlIssue(key_line, "duplicate key", key_path)
            out[key_node.value] = (key_line, _located(value_node, loader, key_path))
        return _Loc(out, line)
    if isinstance(node, yaml.SequenceNode):
        return _Loc([_located(n, loader, f"{path}[{i}]") for i, n in enumerate(node.value)], line)
    try:
        return _Loc(loader.construct_object(node, deep=True), line)
    except yaml.YAMLError:
        raise _YamlIssue(line, "value cannot be constructed (unsupported tag?)", path) from None


def _parse_yaml(text: str) -> _Loc:
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise _YamlIssue(line, (exc.problem or "malformed YAML").strip()) from None
        except yaml.YAMLError as exc:
            raise _YamlIssue(1, type(exc).__name__) from None
        if node is None:
            raise _YamlIssue(1, "empty document")
        return _located(node, loader)
    finally:
        loader.dispose()


# ---------------------------------------------------------------- validation


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


class _Checker:
    def __init__(self) -> None:
        self.issues: list[PolicyIssue] = []

    def add(self, code: str, path: str, line: int, message: str) -> None:
        self.issues.append(PolicyIssue(code, path, line, message))

    def mapping(
        self, loc: _Loc, path: str, allowed: Collection[str], removed: Mapping[str, str] | None = None
    ) -> dict[str, tuple[int, _Loc]] | None:
        """The entries of a mapping; unknown and ``removed`` keys are reported and dropped."""
        if not isinstance(loc.value, dict):
            self.add("invalid_type", path, loc.line, f"expected a mapping, got {_type_name(loc.value)}")
            return None
        entries = {}
        for key, (key_line, value) in loc.value.items():
            if key in allowed:
                entries[key] = (key_line, value)
            elif removed and key in removed:
                self.add("removed_key", _join(path, key), key_line, removed[key])
            else:
                self.add("unknown_key", _join(path, key), key_line, "unknown key" + _hint(key, allowed))
        return entries

    def typed(self, loc: _Loc, path: str, kinds: tuple[type, ...], label: str) -> Any:
        value = loc.value
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self.add("invalid_type", path, loc.line, f"expected {label}, got {_type_name(value)}")
            return None
        return value

    def boolean(self, loc: _Loc, path: str) -> bool | None:
        return self.typed(loc, path, (bool,), "true or false")

    def unit_interval(self, loc: _Loc, path: str) -> float | None:
        value = self.typed(loc, path, (int, float), "a number")
        if value is None:
            return None
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            self.add("out_of_range", path, loc.line, "must be between 0 and 1")
            return None
        return float(value)

    def choice(self, loc: _Loc, path: str, choices: Collection[str]) -> str | None:
        value = self.typed(loc, path, (str,), "a string")
        if value is None:
            return None
        if value not in choices:
            self.add("invalid_value", path, loc.line, f"must be one of: {', '.join(choices)}")
            return None
        return value

    def text(self, loc: _Loc, path: str, *, allow_empty: bool = False) -> str | None:
        value = self.typed(loc, path, (str,), "a string")
        if value is not None and not allow_empty and not value.strip():
            self.add("invalid_value", path, loc.line, "must not be empty")
            return None
        return value

    def text_list(self, loc: _Loc, path: str) -> list[tuple[str, str, int]] | None:
        """Non-empty strings of a list, as ``(value, path, line)``."""
        if loc.value is None:
            return []
        items = self.typed(loc, path, (list,), "a list")
        if items is None:
            return None
        out = []
        for i, item in enumerate(items):
            value = self.text(item, f"{path}[{i}]")
            if value is not None:
                out.append((value, f"{path}[{i}]", item.line))
        return out if len(out) == len(items) else None


def _hint(name: str, known: Collection[str]) -> str:
    """``; did you mean X?`` for a near miss (typo, wrong case), else empty."""
    by_upper = {k.upper(): k for k in known}
    close = difflib.get_close_matches(name.upper(), list(by_upper), n=1, cutoff=0.75)
    return f"; did you mean {by_upper[close[0]]}?" if close else ""


def _check_pattern(c: _Checker, pattern: str, path: str, line: int) -> bool:
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        c.add("invalid_pattern", path, line, f"does not compile: {exc.msg}")
        return False
    if compiled.fullmatch("") is not None:
        c.add("invalid_pattern", path, line, "matches the empty string")
        return False
    return True


def _entity(c: _Checker, kind: str, loc: _Loc, path: str) -> EntityRule | None:
    if loc.value is None:  # "NAME:" alone states the kind with all defaults
        return EntityRule(kind=kind)
    entries = c.mapping(loc, path, _ENTITY_KEYS)
    if entries is None:
        return None
    before = len(c.issues)
    fields: dict[str, Any] = {}
    for key in ("enabled", "regex", "ner"):
        if key in entries:
            fields[key] = c.boolean(entries[key][1], f"{path}.{key}")
    if "confidence_threshold" in entries:
        key_path = f"{path}.confidence_threshold"
        fields["confidence_threshold"] = c.unit_interval(entries["confidence_threshold"][1], key_path)
    if "action" in entries:
        fields["action"] = c.choice(entries["action"][1], f"{path}.action", ACTIONS)
    if "patterns" in entries:
        items = c.text_list(entries["patterns"][1], f"{path}.patterns")
        if items is not None:
            ok = [_check_pattern(c, p, p_path, line) for p, p_path, line in items]
            fields["patterns"] = tuple(p for p, _, _ in items) if all(ok) else None
    if "context" in entries:
        items = c.text_list(entries["context"][1], f"{path}.context")
        fields["context"] = None if items is None else tuple(w for w, _, _ in items)
    if len(c.issues) != before:
        return None
    return EntityRule(kind=kind, **fields)


def _entities(c: _Checker, loc: _Loc, key_line: int) -> dict[str, EntityRule] | None:
    """Rules of every listed kind (unknown ones too, so ``diff`` can compare them)."""
    if not isinstance(loc.value, dict):
        c.add("invalid_type", "entities", loc.line, f"expected a mapping, got {_type_name(loc.value)}")
        return None
    rules: dict[str, EntityRule] = {}
    ok = True
    for kind, (k_line, value) in loc.value.items():
        path = f"entities.{kind}"
        if kind not in ALL_KINDS:
            c.add("unknown_entity", path, k_line, "not an entity kind Masker knows" + _hint(kind, ALL_KINDS))
        rule = _entity(c, kind, value, path)
        if rule is None:
            ok = False
        else:
            rules[kind] = rule
    for kind in sorted(ALL_KINDS - loc.value.keys()):
        message = "every kind must be listed (enabled: false to turn it off)"
        c.add("missing_entity", f"entities.{kind}", key_line, message)
    return dict(sorted(rules.items())) if ok else None


def _recognizers(c: _Checker, loc: _Loc) -> dict[str, RecognizerRule] | None:
    """``recognizers: {id: {enabled, confidence_threshold}}``; ids from the detection registry."""
    from masker.detect.registry import recognizer_ids  # the registry is where ids are declared

    if loc.value is None:
        return {}
    if not isinstance(loc.value, dict):
        c.add("invalid_type", "recognizers", loc.line, f"expected a mapping, got {_type_name(loc.value)}")
        return None
    known = recognizer_ids()
    before = len(c.issues)
    rules: dict[str, RecognizerRule] = {}
    for rid, (k_line, value) in loc.value.items():
        path = f"recognizers.{rid}"
        if rid not in known:
            c.add("unknown_recognizer", path, k_line,
                  "not a recognizer id (masker detect --recognizers lists them)" + _hint(rid, known))
            continue
        entries = c.mapping(value, path, _RECOGNIZER_KEYS) if value.value is not None else {}
        if entries is None:
            continue
        enabled = c.boolean(entries["enabled"][1], f"{path}.enabled") if "enabled" in entries else True
        threshold = None
        if "confidence_threshold" in entries:
            threshold = c.unit_interval(entries["confidence_threshold"][1], f"{path}.confidence_threshold")
        if enabled is not None:
            rules[rid] = RecognizerRule(rid, enabled, threshold)
    return dict(sorted(rules.items())) if len(c.issues) == before else None


def _value_list(c: _Checker, entries: dict[str, tuple[int, _Loc]], path: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``values`` and ``patterns`` of an allow or deny entry (patterns compiled to check them)."""
    values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    ok = True
    if "values" in entries:
        items = c.text_list(entries["values"][1], f"{path}.values")
        ok = items is not None
        values = tuple(v for v, _, _ in items or ())
    if "patterns" in entries:
        items = c.text_list(entries["patterns"][1], f"{path}.patterns")
        ok = ok and items is not None and all([_check_pattern(c, p, p_path, line) for p, p_path, line in items])
        patterns = tuple(p for p, _, _ in items or ())
    return (values, patterns) if ok else None


def _allow(c: _Checker, loc: _Loc) -> ValueList | None:
    if loc.value is None:
        return ValueList()
    entries = c.mapping(loc, "allow", _VALUE_LIST_KEYS)
    if entries is None:
        return None
    lists = _value_list(c, entries, "allow")
    return ValueList(*lists) if lists is not None else None


def _deny(c: _Checker, loc: _Loc, entities: dict[str, EntityRule] | None) -> tuple[DenyRule, ...] | None:
    """``deny: [{kind, values, patterns}]``: the kind must be one the policy masks."""
    if loc.value is None:
        return ()
    items = c.typed(loc, "deny", (list,), "a list")
    if items is None:
        return None
    before = len(c.issues)
    rules: list[DenyRule] = []
    for i, item in enumerate(items):
        path = f"deny[{i}]"
        entries = c.mapping(item, path, _DENY_KEYS)
        if entries is None:
            continue
        if "kind" not in entries:
            c.add("missing_key", f"{path}.kind", item.line, "required key is missing")
            continue
        k_loc = entries["kind"][1]
        kind = c.text(k_loc, f"{path}.kind")
        if kind is not None and kind not in ALL_KINDS:
            c.add("unknown_entity", f"{path}.kind", k_loc.line, "not an entity kind Masker knows" + _hint(kind, ALL_KINDS))
            continue
        rule = entities.get(kind) if entities is not None and kind is not None else None
        if rule is not None and (not rule.enabled or rule.action == "passthrough"):
            c.add("invalid_value", f"{path}.kind", k_loc.line,
                  "this kind is disabled or passed through by the policy, so a deny-list entry could not mask it")
        lists = _value_list(c, entries, path)
        if kind is not None and lists is not None:
            if not lists[0] and not lists[1]:
                c.add("invalid_value", path, item.line, "needs values or patterns")
            rules.append(DenyRule(kind, *lists))
    return tuple(rules) if len(c.issues) == before else None


def _passes(c: _Checker, loc: _Loc) -> tuple[str, ...] | None:
    items = c.typed(loc, "passes", (list,), "a list")
    if items is None:
        return None
    passes: list[str] = []
    ok = True
    for i, item in enumerate(items):
        path = f"passes[{i}]"
        name = c.typed(item, path, (str,), "a string")
        if name is None:
            ok = False
            continue
        canonical = PASS_ALIASES.get(name, name)
        if canonical not in PASSES:
            names = ", ".join((*PASSES, *PASS_ALIASES))
            c.add("invalid_pass", path, item.line, f"unknown pass; known: {names}" + _hint(name, PASSES))
            ok = False
        elif canonical in passes:
            c.add("invalid_value", path, item.line, "pass listed twice")
            ok = False
        else:
            passes.append(canonical)
    if ok and not any(p in DETECTION_PASSES for p in passes):
        c.add("invalid_value", "passes", loc.line, "needs at least one detection pass (regex or ner)")
        ok = False
    return tuple(passes) if ok else None


def _audit(c: _Checker, loc: _Loc) -> AuditSettings | None:
    if loc.value is None:  # "audit:" alone keeps the defaults
        return AuditSettings()
    entries = c.mapping(loc, "audit", _AUDIT_KEYS, _REMOVED_AUDIT)
    if entries is None:
        return None
    before = len(c.issues)
    fields: dict[str, Any] = {}
    if "retention_days" in entries:
        r_loc = entries["retention_days"][1]
        days = c.typed(r_loc, "audit.retention_days", (int,), "a whole number of days")
        if days is not None and days < 1:
            c.add("out_of_range", "audit.retention_days", r_loc.line, "must be at least 1")
        fields["retention_days"] = days
    return AuditSettings(**fields) if len(c.issues) == before else None


def _kid(c: _Checker, loc: _Loc, env: Mapping[str, str] | None) -> str | None:
    kid = c.text(loc, "kid")
    if kid is None:
        return None
    if not _KID.fullmatch(kid) or kid.endswith("_OLD"):
        c.add("invalid_value", "kid", loc.line, "must be 1-32 of A-Z a-z 0-9 _ and not end in _OLD")
        return None
    if env is not None and not env.get(f"MASKER_KEY_{kid}", "").strip():
        c.add("unknown_kid", "kid", loc.line, f"MASKER_KEY_{kid} is not set in the environment")
    return kid


def _validate(root: _Loc, env: Mapping[str, str] | None) -> tuple[dict[str, Any], list[PolicyIssue]]:
    c = _Checker()
    top = c.mapping(root, ROOT, _TOP_KEYS, _REMOVED_TOP)
    if top is None:
        return {}, c.issues
    for key in _REQUIRED:
        if key not in top:
            c.add("missing_key", key, root.line, "required key is missing")
    fields: dict[str, Any] = {"description": ""}
    if "name" in top:
        fields["name"] = c.text(top["name"][1], "name")
    if "version" in top:
        v_loc = top["version"][1]
        version = c.typed(v_loc, "version", (int,), "a whole number")
        if version is not None and version != 1:
            c.add("invalid_value", "version", v_loc.line, "only version 1 is supported")
        fields["version"] = version
    if "description" in top:
        d_loc = top["description"][1]
        fields["description"] = "" if d_loc.value is None else c.text(d_loc, "description", allow_empty=True)
    if "kid" in top:
        fields["kid"] = _kid(c, top["kid"][1], env)
    if "tokenization" in top:
        fields["tokenization"] = c.choice(top["tokenization"][1], "tokenization", TOKENIZATIONS)
    if "token_scope" in top:
        s_loc = top["token_scope"][1]
        fields["token_scope"] = c.choice(s_loc, "token_scope", TOKEN_SCOPES)
        tokenization = fields.get("tokenization")
        if tokenization is not None and tokenization not in SCOPED_TOKENIZATIONS:
            message = (
                f"does not apply to {tokenization}: {AEAD_SCHEME} tokens are the same in every scope"
                " (not scope-bound by design); delete it, or use vault-deterministic"
            )
            c.add("inapplicable_key", "token_scope", s_loc.line, message)
    if "passes" in top:
        fields["passes"] = _passes(c, top["passes"][1])
    if "entities" in top:
        key_line, e_loc = top["entities"]
        fields["entities"] = _entities(c, e_loc, key_line)
    if "audit" in top:
        fields["audit"] = _audit(c, top["audit"][1])
    if "scan_roles" in top:
        items = c.text_list(top["scan_roles"][1], "scan_roles")
        if items is not None:
            bad = [(p, line) for role, p, line in items if role not in CHAT_ROLES]
            for path, line in bad:
                c.add("invalid_value", path, line, f"must be one of: {', '.join(CHAT_ROLES)}")
            fields["scan_roles"] = None if bad else tuple(r for r, _, _ in items)
    if "media" in top:
        fields["media"] = c.choice(top["media"][1], "media", MEDIA_MODES)
    if "recognizers" in top:
        fields["recognizers"] = _recognizers(c, top["recognizers"][1])
    if "allow" in top:
        fields["allow"] = _allow(c, top["allow"][1])
    if "deny" in top:
        fields["deny"] = _deny(c, top["deny"][1], fields.get("entities"))
    return fields, c.issues


# ---------------------------------------------------------------- public API


def policy_document(policy: Policy) -> dict[str, Any]:
    """The normalized policy document (defaults filled in, aliases resolved)."""
    entities = {}
    for kind, rule in sorted(policy.entities.items()):
        entity = asdict(rule)
        del entity["kind"]
        entity["confidence_threshold"] = float(rule.confidence_threshold)
        entity["patterns"] = list(rule.patterns)
        entity["context"] = list(rule.context)
        entities[kind] = entity
    doc: dict[str, Any] = {
        "name": policy.name,
        "version": policy.version,
        "description": policy.description,
        "kid": policy.kid,
        "tokenization": policy.tokenization,
        "token_scope": policy.token_scope,
        "passes": list(policy.passes),
        "entities": entities,
        "audit": asdict(policy.audit),
        "scan_roles": list(policy.scan_roles),
        "media": policy.media,
    }
    # Written only when used, so that a policy without them keeps its hash.
    if policy.recognizers:
        doc["recognizers"] = {
            rid: {"enabled": r.enabled, "confidence_threshold": r.confidence_threshold}
            for rid, r in sorted(policy.recognizers.items())
        }
    if policy.allow.values or policy.allow.patterns:
        doc["allow"] = {"values": list(policy.allow.values), "patterns": list(policy.allow.patterns)}
    if policy.deny:
        doc["deny"] = [{"kind": d.kind, "values": list(d.values), "patterns": list(d.patterns)} for d in policy.deny]
    return doc


def policy_hash(policy: Policy) -> str:
    """sha256 hex of the RFC 8785 canonical JSON of ``policy_document``."""
    return sha256(rfc8785.dumps(policy_document(policy))).hexdigest()


def parse_policy(
    text: str,
    env: Mapping[str, str] | None = None,
    *,
    tolerate: Collection[str] = (),
) -> tuple[Policy | None, list[PolicyIssue]]:
    """Validate policy YAML; return the policy (hash set) and every issue found.

    ``env`` is where ``MASKER_KEY_<kid>`` must be; None skips that check.
    The policy is built when every issue's code is in ``tolerate`` (``diff``
    tolerates missing/unknown entities and compares what is listed), else None.
    """
    try:
        root = _parse_yaml(text)
    except _YamlIssue as exc:
        return None, [PolicyIssue("yaml_error", exc.path, exc.line, exc.message)]
    fields, found = _validate(root, env)
    issues = sorted(found, key=lambda i: (i.line, i.path, i.code))
    complete = all(k in fields for k in _REQUIRED) and None not in fields.values()
    if any(i.code not in tolerate for i in issues) or not complete:
        return None, issues
    policy = Policy(**fields)
    if policy.tokenization not in SCOPED_TOKENIZATIONS:
        policy = replace(policy, token_scope=None)  # MSK1: not scope-bound
    return replace(policy, hash=policy_hash(policy)), issues


def check_policy_file(
    path: Path | str,
    env: Mapping[str, str] | None = None,
    *,
    tolerate: Collection[str] = (),
) -> tuple[Policy | None, list[PolicyIssue]]:
    """``parse_policy`` on a file; an unreadable file is a ``yaml_error``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return None, [PolicyIssue("yaml_error", ROOT, 1, f"cannot read file: {reason}")]
    return parse_policy(text, env, tolerate=tolerate)


def load_policy(
    path: Path | str,
    env: Mapping[str, str] | None = None,
    *,
    tolerate: Collection[str] = (),
) -> Policy:
    """The policy in ``path``; raises ``PolicyError`` on any untolerated issue."""
    policy, issues = check_policy_file(path, env, tolerate=tolerate)
    if policy is None:
        raise PolicyError(str(path), issues)
    return policy


def runtime_policy_source(path: Path | str | None, env: Mapping[str, str]) -> Path:
    """The policy file the proxy runs with: ``path`` (default: the shipped one) if valid; fails closed.

    Any issue (including a missing ``MASKER_KEY_<kid>``) raises ``PolicyError``,
    except with ``MASKER_DEV=1`` outside production (``MASKER_ENV=production``):
    then the issues are logged (codes, paths and lines only) and the shipped
    default policy is used instead (it must itself be valid).
    """
    source = Path(path) if path is not None else default_policy_path()
    policy, issues = check_policy_file(source, env)
    if policy is not None and not issues:
        return source
    production = env.get("MASKER_ENV", "").strip().lower() == "production"
    if production or env.get("MASKER_DEV", "").strip() != "1":
        raise PolicyError(str(source), issues)
    for issue in issues:
        log.error("mask policy %s: %s at %s (line %d)", source, issue.code, issue.path, issue.line)
    fallback = default_policy_path()
    log.warning("MASKER_DEV=1: invalid mask policy %s, using the shipped default %s", source, fallback)
    load_policy(fallback, env)  # the fallback must be valid itself
    return fallback


def load_policy_for_runtime(path: Path | str | None, env: Mapping[str, str]) -> Policy:
    """The policy in ``runtime_policy_source(path, env)``."""
    return load_policy(runtime_policy_source(path, env), env)
