"""Router paths, embeddings/completions and the generic JSON shape."""

from __future__ import annotations

import pytest
from test_providers_fakes import VALUES, FakeMask, fake_rehydrate

from masker.engine import MaskingError
from masker.providers.router import mask_request, provider_for, rehydrate_response

NAME, PHONE = VALUES["Alice Smith"], VALUES["555-123-4567"]


@pytest.mark.parametrize(("path", "shape"), [
    ("/v1/chat/completions", "openai_chat"),
    ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "openai_chat"),
    ("https://api.openai.com/v1/chat/completions/", "openai_chat"),
    ("/v1/responses", "openai_responses"),
    ("/openai/v1/responses?api-version=preview", "openai_responses"),
    ("/v1/messages", "anthropic"),
    ("/anthropic/v1/messages/count_tokens", "anthropic"),
    ("/v1/threads/thread_1/messages", "generic"),  # Assistants, not Anthropic
    ("/v1/embeddings", "embeddings"),
    ("/openai/deployments/emb/embeddings?api-version=1", "embeddings"),
    ("/v1/completions", "completions"),
    ("/v1/moderations", "generic"),
])
def test_provider_for(path: str, shape: str) -> None:
    assert provider_for(path) == shape


def test_embeddings_strings_masked_token_arrays_left() -> None:
    assert mask_request("/v1/embeddings", {"model": "e", "input": "Alice Smith"}, FakeMask())["input"] == NAME
    out = mask_request("/v1/embeddings", {"model": "e", "input": ["Alice Smith", "x 555-123-4567"]}, FakeMask())
    assert out["input"] == [NAME, f"x {PHONE}"]
    mask = FakeMask()
    assert mask_request("/v1/embeddings", {"input": [[1, 2, 3], [4]]}, mask) == {"input": [[1, 2, 3], [4]]}
    assert mask.calls == []


def test_legacy_completions_prompt_and_suffix() -> None:
    mask = FakeMask()
    out = mask_request("/v1/completions", {"model": "m", "prompt": ["Dear Alice Smith", [5, 6]],
                                           "suffix": "555-123-4567"}, mask)
    assert out == {"model": "m", "prompt": [f"Dear {NAME}", [5, 6]], "suffix": PHONE}
    assert [f.path for f in mask.fields] == ["prompt/0", "suffix"]


def test_generic_masks_every_free_string_leaf() -> None:
    b = {"model": "m", "input": "Alice Smith", "n": 2, "ok": True, "none": None,
         "nested": [{"type": "x", "text": "Call 555-123-4567", "patient_id": "555-123-4567"}], "Alice Smith": "key stays"}
    mask = FakeMask()
    out = mask_request("/v1/audio/speech", b, mask)
    assert out == {"model": "m", "input": NAME, "n": 2, "ok": True, "none": None,
                   "nested": [{"type": "x", "text": f"Call {PHONE}", "patient_id": PHONE}], "Alice Smith": "key stays"}
    assert [f.path for f in mask.fields] == ["input", "nested/0/text", "nested/0/patient_id", "*"]  # no values


def test_generic_bare_string_body_and_data_urls() -> None:
    assert mask_request("/custom", "Alice Smith", FakeMask()) == NAME
    with pytest.raises(MaskingError) as err:
        mask_request("/custom", {"img": "data:image/png;base64,iVBORw0"}, FakeMask())
    assert err.value.code == "media_blocked"


def test_chat_path_with_non_object_body_is_still_masked() -> None:
    assert mask_request("/v1/chat/completions", ["Alice Smith"], FakeMask()) == [NAME]


def test_mask_function_contract_is_enforced() -> None:
    with pytest.raises(MaskingError) as err:
        mask_request("/v1/embeddings", {"input": ["a", "b"]}, lambda fields: ["only one"])
    assert err.value.code == "mask_failed"


def test_generic_response_and_unknown_tokens_redacted() -> None:
    unknown = VALUES["MRN 00123"].replace("MRN", "SSN")
    out = rehydrate_response("/v1/whatever", {"a": [f"{NAME} / {unknown}", 3], "b": {"c": PHONE}}, fake_rehydrate)
    assert out == {"a": ["Alice Smith / [REDACTED:SSN]", 3], "b": {"c": "555-123-4567"}}
