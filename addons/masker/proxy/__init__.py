"""mitmproxy glue: thin addons, one per concern, each failing closed."""
