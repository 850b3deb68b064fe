"""Tokens: scheme grammar, keys, vault, AEAD, synthetic surrogates, rehydration."""
