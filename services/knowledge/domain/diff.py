"""A unified diff between two versions of an artifact's text."""

import difflib


def unified(before: str, after: str, *, from_label: str, to_label: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=from_label,
        tofile=to_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
