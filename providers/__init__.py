"""Provider-neutral interfaces; each cloud lives in its own subpackage."""
