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
