"""Router paths, embeddings/completions and the generic JSON shape."""

from __future__ import annotations

import pytest

from masker.engine import MaskingError
from masker.providers.router import mask_request, provider_for, rehydrate_response
from tests.helpers.providers import VALUES, FakeMask, fake_rehydrate

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


def test_embeddings_strings_masked_token_arrays_refused() -> None:
    assert mask_request("/v1/embeddings", {"model": "e", "input": "Alice Smith"}, FakeMask())["input"] == NAME
    out = mask_request("/v1/embeddings", {"model": "e", "input": ["Alice Smith", "x 555-123-4567"]}, FakeMask())
    assert out["input"] == [NAME, f"x {PHONE}"]
    for tokens in ([1, 2, 3], [[1, 2, 3], [4]], [[15339, 1917]]):  # text already tokenized: unreadable
        with pytest.raises(MaskingError) as err:
            mask_request("/v1/embeddings", {"input": tokens}, FakeMask())
        assert (err.value.code, err.value.status) == ("token_ids_unsupported", 400)


def test_legacy_completions_prompt_and_suffix() -> None:
    mask = FakeMask()
    out = mask_request("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": ["Dear Alice Smith"],
                                           "suffix": "555-123-4567"}, mask)
    assert out == {"model": "gpt-3.5-turbo-instruct", "prompt": [f"Dear {NAME}"], "suffix": PHONE}
    assert [(f.path, f.role) for f in mask.fields] == [("prompt/0", "user"), ("suffix", "user")]
    with pytest.raises(MaskingError) as err:
        mask_request("/v1/completions", {"prompt": ["Dear Alice Smith", [5, 6]]}, FakeMask())
    assert err.value.code == "token_ids_unsupported"


def test_generic_masks_every_free_string_leaf() -> None:
    b = {"model": "tts-1", "input": "Alice Smith", "n": 2, "ok": True, "none": None,
         "nested": [{"type": "x", "text": "Call 555-123-4567", "patient_id": "555-123-4567"}], "Alice": "key"}
    mask = FakeMask()
    out = mask_request("/v1/audio/speech", b, mask)
    assert out == {"model": "tts-1", "input": NAME, "n": 2, "ok": True, "none": None,
                   "nested": [{"type": "x", "text": f"Call {PHONE}", "patient_id": PHONE}], "Alice": "key"}
    assert [f.path for f in mask.fields if not f.path.endswith("{key}")] == [  # no values in paths
        "input", "nested/0/type", "nested/0/text", "nested/0/patient_id", "Alice"]
    # keys no API defines are scanned too
    assert {f.text for f in mask.fields if f.path.endswith("{key}")} == {"ok", "none", "nested", "patient_id", "Alice"}


def test_a_key_or_model_holding_an_identifier_is_refused() -> None:
    for body in ({"metadata": {"Alice Smith": "v"}}, {"model": "Alice Smith", "input": "x"}):
        with pytest.raises(MaskingError) as err:
            mask_request("/v1/responses", body, FakeMask())
        assert (err.value.code, err.value.status) == ("unmaskable_value", 400)


def test_numbers_are_scanned_with_their_key_as_context() -> None:
    mask = FakeMask()
    out = mask_request("/v1/chat/completions", {"model": "gpt-4o", "max_tokens": 300, "metadata": {"phone": 5551234567,
                                                "age": 9, "score": 0.5}}, mask)
    assert out["max_tokens"] == 300 and out["metadata"]["age"] == 9
    assert [(f.path, f.text, f.context) for f in mask.fields if not f.path.endswith("{key}")] == [
        ("metadata/phone", "5551234567", "phone: ")]


def test_duplicate_keys_in_arguments_are_refused() -> None:
    args = '{"note": "clean", "note": "Alice Smith"}'
    b = {"messages": [{"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                                           "function": {"name": "f", "arguments": args}}]}]}
    with pytest.raises(MaskingError) as err:
        mask_request("/v1/chat/completions", b, FakeMask())
    assert (err.value.code, err.value.status) == ("duplicate_key", 400)


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
