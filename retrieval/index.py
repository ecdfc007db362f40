"""The knowledge index: faiss over normalized case and expert vectors, a BM25 next to it,
saved in the data dir with a manifest.

A case is embedded as several views (``CaseDoc.views``) and scored by its closest one.
On disk: ``<index_dir>/versions/<version>/`` holds ``manifest.json``, ``cases.faiss`` (every
view of every case, case by case), ``experts.faiss`` and ``docs.json``; ``<index_dir>/current``
is a symlink to the version in service. A build writes a new version folder completely, then
replaces the symlink with one atomic rename, so a reader never sees a half-written index.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.errors import IndexUnavailableError
from retrieval.corpus import CASE_VIEWS, CaseDoc, Corpus, ExpertDoc
from retrieval.direction import directions
from retrieval.encoder import Encoder
from retrieval.lexical import BM25Index
from retrieval.text import codes, contrast_words, lexical_tokens, normalize
from retrieval.typos import TypoCorrector

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

FORMAT = 3  # 2: several vectors per case (its views); 3: each text encoded alone (int8)
# Past this many vectors an exact flat scan costs more than the rest of a question (~0.15 ms per
# 1,000 vectors, docs/benchmarks.md "Where faiss stops being right"): use HNSW.
HNSW_ABOVE = 30_000
HNSW_EF_SEARCH = 128  # recall@10 0.99 at 100k vectors (0.96 at 1M, where 256 is needed)
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
    views: int = 1  # vectors per case


def _faiss() -> ModuleType:
    import faiss

    faiss.omp_set_num_threads(1)  # one query: 1 thread is several times faster than 2
    return faiss


def vector_index(vectors: np.ndarray, hnsw_above: int | None = None) -> faiss.Index:
    """Inner product over normalized vectors = cosine. Exact below ``hnsw_above`` (default
    ``HNSW_ABOVE``)."""
    lib = _faiss()
    dim = vectors.shape[1]
    index: faiss.Index
    if len(vectors) > (HNSW_ABOVE if hnsw_above is None else hnsw_above):
        hnsw: faiss.IndexHNSWFlat = lib.IndexHNSWFlat(dim, 32, lib.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        index = hnsw
    else:
        index = lib.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


class KnowledgeIndex:
    """Immutable once built; ``with_case(s)`` returns a new index with more cases."""

    def __init__(
        self,
        manifest: Manifest,
        cases: list[CaseDoc],
        case_vectors: np.ndarray,
        experts: list[ExpertDoc],
        expert_vectors: np.ndarray,
        case_search: faiss.Index | None = None,
    ):
        """``case_vectors``: (cases, views, dim), each case's views in ``CaseDoc.views`` order.
        ``case_search``: the faiss index of those vectors when it exists already (read with the
        version, or grown from the previous one); built here otherwise."""
        self.manifest = manifest
        self.cases = cases
        self.case_vectors = case_vectors
        self.views = case_vectors.shape[1]
        self.experts = experts
        self.expert_names = {e.id: e.name for e in experts}  # who solved a case, for the reply
        self.expert_vectors = expert_vectors
        self.case_search = (
            case_search
            if case_search is not None
            else vector_index(case_vectors.reshape(-1, case_vectors.shape[2]))
        )
        self.lexical = BM25Index([c.lexical_text for c in cases])
        self.answer_tokens = [set(lexical_tokens(c.answer)) for c in cases]
        # per-case facts the decision features need for every question, computed once
        self.case_codes = [codes(c.lexical_text) for c in cases]
        self.case_text = [normalize(c.search_text) for c in cases]
        self.case_contrasts = [contrast_words(text) for text in self.case_text]
        self.case_directions = [directions(text) for text in self.case_text]
        self.case_position = {c.id: i for i, c in enumerate(cases)}
        self.typos = TypoCorrector(
            (f"{c.lexical_text} {c.answer}" for c in cases), (f"{c.title} {' '.join(c.tags)}" for c in cases)
        )

    @property
    def version(self) -> str:
        return self.manifest.version

    def search_cases(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (positions, cosines) for one normalized query vector; a case's cosine is that
        of its closest view."""
        k = min(k, len(self.cases))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.case_search.search(
            query_vector.reshape(1, -1).astype(np.float32), min(k * self.views, self.case_search.ntotal)
        )
        keep = ids[0] >= 0
        positions = ids[0][keep] // self.views
        # hits come best first: a case's first hit is its closest view
        _, first = np.unique(positions, return_index=True)
        first = np.sort(first)[:k]
        return positions[first], scores[0][keep][first]

    def case_similarity(self, positions: list[int], query_vector: np.ndarray) -> np.ndarray:
        """Cosine of the closest view of each case at ``positions``."""
        if not positions:
            return np.zeros(0, dtype=np.float32)
        closest: np.ndarray = (self.case_vectors[positions] @ query_vector).max(axis=1)
        return closest

    def with_case(self, case: CaseDoc, vector: np.ndarray, checksum: str) -> KnowledgeIndex:
        """A new index that also holds ``case`` (replacing one with the same id); ``vector``:
        its views, (views, dim)."""
        return self.with_cases([case], vector.reshape(1, *vector.shape), checksum)

    def with_cases(self, docs: list[CaseDoc], vectors: np.ndarray, checksum: str) -> KnowledgeIndex:
        """A new index that also holds ``docs`` (each replacing one with the same id), built
        once; ``vectors``: their views, (len(docs), views, dim)."""
        cases = list(self.cases)
        replaced = self.case_vectors.copy()
        added: list[np.ndarray] = []
        changed = False
        for doc, vector in zip(docs, vectors, strict=True):
            pos = self.case_position.get(doc.id)
            if pos is None:
                cases.append(doc)
                added.append(vector)
            else:
                cases[pos] = doc
                replaced[pos] = vector
                changed = True
        new = np.asarray(added, dtype=np.float32).reshape(-1, *replaced.shape[1:])
        case_vectors = np.concatenate([replaced, new])
        manifest = replace(
            self.manifest,
            version=new_version(checksum),
            cases=len(cases),
            knowledge_checksum=checksum,
            built_at=datetime.now(UTC).isoformat(),
        )
        return KnowledgeIndex(
            manifest,
            cases,
            case_vectors.astype(np.float32),
            self.experts,
            self.expert_vectors,
            None if changed else self._grown(new.reshape(-1, new.shape[2])),
        )

    def _grown(self, vectors: np.ndarray) -> faiss.Index | None:
        """An HNSW graph is extended with new cases' views, not built again (at 100,000 vectors
        a build takes ~80 s, docs/benchmarks.md); a flat index is cheap to build: None."""
        lib = _faiss()
        if not isinstance(self.case_search, lib.IndexHNSW):
            return None
        grown: faiss.Index = lib.clone_index(self.case_search)
        if len(vectors):
            grown.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return grown


def new_version(checksum: str) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{checksum[:8]}"


def build_index(
    corpus: Corpus,
    encoder: Encoder,
    progress: Progress | None = None,
    progress_every: int = 512,
    reuse: KnowledgeIndex | None = None,
) -> KnowledgeIndex:
    """Encode every case (each of its views) and expert into a new index, reporting progress
    every ``progress_every`` texts. A text ``reuse`` (an index built with the same model)
    already holds a vector for is not encoded again: a rebuild after a few changes encodes only
    those."""
    views = len(CASE_VIEWS)
    texts = [v for c in corpus.cases for v in c.views] + [e.profile_text for e in corpus.experts]
    same_model = reuse is not None and (reuse.manifest.model_id, reuse.views) == (encoder.model_id, views)
    known = known_vectors(reuse) if reuse is not None and same_model else {}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    reused = sum(t in known for t in texts)
    if reuse is not None:
        log.info("index build", extra={"texts": len(texts), "reused": reused, "to_encode": len(missing)})
    if progress:
        progress(reused, len(texts))
    for start in range(0, len(missing), progress_every):
        chunk = missing[start : start + progress_every]
        known.update(zip(chunk, encoder.encode(chunk), strict=True))
        if progress:
            progress(reused + min(start + progress_every, len(missing)), len(texts))
    vectors = (
        np.vstack([known[t] for t in texts]).astype(np.float32, copy=False)
        if texts
        else np.zeros((0, encoder.dim), dtype=np.float32)
    )
    n_case_vectors = len(corpus.cases) * views
    checksum = corpus.checksum
    manifest = Manifest(
        format=FORMAT,
        version=new_version(checksum),
        model_id=encoder.model_id,
        dim=encoder.dim,
        cases=len(corpus.cases),
        experts=len(corpus.experts),
        knowledge_checksum=checksum,
        built_at=datetime.now(UTC).isoformat(),
        views=views,
    )
    case_vectors = vectors[:n_case_vectors].reshape(len(corpus.cases), views, encoder.dim)
    return KnowledgeIndex(manifest, corpus.cases, case_vectors, corpus.experts, vectors[n_case_vectors:])


def known_vectors(index: KnowledgeIndex) -> dict[str, np.ndarray]:
    """Each text ``index`` embedded (every view of every case, every expert profile) with its
    vector."""
    known = {
        text: vector
        for case, vectors in zip(index.cases, index.case_vectors, strict=True)
        for text, vector in zip(case.views, vectors, strict=True)
    }
    known.update(zip((e.profile_text for e in index.experts), index.expert_vectors, strict=True))
    return known


def save_index(index: KnowledgeIndex, index_dir: Path) -> Path:
    """Write a new version folder, then point ``current`` at it atomically."""
    faiss = _faiss()
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    final = versions / index.version
    tmp = versions / f".{index.version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # the search index as it is (an HNSW graph included): loading it builds nothing
    faiss.write_index(index.case_search, str(tmp / "cases.faiss"))
    faiss.write_index(vector_index(index.expert_vectors, hnsw_above=1 << 62), str(tmp / "experts.faiss"))
    docs = {"cases": [asdict(c) for c in index.cases], "experts": [asdict(e) for e in index.experts]}
    (tmp / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    # the manifest is written last: a folder without one was never finished
    (tmp / "manifest.json").write_text(json.dumps(asdict(index.manifest), indent=2), encoding="utf-8")
    os.replace(tmp, final)
    point_current(index_dir, index.version)
    log.info(
        "index saved",
        extra={
            "version": index.version,
            "cases": len(index.cases),
            "experts": len(index.experts),
            "path": str(final),
        },
    )
    return final


def point_current(index_dir: Path, version: str) -> None:
    """Point ``current`` at the finished folder ``versions/<version>`` with one atomic rename,
    then drop the oldest folders past ``KEEP_VERSIONS``."""
    link = index_dir / f".current.{os.getpid()}.tmp"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("versions") / version)
    os.replace(link, index_dir / "current")
    _prune(index_dir / "versions", keep=version)


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


def outdated(index_dir: Path, model_id: str) -> str | None:
    """Why the current index was made for another version of this code or another model (it
    can be rebuilt from the knowledge store as it is); None when it was not, or is unreadable."""
    try:
        raw = json.loads((index_dir / "current" / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if raw.get("format") != FORMAT:
        return f"format {raw.get('format')}, this code reads {FORMAT}"
    if raw.get("model_id") != model_id:
        return f"built with {raw.get('model_id')}, the service uses {model_id}"
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
        case_search = faiss.read_index(str(folder / "cases.faiss"))
        case_vectors = _vectors(case_search)
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
        len(case_vectors),
        len(expert_vectors),
    ) != (manifest.cases * manifest.views, manifest.experts):
        raise IndexUnavailableError(f"index at {folder} is inconsistent with its manifest")
    case_vectors = case_vectors.reshape(manifest.cases, manifest.views, manifest.dim)
    if isinstance(case_search, faiss.IndexHNSW):
        case_search.hnsw.efSearch = HNSW_EF_SEARCH
    elif len(case_vectors) * manifest.views > HNSW_ABOVE:
        case_search = None  # written flat by an older version: built as HNSW now
    return KnowledgeIndex(manifest, cases, case_vectors, experts, expert_vectors, case_search)


def _vectors(index: Any) -> np.ndarray:
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    vectors: np.ndarray = index.reconstruct_n(0, index.ntotal)
    return vectors
