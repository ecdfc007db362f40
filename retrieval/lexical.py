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
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for doc_id, text in enumerate(documents):
            counts = Counter(lexical_tokens(text))
            self.doc_tokens.append(set(counts))
            lengths.append(sum(counts.values()))
            for token, frequency in counts.items():
                postings.setdefault(token, []).append((doc_id, frequency))
        self.size = len(documents)
        self.lengths = np.asarray(lengths, dtype=np.float32)
        self.avg_length = float(self.lengths.mean()) if self.size else 0.0
        self.idf = {
            token: math.log(1 + (self.size - len(p) + 0.5) / (len(p) + 0.5)) for token, p in postings.items()
        }
        # per token: the documents holding it, its count in each, and each one's BM25
        # denominator tf + k1 * (1 - b + b * length / avg_length) (float32, as summed)
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.avg_length) if self.size else self.lengths
        self.postings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for token, pairs in postings.items():
            ids = np.fromiter((doc_id for doc_id, _ in pairs), dtype=np.intp, count=len(pairs))
            tf = np.fromiter((tf for _, tf in pairs), dtype=np.float64, count=len(pairs))
            self.postings[token] = (ids, tf, tf.astype(np.float32) + norm[ids])

    def match(self, query: str) -> LexicalMatch:
        """Scores and coverage of every document, in numpy: the cost grows with the query's
        postings, not with a Python step per posting."""
        scores = np.zeros(self.size, dtype=np.float32)
        covered = np.zeros(self.size, dtype=np.float32)
        query_idf: dict[str, float] = {}
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        weights: list[float] = []  # qtf * idf per found token
        for token, qtf in Counter(lexical_tokens(query)).items():
            idf = self.idf.get(token)
            if idf is None:
                continue
            query_idf[token] = idf
            found.append(self.postings[token])
            weights.append(qtf * idf)
        if found:
            counts = [len(ids) for ids, _, _ in found]
            ids = np.concatenate([ids for ids, _, _ in found])
            tf = np.concatenate([tf for _, tf, _ in found])
            denominator = np.concatenate([d for _, _, d in found])
            # qtf * idf * tf * (k1 + 1) / (tf + norm), token by token in query order (add.at
            # adds in that order, in float32, as a loop over the postings would)
            numerator = np.repeat(np.asarray(weights), counts) * tf * (self.k1 + 1)
            np.add.at(scores, ids, numerator.astype(np.float32) / denominator)
            idf_of_posting = np.repeat(np.asarray(list(query_idf.values())), counts)
            np.add.at(covered, ids, idf_of_posting.astype(np.float32))
        total = sum(query_idf.values())
        coverage = covered / total if total > 0 else covered
        return LexicalMatch(scores=scores, coverage=coverage, query_idf=query_idf)
