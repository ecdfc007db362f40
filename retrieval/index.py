"""The knowledge index: faiss over normalized case and expert vectors, a BM25 next to it,
saved in the data dir with a manifest.

On disk: ``<index_dir>/versions/<version>/`` holds ``manifest.json``, ``cases.faiss``,
``experts.faiss`` and ``docs.json``; ``<index_dir>/current`` is a symlink to the version in
service. A build writes a new version folder completely, then replaces the symlink with one
atomic rename, so a reader never sees a half-written index.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.errors import IndexUnavailableError
from retrieval.corpus import CaseDoc, Corpus, ExpertDoc
from retrieval.encoder import Encoder
from retrieval.lexical import BM25Index
from retrieval.text import codes, contrast_words, lexical_tokens, normalize

log = logging.getLogger(__name__)

FORMAT = 1
HNSW_ABOVE = 100_000  # past this many vectors an exact flat scan gets slow: use HNSW
KEEP_VERSIONS = 3
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Manifest:
    format: int
    version: str
    model_id: str
    dim: int
    cases: int
    experts: int
    knowledge_checksum: str
    built_at: str


def _faiss():  # type: ignore[no-untyped-def]
    import faiss

    faiss.omp_set_num_threads(1)  # one query: 1 thread is several times faster than 2
    return faiss


def vector_index(vectors: np.ndarray, hnsw_above: int = HNSW_ABOVE):  # type: ignore[no-untyped-def]
    """Inner product over normalized vectors = cosine. Exact below ``hnsw_above``."""
    faiss = _faiss()
    dim = vectors.shape[1]
    if len(vectors) > hnsw_above:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


class KnowledgeIndex:
    """Immutable once built; ``with_case`` returns a new index with one more case."""

    def __init__(
        self,
        manifest: Manifest,
        cases: list[CaseDoc],
        case_vectors: np.ndarray,
        experts: list[ExpertDoc],
        expert_vectors: np.ndarray,
    ):
        self.manifest = manifest
        self.cases = cases
        self.case_vectors = case_vectors
        self.experts = experts
        self.expert_vectors = expert_vectors
        self.case_search = vector_index(case_vectors)
        self.lexical = BM25Index([c.lexical_text for c in cases])
        self.answer_tokens = [set(lexical_tokens(c.answer)) for c in cases]
        # per-case facts the decision features need for every question, computed once
        self.case_codes = [codes(c.lexical_text) for c in cases]
        self.case_text = [normalize(c.search_text) for c in cases]
        self.case_contrasts = [contrast_words(text) for text in self.case_text]
        self.case_position = {c.id: i for i, c in enumerate(cases)}

    @property
    def version(self) -> str:
        return self.manifest.version

    def search_cases(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (positions, cosines) for one normalized query vector."""
        k = min(k, len(self.cases))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.case_search.search(query_vector.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def with_case(self, case: CaseDoc, vector: np.ndarray, checksum: str) -> "KnowledgeIndex":
        """A new index that also holds ``case`` (replacing one with the same id)."""
        cases = list(self.cases)
        vectors = self.case_vectors
        if case.id in self.case_position:
            pos = self.case_position[case.id]
            cases[pos] = case
            vectors = vectors.copy()
            vectors[pos] = vector
        else:
            cases.append(case)
            vectors = np.vstack([vectors, vector.reshape(1, -1)]).astype(np.float32)
        manifest = replace(
            self.manifest, version=new_version(checksum), cases=len(cases),
            knowledge_checksum=checksum, built_at=datetime.now(timezone.utc).isoformat(),
        )
        return KnowledgeIndex(manifest, cases, vectors, self.experts, self.expert_vectors)


def new_version(checksum: str) -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{checksum[:8]}"


def build_index(corpus: Corpus, encoder: Encoder, progress: Progress | None = None,
                batch_size: int = 64) -> KnowledgeIndex:
    """Encode every case and expert (in batches, reporting progress) into a new index."""
    texts = [c.search_text for c in corpus.cases] + [e.profile_text for e in corpus.experts]
    chunks = []
    for start in range(0, len(texts), batch_size * 8):
        chunks.append(encoder.encode(texts[start : start + batch_size * 8]))
        if progress:
            progress(min(start + batch_size * 8, len(texts)), len(texts))
    vectors = np.vstack(chunks) if chunks else np.zeros((0, encoder.dim), dtype=np.float32)
    n_cases = len(corpus.cases)
    checksum = corpus.checksum
    manifest = Manifest(
        format=FORMAT, version=new_version(checksum), model_id=encoder.model_id, dim=encoder.dim,
        cases=n_cases, experts=len(corpus.experts), knowledge_checksum=checksum,
        built_at=datetime.now(timezone.utc).isoformat(),
    )
    return KnowledgeIndex(manifest, corpus.cases, vectors[:n_cases], corpus.experts, vectors[n_cases:])


def save_index(index: KnowledgeIndex, index_dir: Path) -> Path:
    """Write a new version folder, then point ``current`` at it atomically."""
    faiss = _faiss()
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    final = versions / index.version
    tmp = versions / f".{index.version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    faiss.write_index(vector_index(index.case_vectors, hnsw_above=1 << 62), str(tmp / "cases.faiss"))
    faiss.write_index(vector_index(index.expert_vectors, hnsw_above=1 << 62), str(tmp / "experts.faiss"))
    docs = {"cases": [asdict(c) for c in index.cases], "experts": [asdict(e) for e in index.experts]}
    (tmp / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    # the manifest is written last: a folder without one was never finished
    (tmp / "manifest.json").write_text(json.dumps(asdict(index.manifest), indent=2), encoding="utf-8")
    os.replace(tmp, final)
    link = index_dir / f".current.{os.getpid()}.tmp"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("versions") / index.version)
    os.replace(link, index_dir / "current")
    _prune(versions, keep=index.version)
    log.info("index saved", extra={"version": index.version, "cases": len(index.cases),
                                   "experts": len(index.experts), "path": str(final)})
    return final


def _prune(versions: Path, keep: str) -> None:
    finished = sorted(p for p in versions.iterdir() if not p.name.startswith("."))
    for old in finished[:-KEEP_VERSIONS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def current_version(index_dir: Path) -> str | None:
    """The version ``current`` points at, read without loading anything (cheap to poll)."""
    try:
        return os.readlink(index_dir / "current").rsplit("/", 1)[-1]
    except OSError:
        return None


def load_index(index_dir: Path, model_id: str) -> KnowledgeIndex:
    """Load the current version. Raises ``IndexUnavailableError`` saying what is wrong."""
    faiss = _faiss()
    link = index_dir / "current"
    if not link.is_symlink():
        raise IndexUnavailableError(f"no index in {index_dir}")
    folder = link.resolve()
    try:
        raw: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
        docs = json.loads((folder / "docs.json").read_text(encoding="utf-8"))
        cases = [CaseDoc(**{**d, "tags": tuple(d["tags"])}) for d in docs["cases"]]
        experts = [
            ExpertDoc(**{**d, "industries": tuple(d["industries"]), "skills": tuple(d["skills"])})
            for d in docs["experts"]
        ]
        case_vectors = _vectors(faiss.read_index(str(folder / "cases.faiss")))
        expert_vectors = _vectors(faiss.read_index(str(folder / "experts.faiss")))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexUnavailableError(f"index at {folder} is unreadable: {exc}") from exc
    if manifest.format != FORMAT:
        raise IndexUnavailableError(f"index at {folder} has format {manifest.format}, not {FORMAT}")
    if manifest.model_id != model_id:
        raise IndexUnavailableError(
            f"index at {folder} was built with {manifest.model_id}, the service uses {model_id}"
        )
    if (len(cases), len(experts)) != (manifest.cases, manifest.experts) or (
        len(case_vectors), len(expert_vectors)) != (manifest.cases, manifest.experts):
        raise IndexUnavailableError(f"index at {folder} is inconsistent with its manifest")
    return KnowledgeIndex(manifest, cases, case_vectors, experts, expert_vectors)


def _vectors(index: Any) -> np.ndarray:
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)
