"""Translation quality: array items and their key fields (items), item-level scores (metrics)."""
