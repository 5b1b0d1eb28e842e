"""Relevance: BM25 over one weighted bag of words per artifact (a BM25F simplification).

Each field's term frequencies are weighted before they are added (title 3, tags 2.5, summary 1.5,
body 1), so a word in a title counts three body mentions; document length is the weighted
length. score(q, d) = Σ over query terms t of
    idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 - b + b · |d| / avgdl)),
idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)), k1 = 0.6, b = 0.75.

The search index (`adapters/search_index.py`) computes exactly this, but for its engine's rounding
of long lengths: tantivy's BM25 has k1 1.2 and counts each word once, so each field's words are
indexed `REPEATS` · weight times (a whole number for every weight), which doubles frequencies and
lengths alike; k1 1.2 on doubled counts is k1 0.6 on these, up to a factor the index divides out.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FIELD_WEIGHTS = {"title": 3.0, "tags": 2.5, "summary": 1.5, "body": 1.0}
FIELDS = tuple(FIELD_WEIGHTS)
K1 = 0.6
B = 0.75
REPEATS = 2
"""How many times per unit of weight a field is indexed: 2 makes every weight whole."""


def field_texts(doc: Mapping[str, Any]) -> dict[str, str]:
    """The text of each of `FIELDS` of an artifact (decision and case-study fields count as
    body; a tag's hyphens and underscores separate words)."""
    extra = []
    for section in ("decision", "case_study"):
        extra += [str(v) for v in (doc.get(section) or {}).values()]
    return {
        "title": doc.get("title") or "",
        "tags": " ".join(t.replace("-", " ").replace("_", " ") for t in doc.get("tags") or []),
        "summary": doc.get("summary") or "",
        "body": "\n".join([doc.get("body_markdown") or "", *extra]),
    }


@dataclass(frozen=True)
class Corpus:
    documents: int
    average_length: float


def weighted(frequencies: Iterable[int]) -> float:
    """A term's weighted frequency from its per-field counts, in `FIELDS` order."""
    return sum(w * f for w, f in zip(FIELD_WEIGHTS.values(), frequencies, strict=True))


def idf(document_frequency: int, corpus: Corpus) -> float:
    return math.log(1 + (corpus.documents - document_frequency + 0.5) / (document_frequency + 0.5))


def scores(
    postings: Mapping[str, Mapping[str, float]],
    lengths: Mapping[str, float],
    corpus: Corpus,
) -> dict[str, float]:
    """`postings`: term → artifact → weighted frequency. Returns artifact → score."""
    total: dict[str, float] = {}
    average = corpus.average_length or 1.0
    for by_artifact in postings.values():
        weight = idf(len(by_artifact), corpus)
        for artifact, tf in by_artifact.items():
            norm = K1 * (1 - B + B * lengths.get(artifact, average) / average)
            total[artifact] = total.get(artifact, 0.0) + weight * tf * (K1 + 1) / (tf + norm)
    return total
