"""Where one in-process faiss index per instance stops being right: flat, HNSW and IVF settings
on synthetic sentence-embedding-like vectors at 100k and 1M, with build time, memory, the
write + read time of a new version, single-thread query latency and recall against the exact scan.

Example:
    nice -n 19 python scripts/bench_faiss_scale.py --sizes 100000,1000000 --queries 500 --out /tmp/faiss.json
    python scripts/bench_faiss_scale.py --sizes 5000 --queries 50 --clusters 50   # a quick look

The vectors are not uniform noise, which no ANN index handles like real embeddings: a mixture of
``--clusters`` gaussian clusters in 384 dims (e5-small's). Cluster centres share one common
direction (cosine between unrelated e5 sentences is ~0.7, not 0) plus a random one; a point is its
centre plus noise with a decaying (power-law) spectrum along axes that differ per cluster (real
embedding sets have a low intrinsic dimension), then L2-normalized; cluster sizes are lognormal.
The seed is fixed. Queries are held-out points of the same mixture, so near neighbours exist.
The report gives the mean cosine of random pairs and of each query's nearest neighbour.

Indexes (inner product = cosine, as retrieval/index.py): Flat IP (the ground truth), HNSW Flat
built by ``retrieval.index.vector_index`` itself (M=32, efConstruction=40, ONE thread: a new
version's load rebuilds it exactly so), IVF Flat, IVF SQ8 and IVF PQ (nlist ~4*sqrt(N), k-means
on a sample of 50 points per list, 10 iterations; the three share one k-means and one assignment,
whose time is counted in each build), optionally HNSW SQ8. IVF builds use ``--build-threads``.
Per index: build seconds, bytes of ``faiss.serialize_index``, write_index and read_index seconds;
per search setting: median and p95 ms of one-query searches (k=10, one thread) and recall@1 and
recall@10 against the exact batch search.

The load of a new version in today's layout is measured too: a version folder holding the case
vectors as a flat ``cases.faiss`` (docs.json empty, so only the vectors count) is packed and
unpacked with ``retrieval.store.pack/unpack`` (gzip tar), then read_index + reconstruct_n as
``load_index`` does; ``load_index`` then rebuilds the search index (``vector_index``: HNSW past
``HNSW_ABOVE``), whose time is the HNSW (or Flat) build row. Prints a markdown table per size;
``--out`` writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from faiss.contrib.ivf_tools import add_preassigned

from retrieval.index import HNSW_ABOVE, vector_index
from retrieval.store import pack, unpack

DIM = 384
K = 10
INDEXES = ("flat", "hnsw", "ivf_flat", "ivf_sq8", "ivf_pq", "hnsw_sq8")
DEFAULT_INDEXES = "flat,hnsw,ivf_flat,ivf_sq8,ivf_pq"
EF_SEARCH = (32, 64, 128, 256)
NPROBE = (8, 16, 32, 64)
PQ_M = 48  # 48 sub-vectors of 8 dims, 8 bits each: 48 bytes a vector
Report = dict[str, Any]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: nice -n 19 python scripts/bench_faiss_scale.py --sizes 100000,1000000 --out f.json",
    )
    parser.add_argument("--sizes", default="100000,1000000", help="vector counts (default 100000,1000000)")
    parser.add_argument("--queries", type=int, default=500, help="held-out queries (default 500)")
    parser.add_argument("--clusters", type=int, default=2000, help="gaussian clusters (default 2000)")
    parser.add_argument(
        "--indexes", default=DEFAULT_INDEXES, help=f"of {','.join(INDEXES)} (default {DEFAULT_INDEXES})"
    )
    parser.add_argument("--build-threads", type=int, default=2, help="for IVF builds (default 2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    unknown = set(args.indexes.split(",")) - set(INDEXES)
    if unknown:
        parser.error(f"--indexes: unknown {', '.join(sorted(unknown))}")
    return args


def _unit(x: np.ndarray) -> np.ndarray:
    unit: np.ndarray = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return unit


def synthetic(n: int, queries: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` base vectors and ``queries`` held-out ones of one gaussian mixture (see the docstring)."""
    rng = np.random.default_rng(seed)
    common = _unit(rng.standard_normal(DIM))
    own = _unit(rng.standard_normal((clusters, DIM)))
    centres = _unit(math.sqrt(0.85) * common + math.sqrt(0.15) * own).astype(np.float32)
    weights = rng.lognormal(0, 1, clusters)
    spectrum = np.arange(1, DIM + 1) ** -0.6  # std of the i-th noise axis; variance ~ i^-1.2
    spectrum *= 0.5 / np.linalg.norm(spectrum)  # noise norm 0.5 against a unit centre
    stds = np.stack([spectrum[rng.permutation(DIM)] for _ in range(clusters)]).astype(np.float32)
    rotation = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0].astype(np.float32)
    labels = rng.choice(clusters, n + queries, p=weights / weights.sum())
    points = np.empty((n + queries, DIM), dtype=np.float32)
    for start in range(0, n + queries, 100_000):
        part = labels[start : start + 100_000]
        noise = rng.standard_normal((len(part), DIM), dtype=np.float32) * stds[part]
        points[start : start + len(part)] = _unit(centres[part] + noise @ rotation)
    return points[:n], points[n:]


@contextmanager
def threads(count: int) -> Iterator[None]:
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def ivf_parts(
    base: np.ndarray, nlist: int, seed: int, build_threads: int
) -> tuple[faiss.Index, np.ndarray, float]:
    """The shared coarse quantizer (k-means on 50 points a list) and every vector's list."""
    rng = np.random.default_rng(seed)
    sample = base[rng.choice(len(base), min(len(base), 50 * nlist), replace=False)]
    quantizer = faiss.IndexFlatIP(DIM)
    clustering = faiss.Clustering(DIM, nlist)
    clustering.niter, clustering.seed, clustering.max_points_per_centroid = 10, seed, 256
    clustering.spherical = True
    with threads(build_threads):
        started = time.perf_counter()
        clustering.train(sample, quantizer)
        _, assigned = quantizer.search(base, 1)
    return quantizer, assigned.ravel(), time.perf_counter() - started


def build(
    name: str, base: np.ndarray, coarse: tuple[faiss.Index, np.ndarray, float] | None, build_threads: int
) -> tuple[faiss.Index, float]:
    """The index ``name`` over ``base`` and its build seconds (train + add)."""
    if name == "flat":
        return timed(lambda: vector_index(base, hnsw_above=len(base)))
    if name == "hnsw":  # the service's own code path: one thread
        return timed(lambda: vector_index(base, hnsw_above=0))
    if name == "hnsw_sq8":
        eight_bit: Any = faiss.ScalarQuantizer.QT_8bit  # faiss's stubs type the enum as a class
        index = faiss.IndexHNSWSQ(DIM, eight_bit, 32, faiss.METRIC_INNER_PRODUCT)
        with threads(build_threads):
            _, seconds = timed(lambda: (index.train(base), index.add(base)))
        return index, seconds
    assert coarse is not None
    quantizer, assigned, coarse_seconds = coarse
    nlist = quantizer.ntotal
    own = faiss.clone_index(quantizer)
    ivf: faiss.IndexIVF
    if name == "ivf_flat":
        ivf = faiss.IndexIVFFlat(own, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    elif name == "ivf_sq8":
        ivf = faiss.IndexIVFScalarQuantizer(
            own, DIM, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    else:
        ivf = faiss.IndexIVFPQ(own, DIM, nlist, PQ_M, 8, faiss.METRIC_INNER_PRODUCT)
    sample = base[: min(len(base), 100 * 256)]  # SQ ranges / PQ codebooks; the quantizer is trained
    with threads(build_threads):
        _, seconds = timed(lambda: (ivf.train(sample), add_preassigned(ivf, base, assigned)))
    return ivf, coarse_seconds + seconds


def settings(name: str) -> list[str]:
    if name.startswith("hnsw"):
        return [f"efSearch={ef}" for ef in EF_SEARCH]
    if name.startswith("ivf"):
        return [f"nprobe={n}" for n in NPROBE]
    return ["exact"]


def apply(index: Any, setting: str) -> None:
    """Set ``efSearch=..`` or ``nprobe=..`` on the index; ``exact`` has nothing to set."""
    knob, _, value = setting.partition("=")
    if knob == "efSearch":
        hnsw: Any = faiss.downcast_index(index)
        hnsw.hnsw.efSearch = int(value)
    elif knob == "nprobe":
        index.nprobe = int(value)


def search_one_by_one(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Ids of the top K of each query, searched alone on one thread, and each search's ms."""
    faiss.omp_set_num_threads(1)
    for query in queries[:5]:  # warm-up
        index.search(query.reshape(1, -1), K)
    ids = np.empty((len(queries), K), dtype=np.int64)
    millis = []
    for i, query in enumerate(queries):
        started = time.perf_counter()
        _, found = index.search(query.reshape(1, -1), K)
        millis.append((time.perf_counter() - started) * 1000)
        ids[i] = found[0]
    return ids, millis


def recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """recall@1 (the true nearest is first) and recall@10 (share of the true top 10 found)."""
    at1 = float(np.mean(found[:, 0] == truth[:, 0]))
    at10 = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))
    return at1, at10


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def write_and_read(index: faiss.Index, folder: Path) -> tuple[float, float]:
    path = folder / "index.faiss"
    _, write_seconds = timed(lambda: faiss.write_index(index, str(path)))
    _, read_seconds = timed(lambda: faiss.read_index(str(path)))
    path.unlink()
    return write_seconds, read_seconds


def load_path(base: np.ndarray, folder: Path) -> Report:
    """Today's new-version load, up to the vectors in memory: pack -> unpack -> read -> reconstruct."""
    version = f"bench-{len(base)}"
    source = folder / "source" / version
    source.mkdir(parents=True)
    faiss.write_index(vector_index(base, hnsw_above=len(base)), str(source / "cases.faiss"))
    faiss.write_index(faiss.IndexFlatIP(DIM), str(source / "experts.faiss"))
    (source / "docs.json").write_text('{"cases": [], "experts": []}', encoding="utf-8")
    (source / "manifest.json").write_text(json.dumps({"version": version}), encoding="utf-8")
    packed, pack_seconds = timed(lambda: pack(source))
    unpacked, unpack_seconds = timed(lambda: unpack(packed.blob, packed.sha256, folder / "instance", version))
    read, read_seconds = timed(lambda: faiss.read_index(str(unpacked / "cases.faiss")))
    _, reconstruct_seconds = timed(lambda: read.reconstruct_n(0, read.ntotal))
    return {
        "file_bytes": (source / "cases.faiss").stat().st_size,
        "blob_bytes": len(packed.blob),
        "pack_s": pack_seconds,
        "unpack_s": unpack_seconds,
        "read_index_s": read_seconds,
        "reconstruct_s": reconstruct_seconds,
        "rebuild": "hnsw" if len(base) > HNSW_ABOVE else "flat",
    }


def measure_size(n: int, args: argparse.Namespace, say: Callable[[str], None]) -> Report:
    names = args.indexes.split(",")
    base, queries = synthetic(n, args.queries, args.clusters, args.seed)
    nlist = max(1, round(4 * math.sqrt(n)))
    with threads(args.build_threads):
        truth_index = faiss.IndexFlatIP(DIM)
        truth_index.add(base)
        cosines, truth = truth_index.search(queries, K)
    pairs = np.random.default_rng(args.seed).integers(0, n, (2000, 2))
    report: Report = {
        "vectors": n,
        "queries": len(queries),
        "nlist": nlist,
        "data": {
            "clusters": args.clusters,
            "random_pair_cosine": float(np.mean(np.sum(base[pairs[:, 0]] * base[pairs[:, 1]], axis=1))),
            "nearest_cosine": float(np.mean(cosines[:, 0])),
            "tenth_cosine": float(np.mean(cosines[:, K - 1])),
        },
        "indexes": [],
    }
    del truth_index
    coarse = None
    if any(name.startswith("ivf") for name in names):
        say(f"{n}: k-means, {nlist} lists")
        coarse = ivf_parts(base, nlist, args.seed, args.build_threads)
    with tempfile.TemporaryDirectory(prefix="bench-faiss-") as scratch:
        for name in names:
            say(f"{n}: building {name}")
            index, build_seconds = build(name, base, coarse, args.build_threads)
            memory = len(faiss.serialize_index(index))
            write_seconds, read_seconds = write_and_read(index, Path(scratch))
            entry: Report = {
                "name": name,
                "build_s": build_seconds,
                "bytes": memory,
                "write_s": write_seconds,
                "read_s": read_seconds,
                "settings": [],
            }
            for label in settings(name):
                apply(index, label)
                say(f"{n}: searching {name} {label}")
                found, millis = search_one_by_one(index, queries)
                at1, at10 = recall(found, truth)
                entry["settings"].append(
                    {
                        "setting": label,
                        "p50_ms": statistics.median(millis),
                        "p95_ms": p95(millis),
                        "recall_at_1": at1,
                        "recall_at_10": at10,
                    }
                )
            report["indexes"].append(entry)
            del index
        say(f"{n}: a new version's load (pack, unpack, read)")
        report["load"] = load_path(base, Path(scratch))
    return report


def run(args: argparse.Namespace, say: Callable[[str], None] = lambda line: None) -> Report:
    faiss.omp_set_num_threads(1)
    sizes = [int(size) for size in args.sizes.split(",")]
    return {
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "machine": {
            "python": platform.python_version(),
            "faiss": faiss.__version__,
            "cpu": platform.processor(),
        },
        "k": K,
        "build_threads_ivf": args.build_threads,
        "sizes": [measure_size(n, args, say) for n in sizes],
    }


def markdown(report: Report) -> str:
    lines = []
    for size in report["sizes"]:
        data = size["data"]
        lines += [
            f"\n### {size['vectors']:,} vectors (nlist {size['nlist']}, {size['queries']} queries; "
            f"random pair cosine {data['random_pair_cosine']:.2f}, nearest {data['nearest_cosine']:.2f})\n",
            "| index | setting | build s | MB | write s | read s | p50 ms | p95 ms | recall@1 | recall@10 |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for entry in size["indexes"]:
            for i, s in enumerate(entry["settings"]):
                fixed = " | | | "
                if i == 0:
                    fixed = f"{entry['build_s']:.1f} | {entry['bytes'] / 1e6:.0f} | "
                    fixed += f"{entry['write_s']:.2f} | {entry['read_s']:.2f}"
                lines.append(
                    f"| {entry['name']} | {s['setting']} | {fixed} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} | "
                    f"{s['recall_at_1']:.3f} | {s['recall_at_10']:.3f} |"
                )
        load = size["load"]
        lines.append(
            f"\nnew version, today's layout: cases.faiss {load['file_bytes'] / 1e6:.0f} MB, gzip tar "
            f"{load['blob_bytes'] / 1e6:.0f} MB; pack {load['pack_s']:.1f} s, "
            f"unpack {load['unpack_s']:.1f} s, "
            f"read_index {load['read_index_s']:.2f} s, reconstruct {load['reconstruct_s']:.2f} s, "
            f"then load_index rebuilds {load['rebuild']} (its build s above)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args, say=lambda line: print(line, file=sys.stderr, flush=True))
    except (OSError, RuntimeError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
