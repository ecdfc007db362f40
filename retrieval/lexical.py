"""BM25 over Chinese characters, character bigrams and latin/digit tokens.

Dense embeddings blur alarm codes and model numbers (SV0401 vs SV0411); this index matches
them exactly. Besides the BM25 score it reports how much of the query's IDF mass a document
covers, a length-independent signal the decision policy uses.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from retrieval.text import lexical_tokens


@dataclass(frozen=True)
class LexicalMatch:
    scores: np.ndarray  # BM25 per document
    coverage: np.ndarray  # share of the query's IDF mass present in each document
    query_idf: dict[str, float]  # the query's known tokens and their IDF


class BM25Index:
    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.doc_tokens: list[set[str]] = []
        self.postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for doc_id, text in enumerate(documents):
            counts = Counter(lexical_tokens(text))
            self.doc_tokens.append(set(counts))
            lengths.append(sum(counts.values()))
            for token, tf in counts.items():
                self.postings.setdefault(token, []).append((doc_id, tf))
        self.size = len(documents)
        self.lengths = np.asarray(lengths, dtype=np.float32)
        self.avg_length = float(self.lengths.mean()) if self.size else 0.0
        self.idf = {
            token: math.log(1 + (self.size - len(p) + 0.5) / (len(p) + 0.5))
            for token, p in self.postings.items()
        }

    def match(self, query: str) -> LexicalMatch:
        scores = np.zeros(self.size, dtype=np.float32)
        covered = np.zeros(self.size, dtype=np.float32)
        query_idf: dict[str, float] = {}
        for token, qtf in Counter(lexical_tokens(query)).items():
            idf = self.idf.get(token)
            if idf is None:
                continue
            query_idf[token] = idf
            for doc_id, tf in self.postings[token]:
                norm = self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / self.avg_length)
                scores[doc_id] += qtf * idf * tf * (self.k1 + 1) / (tf + norm)
                covered[doc_id] += idf
        total = sum(query_idf.values())
        coverage = covered / total if total > 0 else covered
        return LexicalMatch(scores=scores, coverage=coverage, query_idf=query_idf)
