"""Markdown to safe HTML: CommonMark (with tables) by markdown-it-py, then the ammonia sanitiser
(nh3) with its allow-list: no script or style, no event-handler attributes, links only to http(s)
and mailto, and `rel="noopener noreferrer"` on every link."""

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")
_SCHEMES = {"http", "https", "mailto"}


def to_html(markdown: str) -> str:
    return nh3.clean(
        _MARKDOWN.render(markdown),
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
    )
