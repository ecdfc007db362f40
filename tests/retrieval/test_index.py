"""The knowledge index: faiss against brute force, save/load, refusal of bad indexes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.errors import IndexUnavailableError
from retrieval.corpus import CaseDoc, Corpus, ExpertDoc
from retrieval.index import (
    FORMAT,
    HNSW_EF_SEARCH,
    KnowledgeIndex,
    Manifest,
    build_index,
    current_version,
    load_index,
    save_index,
    vector_index,
)


def random_unit(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def test_flat_search_equals_brute_force():
    vectors, queries = random_unit(5000), random_unit(20, seed=1)
    index = vector_index(vectors)
    for query in queries:
        scores, ids = index.search(query.reshape(1, -1), 10)
        expected_ids, expected_scores = brute_force(vectors, query, 10)
        assert ids[0].tolist() == expected_ids.tolist()
        np.testing.assert_allclose(scores[0], expected_scores, rtol=1e-5, atol=1e-5)


def test_hnsw_above_the_limit_finds_nearly_all_true_neighbours():
    vectors, queries = random_unit(3000, dim=64), random_unit(30, dim=64, seed=2)
    index = vector_index(vectors, hnsw_above=1000)
    found = 0
    for query in queries:
        _, ids = index.search(query.reshape(1, -1), 10)
        found += len(set(ids[0].tolist()) & set(brute_force(vectors, query, 10)[0].tolist()))
    assert found / (10 * len(queries)) >= 0.95


def corpus_of(n_cases: int = 6) -> Corpus:
    cases = [
        CaseDoc(
            f"K{i:03d}",
            f"标题{i}",
            f"问题描述{i}：车床报警SV04{i:02d}",
            f"答案{i}",
            "工程机械与智能制造",
            "E01",
            ("数控",),
        )
        for i in range(n_cases)
    ]
    experts = [
        ExpertDoc("E01", "王工", "劳模", "徐工", "铜山区", ("工程机械与智能制造",), ("数控维修",), None),
        ExpertDoc("E02", "李工", None, None, "丰县", ("纺织",), ("织机保全",), "织布三十年"),
    ]
    return Corpus(cases, experts)


def test_index_search_on_real_vectors_equals_brute_force(encoder):
    index = build_index(corpus_of(), encoder)
    query = encoder.encode(["车床报SV0403"])[0]
    positions, scores = index.search_cases(query, 4)
    closest_view = (index.case_vectors @ query).max(axis=1)
    order = np.argsort(-closest_view, kind="stable")[:4]
    assert positions.tolist() == order.tolist()
    np.testing.assert_allclose(scores, closest_view[order], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(index.case_similarity(order.tolist(), query), closest_view[order], rtol=1e-6)


def test_a_case_is_found_by_each_of_its_views(encoder):
    """Asked in the words of a case's worker question alone, or of its answer, the case comes
    first with the cosine of that view."""
    corpus = corpus_of()
    index = build_index(corpus, encoder)
    assert index.case_vectors.shape == (6, 3, 384)
    target = corpus.cases[2]
    for view in target.views:
        positions, scores = index.search_cases(encoder.encode([view])[0], 3)
        assert positions[0] == 2
        assert scores[0] == pytest.approx(1.0, abs=5e-3)  # int8: batched and single differ a little


def test_save_then_load_gives_the_same_index(encoder, tmp_path: Path):
    built = build_index(corpus_of(), encoder)
    save_index(built, tmp_path / "index")
    assert current_version(tmp_path / "index") == built.version
    loaded = load_index(tmp_path / "index", encoder.model_id)
    assert loaded.version == built.version and loaded.cases == built.cases
    assert loaded.experts == built.experts
    np.testing.assert_allclose(loaded.case_vectors, built.case_vectors)
    manifest = json.loads((tmp_path / "index" / "current" / "manifest.json").read_text())
    assert manifest["model_id"] == encoder.model_id and manifest["cases"] == 6
    assert manifest["dim"] == 384 and manifest["knowledge_checksum"] == corpus_of().checksum


def test_old_versions_are_pruned_and_current_is_newest(encoder, tmp_path: Path):
    for _ in range(5):
        newest = build_index(corpus_of(), encoder)
        save_index(newest, tmp_path / "index")
    assert current_version(tmp_path / "index") == newest.version
    assert len(list((tmp_path / "index" / "versions").iterdir())) == 3


def test_missing_corrupt_and_foreign_indexes_are_refused(encoder, tmp_path: Path):
    with pytest.raises(IndexUnavailableError, match="no index"):
        load_index(tmp_path / "index", encoder.model_id)
    saved = save_index(build_index(corpus_of(), encoder), tmp_path / "index")
    with pytest.raises(IndexUnavailableError, match="built with"):
        load_index(tmp_path / "index", "some/other-model@torch")
    (saved / "cases.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexUnavailableError, match="unreadable"):
        load_index(tmp_path / "index", encoder.model_id)


def test_with_case_adds_or_replaces_a_case(encoder):
    index = build_index(corpus_of(), encoder)
    new = CaseDoc("K100", "织机经纱断头多", "经纱老是断", "调整经纱张力", "纺织", "E02")
    vectors = encoder.encode(list(new.views))
    bigger = index.with_case(new, vectors, "checksum-2")
    assert len(bigger.cases) == 7 and len(index.cases) == 6
    positions, _ = bigger.search_cases(vectors[1], 1)
    assert bigger.cases[positions[0]].id == "K100"
    assert bigger.version != index.version
    replaced = bigger.with_case(new, vectors, "checksum-3")
    assert len(replaced.cases) == 7


def manifest_of(corpus: Corpus) -> Manifest:
    return Manifest(
        FORMAT,
        "20260101T000000000000-aaaaaaaa",
        "test-model",
        384,
        len(corpus.cases),
        len(corpus.experts),
        "a" * 64,
        "2026-01-01T00:00:00+00:00",
        views=3,
    )


def test_an_hnsw_index_is_saved_as_built_and_grown_not_rebuilt(tmp_path: Path, monkeypatch):
    """Past HNSW_ABOVE the graph is written with the version and read back as it is, and a
    published case is added to it: a new version builds no graph (80 s at 100,000 vectors)."""
    import faiss

    monkeypatch.setattr("retrieval.index.HNSW_ABOVE", 10)
    corpus = corpus_of(8)  # 8 cases x 3 views = 24 vectors, past the limit of 10
    views = random_unit(8 * 3, seed=4).reshape(8, 3, -1)
    built = KnowledgeIndex(manifest_of(corpus), corpus.cases, views, corpus.experts, random_unit(2, seed=5))
    assert isinstance(built.case_search, faiss.IndexHNSWFlat)
    save_index(built, tmp_path)

    def no_build(*args, **kwargs):
        raise AssertionError("the HNSW graph was built again")

    monkeypatch.setattr("retrieval.index.vector_index", no_build)
    loaded = load_index(tmp_path, built.manifest.model_id)
    assert isinstance(loaded.case_search, faiss.IndexHNSWFlat)
    assert loaded.case_search.hnsw.efSearch == HNSW_EF_SEARCH
    np.testing.assert_allclose(loaded.case_vectors, built.case_vectors)
    query = views[5][1]
    assert loaded.search_cases(query, 1)[0].tolist() == [5]

    new = CaseDoc("K900", "新案例", "问题", "答案", "工程机械与智能制造", "E01", ("数控",))
    new_views = random_unit(3, seed=6)
    grown = loaded.with_case(new, new_views, "c" * 64)
    assert grown.case_search.ntotal == 27 and loaded.case_search.ntotal == 24  # the old one unchanged
    assert grown.search_cases(new_views[2], 1)[0].tolist() == [8]


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner):
        self.inner, self.encoded = inner, []
        self.model_id, self.dim = inner.model_id, inner.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += texts
        return self.inner.encode(texts)


def test_a_rebuild_encodes_only_what_changed(encoder):
    before = corpus_of()
    old = build_index(before, encoder)
    edited = CaseDoc(**{**before.cases[1].__dict__, "answer": "换一个答案"})
    after = Corpus([before.cases[0], edited, *before.cases[2:]], before.experts)
    counting, seen = CountingEncoder(encoder), []
    rebuilt = build_index(after, counting, lambda done, total: seen.append((done, total)), reuse=old)
    # only the edited case's answer view is new
    assert counting.encoded == [edited.views[2]]
    assert seen == [(19, 20), (20, 20)]  # 6 cases x 3 views + 2 experts, 19 of them known
    fresh = build_index(after, encoder)
    # int8 quantizes each batch on its own scale: a vector encoded in another batch differs a little
    assert (np.sum(rebuilt.case_vectors * fresh.case_vectors, axis=2) > 0.99).all()
    assert (np.sum(rebuilt.expert_vectors * fresh.expert_vectors, axis=1) > 0.99).all()
    # vectors of another model are never reused
    other = CountingEncoder(encoder)
    other.model_id = "some/other-model@torch"
    build_index(after, other, reuse=old)
    assert len(other.encoded) == 20
