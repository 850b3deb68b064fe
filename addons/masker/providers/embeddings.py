"""Embeddings ``input`` and legacy completions ``prompt``/``suffix``.

Every string, number and key is scanned (``masker.providers.walk``); inputs
are the user's text. Token arrays (``input``/``prompt`` as lists of
integers) are refused: they are text already tokenized, which Masker cannot
read, so it cannot vouch for them.
"""

from __future__ import annotations

from typing import Any

from masker.providers.walk import COMMON_EXEMPT, COMMON_FIELDS, GENERATION_EXEMPT, Exempt, Refuse, Role, Shape, is_number, one_of


def _token_ids(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shape(name: str, key: str) -> Shape:
    return Shape(
        name,
        exempt=(
            *COMMON_EXEMPT,
            *GENERATION_EXEMPT,
            Exempt(("encoding_format",), one_of("float", "base64"), "encoding format enum"),
            Exempt(("logit_bias", "*"), is_number, "a bias between -100 and 100 for a token id"),
        ),
        refuse=(
            Refuse((key, "*"), _token_ids, "token_ids_unsupported", "token ids cannot be scanned; send text"),
            Refuse((key, "*", "*"), _token_ids, "token_ids_unsupported", "token ids cannot be scanned; send text"),
        ),
        roles=(Role((key,), "user"), Role(("suffix",), "user")),
        fields=COMMON_FIELDS | frozenset({"encoding_format", "dimensions", "prompt", "suffix", "echo", "stop",
                                          "logit_bias", "frequency_penalty", "presence_penalty", "best_of"}),
    )


EMBEDDINGS = _shape("embeddings", "input")
COMPLETIONS = _shape("completions", "prompt")
