"""User text on the pages: links that can only go somewhere harmless, search snippets reduced
to their highlights. Pure; Jinja escapes everything else."""

from urllib.parse import urlsplit

import nh3

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


def safe_url(value: object) -> str:
    """The URL if it is http(s) or mailto, else `#`: `javascript:` and `data:` links never
    reach a page."""
    url = str(value or "").strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return "#"
    return url if scheme in SAFE_SCHEMES else "#"


def highlights_only(html: object) -> str:
    """A search snippet with nothing left but its text and `<mark>` highlights."""
    return nh3.clean(str(html or ""), tags={"mark"}, attributes={}, url_schemes=set())


def body_html(html: object) -> str:
    """An artifact's body as knowledge rendered it, sanitised again at the edge (the page never
    trusts another service's HTML): no script, style, event handler or unsafe link survives."""
    return nh3.clean(str(html or ""), url_schemes=set(SAFE_SCHEMES), link_rel="noopener noreferrer")


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff's lines with their kind (`add`, `del`, `hunk`, `file` or `same`), for the
    page to colour; the text itself is escaped by the template."""
    kinds: list[tuple[str, str]] = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        kinds.append((kind, line))
    return kinds
