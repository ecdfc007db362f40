"""Choose the related-class threshold (``CRAFTDESK_RETRIEVAL__CLASS_MATCH_THRESHOLD``) on the
labelled (question, class) pairs.

Example:
    python scripts/calibrate_classes.py
    python scripts/calibrate_classes.py --pairs knowledge/eval/class_pairs.jsonl --classes knowledge/demo

Encodes the classes (title, topics, description) and the pairs' questions with the service's
encoder, and prints the lowest cosine threshold whose shown pairs keep the one-sided
Clopper-Pearson 95 % lower bound of their precision at --target (0.8) or above, with the
precision and recall there. Put the threshold into ``retrieval/policy.py`` and the figures into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from pathlib import Path

import numpy as np

from bot.context import make_encoder
from bot.runtime import run_cli
from bot.settings import Settings
from retrieval.class_calibration import TARGET, calibrate, figures_at, read_classes, read_pairs, similarities

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python scripts/calibrate_classes.py\n"
        "  python scripts/calibrate_classes.py --target 0.9",
    )
    parser.add_argument("--pairs", type=Path, default=REPO / "knowledge/eval/class_pairs.jsonl")
    parser.add_argument("--classes", type=Path, default=REPO / "knowledge/demo", help="holds classes.jsonl")
    parser.add_argument("--target", type=float, default=TARGET, help="lower bound of precision to keep")
    return parser.parse_args()


async def main(settings: Settings, args: argparse.Namespace) -> None:
    encoder = await asyncio.to_thread(make_encoder, settings)
    pairs = read_pairs(args.pairs)
    scores = similarities(encoder, read_classes(args.classes), pairs)
    relevant = np.array([p.relevant for p in pairs])
    got = calibrate(scores, relevant, args.target)
    print(f"model: {encoder.model_id}")
    print(f"pairs: {got.pairs} ({got.relevant} relevant)")
    if math.isinf(got.threshold):
        print(f"no threshold keeps the lower bound of precision at {args.target}")
        raise SystemExit(1)
    # the threshold is a pair's own score: printed rounded up, it would drop that pair, so it
    # is cut down to six decimals and the figures are those of the printed value
    shipped = figures_at(scores, relevant, math.floor(got.threshold * 1e6) / 1e6)
    print(f"threshold: {shipped.threshold:.6f}")
    print(
        f"shown: {shipped.shown}, relevant among them: {shipped.hits}; precision {shipped.precision:.3f} "
        f"(95% lower bound {shipped.lower_bound:.3f}), recall {shipped.recall:.3f}"
    )


if __name__ == "__main__":
    arguments = parse_args()
    run_cli(lambda settings: main(settings, arguments))
