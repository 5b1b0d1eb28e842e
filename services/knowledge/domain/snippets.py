"""A short, highlighted excerpt of an artifact around the words a search matched."""

import html
import re

from services.knowledge.domain.text import fold, stem

WIDTH = 220
_WORD = re.compile(r"\w+", re.UNICODE)


def snippet(text: str, query_terms: set[str], width: int = WIDTH) -> str:
    """HTML: the text escaped, the matched words in `<mark>`, cut to about `width` characters
    around the first match (the start of the text when nothing matches)."""
    text = " ".join(text.split())
    matches = [m for m in _WORD.finditer(text) if stem(fold(m.group())) in query_terms]
    start = max(0, matches[0].start() - width // 4) if matches else 0
    end = min(len(text), start + width)
    parts, cursor = [], start
    for m in matches:
        if m.start() < start or m.end() > end:
            continue
        parts.append(html.escape(text[cursor : m.start()]))
        parts.append(f"<mark>{html.escape(m.group())}</mark>")
        cursor = m.end()
    parts.append(html.escape(text[cursor:end]))
    return ("…" if start > 0 else "") + "".join(parts) + ("…" if end < len(text) else "")
