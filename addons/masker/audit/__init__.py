"""Audit: events, the HMAC-chained journal, Merkle trees, checkpoints, reports."""
