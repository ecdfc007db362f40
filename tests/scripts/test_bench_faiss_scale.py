"""scripts/bench_faiss_scale.py at a tiny size: the report's shape, and recall measured right
(the exact index finds the exact answer; the approximate ones stay within [0, 1])."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scripts.bench_faiss_scale import K, main, recall, synthetic


def test_the_mixture_is_normalized_clustered_and_holds_out_its_queries():
    base, queries = synthetic(2000, 20, clusters=10, seed=3)
    assert base.shape == (2000, 384) and queries.shape == (20, 384)
    assert np.allclose(np.linalg.norm(base, axis=1), 1, atol=1e-5)
    nearest = (queries @ base.T).max(axis=1)
    assert nearest.min() < 1 - 1e-4  # held out: no query is one of the base vectors
    assert nearest.mean() > 0.8  # near neighbours exist, unlike uniform noise (~0.2 in 384 dims)
    again, _ = synthetic(2000, 20, clusters=10, seed=3)
    assert np.array_equal(base, again)


def test_recall_counts_the_true_neighbours_found():
    truth = np.arange(2 * K).reshape(2, K)
    found = truth.copy()
    found[1] = np.arange(100, 100 + K)
    found[1, 1] = truth[1, 0]  # the true nearest, found second
    assert recall(truth, truth) == (1.0, 1.0)
    assert recall(found, truth) == (0.5, pytest.approx(0.55))


def test_a_tiny_run_reports_every_index_and_the_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "faiss.json"
    code = main(
        ["--sizes", "1500", "--queries", "20", "--clusters", "10", "--indexes", "flat,hnsw,ivf_flat,ivf_sq8"]
        + ["--out", str(out)]
    )
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    (size,) = report["sizes"]
    assert size["vectors"] == 1500 and size["queries"] == 20 and size["nlist"] == 155
    indexes = {entry["name"]: entry for entry in size["indexes"]}
    assert list(indexes) == ["flat", "hnsw", "ivf_flat", "ivf_sq8"]
    assert [s["setting"] for s in indexes["hnsw"]["settings"]] == [
        f"efSearch={ef}" for ef in (32, 64, 128, 256)
    ]
    assert [s["setting"] for s in indexes["ivf_sq8"]["settings"]] == [f"nprobe={n}" for n in (8, 16, 32, 64)]
    (exact,) = indexes["flat"]["settings"]
    assert exact["recall_at_1"] == 1.0 and exact["recall_at_10"] == 1.0
    assert indexes["flat"]["bytes"] > 1500 * 384 * 4 > indexes["ivf_sq8"]["bytes"] > 1500 * 384
    for entry in size["indexes"]:
        assert entry["build_s"] >= 0 and entry["read_s"] >= 0
        for s in entry["settings"]:
            assert 0 < s["p50_ms"] <= s["p95_ms"]
            assert 0 <= s["recall_at_1"] <= 1 and 0 <= s["recall_at_10"] <= 1
    load = size["load"]
    assert load["rebuild"] == "flat" and 0 < load["blob_bytes"] < load["file_bytes"] + 10_000
    printed = capsys.readouterr().out
    assert "### 1,500 vectors" in printed and "| flat | exact |" in printed and "gzip tar" in printed
