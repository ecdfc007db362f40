"""Measure expert routing on the labelled routing questions (knowledge/eval/routing.jsonl).

Example:
    python scripts/evaluate_routing.py          # the ranking as configured, next to it without
                                                # the own-enterprise preference

Builds an index of the knowledge in --knowledge (the demo by default), ranks the experts for each
question as asked at its site (the experts' active flags and capacities as imported, nobody
loaded), and prints expert top-1 / top-3 for all questions, for those where an expert of the
site's own enterprise is right, and for the others; and top-1 again with the first-ranked expert
holding one open ticket. Two sets: --questions, written from the roster alone (experts.jsonl,
sites.jsonl) by another hand than the ranking's, nothing in the ranking fitted on it (the
headline); and questions derived from the cases, on which the own-enterprise bonus and its fit
rule were chosen (retrieval/routing_evaluation.py).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from evaluate import REPO, load_knowledge

from bot.context import make_encoder
from bot.runtime import run_cli
from bot.settings import Settings
from retrieval.decision import Calibration
from retrieval.index import build_index
from retrieval.routing_evaluation import RoutingFigures, case_questions, judge_routing, load_routing
from retrieval.search import Retriever


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knowledge", type=Path, default=REPO / "knowledge" / "demo")
    parser.add_argument("--questions", type=Path, default=REPO / "knowledge" / "eval" / "routing.jsonl")
    return parser.parse_args()


def table(columns: dict[str, dict[str, RoutingFigures]]) -> str:
    groups = next(iter(columns.values()))
    lines = [f"{'':58}" + "".join(f"{name:>26}" for name in columns)]
    for group in groups:
        n = groups[group].questions
        for figure in ("top1", "top3", "top1_with_one_open_ticket"):
            label = f"{group} ({n}) {figure}"
            lines.append(
                f"{label:<58}" + "".join(f"{getattr(c[group], figure):>26.3f}" for c in columns.values())
            )
    return "\n".join(lines)


async def main(settings: Settings, args: argparse.Namespace) -> None:
    encoder = await asyncio.to_thread(make_encoder, settings)
    knowledge = await load_knowledge(settings, [args.knowledge])
    index = await asyncio.to_thread(build_index, knowledge.corpus, encoder)
    calibration = Calibration.load()
    variants = {
        "as configured": settings.retrieval,
        "no own-enterprise bonus": settings.retrieval.model_copy(update={"enterprise_bonus": 0.0}),
    }
    sets = {
        f"{args.questions.name} (written from the roster; headline)": load_routing(args.questions),
        "derived from the cases (the bonus was chosen on these)": case_questions(
            knowledge.corpus, knowledge.sites, knowledge.availability
        ),
    }
    print(f"{len(knowledge.corpus.experts)} experts, {len(knowledge.sites)} sites")
    for title, queries in sets.items():
        columns = {}
        for name, params in variants.items():
            retriever = Retriever(encoder, calibration, params)
            columns[name] = await asyncio.to_thread(
                judge_routing, retriever, index, queries, knowledge.sites, knowledge.availability
            )
        print(f"\n{title}: {len(queries)} questions\n{table(columns)}")


if __name__ == "__main__":
    arguments = parse_args()
    run_cli(lambda settings: main(settings, arguments))
