"""Relevance: BM25 over one weighted bag of words per artifact (a BM25F simplification).

Each field's term frequencies are weighted before they are added (title 3, tags 2.5, summary 1.5,
body 1), so a word in a title counts three body mentions; document length is the weighted
length. score(q, d) = Σ over query terms t of
    idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 - b + b · |d| / avgdl)),
idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)), k1 = 1.2, b = 0.75.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FIELD_WEIGHTS = {"title": 3.0, "tags": 2.5, "summary": 1.5, "body": 1.0}
FIELDS = tuple(FIELD_WEIGHTS)
K1 = 1.2
B = 0.75


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
