"""Text as the search index sees it: words folded to lower case without accents, common English
words left out, each reduced to its stem (Snowball's English stemmer), so that
"Retrospectives" and "rétrospective" meet at `retrospect`."""

import re
import unicodedata
from collections import Counter
from functools import lru_cache

import snowballstemmer

_APOSTROPHE = "\u2019"
_WORD = re.compile(rf"[a-z0-9]+(?:['{_APOSTROPHE}][a-z]+)?")
_STEMMER = snowballstemmer.stemmer("english")
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with you your yours yourself yourselves""".split()  # noqa: SIM905 - a word list
)
MAX_TERM_LENGTH = 40


def fold(text: str) -> str:
    """Lower case, accents removed (é → e), compatibility forms unified (ﬁ → fi)."""
    if text.isascii():  # most text: nothing to decompose
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """The folded words of a text, stop words included (for snippets)."""
    return _WORD.findall(fold(text))


def _term(word: str) -> str:
    """A folded word's index term, or "" when it is not indexed (too short, too long, common)."""
    word = word.replace(_APOSTROPHE, "'").split("'")[0]
    if len(word) < 2 or word in STOP_WORDS or len(word) > MAX_TERM_LENGTH:
        return ""
    return stem(word)


class _Terms(dict[str, str]):
    """word → its term, remembered for the first `MAX_TERM_CACHE` distinct words: a library's
    vocabulary repeats, and a lookup costs a tenth of reckoning a word again."""

    def __missing__(self, word: str) -> str:
        term = _term(word)
        if len(self) < MAX_TERM_CACHE:
            self[word] = term
        return term


MAX_TERM_CACHE = 200_000
_TERMS = _Terms()


def terms(text: str) -> list[str]:
    """The index terms of a text, in order, repeats kept."""
    return list(filter(None, map(_TERMS.__getitem__, _WORD.findall(fold(text)))))


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))
