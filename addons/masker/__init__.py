"""Masker: a privacy layer between AI agents and LLM providers.

The core (policy, detection, tokens, vault, rehydration, audit) is a plain
library that knows nothing of mitmproxy; ``masker.proxy`` is the thin glue.
"""

__version__ = "0.1.0"
