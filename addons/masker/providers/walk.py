"""The request walk: deny by default.

Every string leaf, every number and every object key of a request body, at
any depth, is registered with the ``FieldSink`` and scanned, unless the
provider's ``Shape`` proves it is not PHI, with the reason next to the rule.
A provider adds exemptions and says what its text means (roles, JSON text,
media parts); it never lists the fields to mask, so a field, a shape or a
nesting nobody thought of is scanned, not forwarded as is.

Not scanned, for every shape:

* booleans and ``null``: one bit identifies nobody;
* numbers whose magnitude is below 10: no HIPAA identifier has one digit
  (ages are identifiers only over 89);
* media payloads inside a part the shape calls media, once the policy's
  media switch allowed the part (``media: allow``); with ``media: block``
  the part is refused. Other strings of that part (a file name) are scanned.

Refused, for every shape: an object key or a ``model`` that holds an
identifier (neither can be masked without breaking the request), a
duplicate key, ``NaN``/``Infinity`` (``base.loads_strict``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from masker.engine import MaskingError
from masker.providers.base import FieldSink, path_key

Step = str | int
Path = tuple[Step, ...]
# A path pattern: object keys, "*" for any one step (key or index), "**" for any number of steps.
Pattern = tuple[str, ...]


def matches(pattern: Pattern, path: Path) -> bool:
    """Whether ``path`` (from the body's root) fits ``pattern``."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(matches(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == path[0]) and matches(rest, path[1:])


@cache
def matcher(pattern: Pattern) -> Callable[[Path], bool]:
    """``matches`` for one pattern, compiled: the body walk asks it for every node.

    Fixed-length patterns and ``("**", ...suffix)`` (nearly all of them) are
    compared step by step from the end; others fall back to ``matches``.
    """
    if "**" not in pattern or (pattern[0] == "**" and "**" not in pattern[1:]):
        anchored = "**" not in pattern
        steps = pattern if anchored else pattern[1:]
        n = len(steps)
        fixed = tuple((i - n, s) for i, s in enumerate(steps) if s != "*")

        def fast(path: Path) -> bool:
            if len(path) != n if anchored else len(path) < n:
                return False
            return all(path[i] == s for i, s in fixed)

        return fast
    return lambda path: matches(pattern, path)


@dataclass(frozen=True)
class Exempt:
    """A leaf at ``at`` whose value passes ``test`` is not scanned, because of ``reason``."""

    at: Pattern
    test: Callable[[Any], bool]
    reason: str


@dataclass(frozen=True)
class Refuse:
    """A leaf at ``at`` whose value passes ``test`` cannot be scanned: the request is refused."""

    at: Pattern
    test: Callable[[Any], bool]
    code: str
    message: str


@dataclass(frozen=True)
class Role:
    """The chat role of everything under ``at``: fixed, or read from the node (None keeps the outer role)."""

    at: Pattern
    role: str | Callable[[Any], str | None]


def one_of(*values: str) -> Callable[[Any], bool]:
    allowed = frozenset(values)
    return lambda v: isinstance(v, str) and v in allowed


def shaped(regex: str) -> Callable[[Any], bool]:
    compiled = re.compile(regex)
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def node_role(node: Any) -> str | None:
    """The ``role`` of a message or item, when it is a string."""
    role = node.get("role") if isinstance(node, dict) else None
    return role if isinstance(role, str) else None


# Model names as OpenAI and Anthropic spell them (fine-tunes included); any
# other ``model`` value is scanned and refused if it holds an identifier.
MODEL_NAME = shaped(
    r"(?:ft:)?(?:gpt|o\d|chatgpt|text-embedding|text-moderation|omni-moderation|davinci|babbage|whisper|tts|dall-e"
    r"|gpt-image|computer-use|codex|claude)[A-Za-z0-9._:-]{0,96}"
)
# Ids the providers mint: a known prefix and a random base62/hex body of 16+
# characters, no separators. An honest client never writes PHI into one, and
# a value with separators or punctuation (an e-mail, a dashed SSN) does not fit.
PROVIDER_ID = shaped(
    r"(?:call|toolu|srvtoolu|msg|msgbatch|resp|rs|fc|ctc|item|evt|event|sess|file|asst|run|thread|conv|audio|ws|mcp"
    r"|mcpr|ig|ci|cu|cuo|lsh|batch|req|chatcmpl|cmpl|vs|step|modr|ft|ftjob|fs|wsc|sr)[_-][A-Za-z0-9]{16,96}"
)
ID_KEYS = ("id", "tool_call_id", "call_id", "tool_use_id", "item_id", "previous_item_id", "previous_response_id",
           "response_id", "event_id", "file_id", "conversation_id")
ROLES = one_of("system", "user", "assistant", "tool", "function", "developer")


@dataclass(frozen=True)
class Shape:
    """What one provider API says about its request bodies; everything else is scanned."""

    name: str
    exempt: tuple[Exempt, ...] = ()
    refuse: tuple[Refuse, ...] = ()
    roles: tuple[Role, ...] = ()
    json_text: tuple[Pattern, ...] = (("**", "arguments"),)
    # Object keys the API defines (field names, not data): not scanned.
    fields: frozenset[str] = frozenset()
    # Whether an object is a media part (image, audio, file): follows the media switch.
    media: Callable[[dict[str, Any]], bool] = lambda node: False
    _by_last: dict[str, tuple[Exempt, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[Exempt]] = {}
        for rule in self.exempt:
            index.setdefault(rule.at[-1], []).append(rule)
        object.__setattr__(self, "_by_last", {k: tuple(v) for k, v in index.items()})

    def exemption(self, path: Path, value: Any) -> str | None:
        """The reason ``value`` at ``path`` is not scanned, or None."""
        last = path[-1] if path else None
        candidates = self._by_last.get(last, ()) if isinstance(last, str) else ()
        for rule in candidates + self._by_last.get("*", ()):
            if rule.test(value) and matcher(rule.at)(path):
                return rule.reason
        return None

    def refusal(self, path: Path, value: Any) -> Refuse | None:
        for rule in self.refuse:
            if rule.test(value) and matcher(rule.at)(path):
                return rule
        return None

    def role_at(self, path: Path, node: Any, outer: str | None) -> str | None:
        for rule in self.roles:
            if matcher(rule.at)(path):
                role = rule.role if isinstance(rule.role, str) else rule.role(node)
                return outer if role is None else role
        return outer


# Top-level generation parameters that are counts or a sampling seed, up to
# the largest value an API accepts; a larger number (a nine-digit "n") is not
# a count and is scanned. Six digits hold no phone, SSN, card or MRN.
_GENERATION_NUMBERS = {"max_tokens": 999_999, "max_completion_tokens": 999_999, "max_output_tokens": 999_999,
                       "n": 128, "seed": 999_999, "top_k": 1000, "top_logprobs": 20, "logprobs": 20,
                       "dimensions": 65_536, "best_of": 20, "max_tool_calls": 1000}


def _count_up_to(limit: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= limit

# Exemptions every shape shares: the API's own enums, ids and parameters.
COMMON_EXEMPT = (
    Exempt(("model",), MODEL_NAME, "a model name of the provider's naming scheme"),
    Exempt(("**", "role"), ROLES, "chat role enum"),
    *(Exempt(("**", key), PROVIDER_ID, "an id the provider minted (prefix + random body)") for key in ID_KEYS),
)
# Generation parameters of the provider APIs (not of unknown endpoints, where "n" may be anything).
GENERATION_EXEMPT = tuple(Exempt((key,), _count_up_to(limit), "a generation parameter (a count or a sampling seed)")
                          for key, limit in _GENERATION_NUMBERS.items())
# Field names that both providers define.
COMMON_FIELDS = frozenset({
    "model", "role", "type", "content", "text", "id", "name", "input", "stream", "temperature", "top_p",
    "metadata", "user", "tools", "tool_choice", "description", "parameters", "properties", "required",
    "items", "enum", "format", "data", "source", "media_type", "url", "detail", "title", "cache_control",
    "strict", "additionalProperties", "anyOf", "oneOf", "allOf", "default", "minimum", "maximum", "status",
    "arguments", "function", "index", "citations", *ID_KEYS, *_GENERATION_NUMBERS,
})

# Inside JSON text (tool-call arguments the model wrote) nothing is the API's:
# every key, string and number is scanned.
FREE = Shape("free_json", json_text=())

_BASE64 = re.compile(r"[A-Za-z0-9+/=_\-\s]{16,}")
_DATA_URL = re.compile(r"data:[^,;]{0,100}(?:;[^,;]{0,100})*;base64,", re.I)
_DATA_URL_PAYLOAD = re.compile(r"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=_\-\s]*", re.I)
_WORD_SPLIT = re.compile(r"[_\-\s.]+|(?<=[a-z0-9])(?=[A-Z])")


def key_words(path: Path) -> str:
    """The nearest object key of ``path`` as words (``patientPhone`` -> ``patient Phone``), for context."""
    for step in reversed(path):
        if isinstance(step, str):
            return " ".join(w for w in _WORD_SPLIT.split(step) if w)[:64]
    return ""


def format_path(path: Path) -> str:
    """``messages/0/content``: keys that are not plain identifiers show as ``*`` (paths carry no values)."""
    return "/".join(step if step == "{key}" else path_key(step) for step in path) or "/"


class BodyWalk:
    """Registers every piece of one body with the sink, as ``shape`` allows."""

    def __init__(self, shape: Shape, sink: FieldSink) -> None:
        self.shape = shape
        self.sink = sink

    def walk(self, box: list[Any], path: Path = (), role: str | None = None) -> None:
        """Walk ``box[0]`` (boxed so that a bare string body can be replaced)."""
        self._node(box, 0, path, role, False)

    def _node(self, container: Any, key: Any, path: Path, role: str | None, in_media: bool) -> None:
        value = container[key]
        role = self.shape.role_at(path, value, role)
        if isinstance(value, dict):
            if not in_media and self.shape.media(value):
                self.sink.media(format_path(path))  # refuses under media: block
                in_media = True
            for k in list(value):
                if k not in self.shape.fields:
                    self.sink.key(value, k, role=role, path=format_path((*path, "{key}")))
                self._node(value, k, (*path, k), role, in_media)
        elif isinstance(value, list):
            for i in range(len(value)):
                self._node(value, i, (*path, i), role, in_media)
        elif isinstance(value, str):
            self._string(container, key, value, path, role, in_media)
        elif is_number(value):
            self._number(container, key, value, path, role)
        # booleans and null: nothing to scan

    def _string(self, container: Any, key: Any, value: str, path: Path, role: str | None, in_media: bool) -> None:
        if not value or self.shape.exemption(path, value) is not None:
            return
        self._refuse_if_listed(path, value)
        if _DATA_URL.match(value):
            self.sink.media(format_path(path))  # inline media anywhere follows the switch
            if _DATA_URL_PAYLOAD.fullmatch(value):
                return  # media payload, allowed by policy
        elif in_media and _BASE64.fullmatch(value):
            return  # the payload of a media part the switch allowed
        where = format_path(path)
        if path == ("model",):
            self.sink.fixed(container, key, role=role, path=where, what="the model name")
        elif any(matcher(p)(path) for p in self.shape.json_text):
            self.sink.json_text(container, key, path=where, role=role,
                                walk=lambda box: BodyWalk(FREE, self.sink).walk(box, path, role))
        else:
            self.sink.text(container, key, role=role, path=where)

    def _number(self, container: Any, key: Any, value: int | float, path: Path, role: str | None) -> None:
        self._refuse_if_listed(path, value)
        if abs(value) < 10 or self.shape.exemption(path, value) is not None:
            return
        words = key_words(path)
        self.sink.number(container, key, role=role, path=format_path(path), context=f"{words}: " if words else "")

    def _refuse_if_listed(self, path: Path, value: Any) -> None:
        rule = self.shape.refusal(path, value)
        if rule is not None:
            raise MaskingError(rule.code, f"{rule.message} at {format_path(path)}", 400)
