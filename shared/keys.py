"""Keys made from what identifies a fact: short, stable, and safe as MongoDB field names."""

import hashlib


def field_key(*parts: str) -> str:
    """A short key (no `.` or `$`) for one item of a fact, the same for every delivery of it."""
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:20]
