"""Stream parsing and per-key rehydration (SSE)."""
