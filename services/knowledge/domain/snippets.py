"""A short, highlighted excerpt of an artifact around the words a search matched."""

import html
import itertools
import re

from services.knowledge.domain.text import fold, stem

WIDTH = 220
_WORD = re.compile(r"\w+", re.UNICODE)


def snippet(text: str, query_terms: set[str], width: int = WIDTH) -> str:
    """HTML: the text escaped, the matched words in `<mark>`, cut to about `width` characters
    around the first match (the start of the text when nothing matches)."""
    text = " ".join(text.split())
    words = _WORD.finditer(text)
    first = next((m for m in words if stem(fold(m.group())) in query_terms), None)
    start = max(0, first.start() - width // 4) if first else 0
    end = min(len(text), start + width)
    parts, cursor = [], start
    # Words before the first match are not matches; words past the cut are not read.
    for m in itertools.chain([first] if first else [], words):
        if m.start() >= end:
            break
        if m.end() > end or (m is not first and stem(fold(m.group())) not in query_terms):
            continue
        parts.append(html.escape(text[cursor : m.start()]))
        parts.append(f"<mark>{html.escape(m.group())}</mark>")
        cursor = m.end()
    parts.append(html.escape(text[cursor:end]))
    return ("…" if start > 0 else "") + "".join(parts) + ("…" if end < len(text) else "")
