"""Provider API shapes as pure functions over JSON (no mitmproxy here)."""
