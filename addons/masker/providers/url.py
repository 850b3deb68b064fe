"""The URL of a request to a provider: path segments and query parameters.

Path segments are the provider's route words, provider ids and model names,
or they are scanned: a segment that holds an identifier refuses the request
(a masked path would only reach the wrong resource). Query parameters are
masked like body text, names and values, except the parameters below whose
value is one the provider defines (an ``api-version`` shaped like a date of
birth is not a version and is masked).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from masker.engine import TextField
from masker.providers.walk import MODEL_NAME, PROVIDER_ID

# Words of the providers' routes (OpenAI, Azure OpenAI, Anthropic): not data.
ROUTE_WORDS = frozenset({
    "v1", "v2", "openai", "anthropic", "deployments", "chat", "completions", "responses", "messages",
    "count_tokens", "embeddings", "moderations", "models", "files", "content", "uploads", "parts", "batches",
    "cancel", "results", "audio", "speech", "transcriptions", "translations", "images", "generations", "edits",
    "variations", "realtime", "sessions", "transcription_sessions", "client_secrets", "calls", "input_items",
    "input_tokens", "conversations", "items", "threads", "runs", "steps", "submit_tool_outputs", "assistants",
    "vector_stores", "file_batches", "fine_tuning", "jobs", "checkpoints", "organization", "usage", "costs",
    "skills", "versions", "containers", "compact", "beta",
})
_AZURE_VERSION = re.compile(r"20(?:2[2-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:-preview)?|preview|latest|v1")
# name -> values the provider defines for it
PLAIN_QUERY: dict[str, re.Pattern[str]] = {
    "api-version": _AZURE_VERSION,
    "beta": re.compile(r"true|false"),
    "stream": re.compile(r"true|false"),
    "order": re.compile(r"asc|desc"),
    "limit": re.compile(r"\d{1,3}"),
}


def route_template(path: str) -> str:
    """``path`` with every segment that is not a route word as ``{id}``: what events record."""
    return "/".join(s if not s or s in ROUTE_WORDS else "{id}" for s in path.split("?", 1)[0].split("/"))


def path_fields(path: str) -> list[TextField]:
    """The segments of ``path`` (query excluded) that must be scanned, decoded.

    The caller refuses the request when masking would change any of them.
    """
    out: list[TextField] = []
    for i, raw in enumerate(path.split("?", 1)[0].split("/")):
        segment = unquote(raw)
        if not segment or segment in ROUTE_WORDS or PROVIDER_ID(segment) or MODEL_NAME(segment):
            continue
        out.append(TextField(segment, None, f"path/{i}"))
    return out


def query_fields(pairs: list[tuple[str, str]]) -> tuple[list[TextField], list[tuple[int, int]]]:
    """Fields for the query names and values to mask, and where each goes: (pair, 0 name | 1 value)."""
    fields: list[TextField] = []
    where: list[tuple[int, int]] = []
    for i, (name, value) in enumerate(pairs):
        plain = PLAIN_QUERY.get(name.lower())
        if plain is not None and plain.fullmatch(value):
            continue
        for j, (text, part) in enumerate(((name, "name"), (value, "value"))):
            if text:
                fields.append(TextField(text, None, f"query/{i}/{part}"))
                where.append((i, j))
    return fields, where
