"""Measure retrieval on the labelled query sets; optionally refit the decision policy.

Example:
    python scripts/evaluate.py                  # cross-set figures, next to pooled CV and BM25
    python scripts/evaluate.py --calibrate      # also refit retrieval/calibration.json
    python scripts/evaluate.py --show-errors    # list what the policy got wrong
    python scripts/evaluate.py --no-distractors # only among the knowledge's own cases
    python scripts/evaluate.py --verifier var/verifier  # the verifier deciding, next to the policy

Builds an index of the knowledge in --knowledge (the demo by default), and one of it grown by the
--distractors cases, and runs every query of every set in --sets against both (each
``queries*.jsonl`` there is one set, written by its own hand and method). The headline is
cross-set: for each set, the policy fitted on the others (in both indexes) and judged on it, in
each index. Pooled k-fold cross-validation (all sets mixed), a BM25 baseline and the shipped
calibration in-sample are printed beside it. With --verifier, the same held sets are judged
again with the verifier deciding suggest and confirm on the cross-set policy's top candidates, in
a second table next to the policy's cross-set figures.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select

from bot.context import make_encoder
from bot.runtime import database, run_cli
from bot.service.experts import expert_availability
from bot.settings import Settings
from knowledge.interchange import import_dir
from knowledge.models import Site
from knowledge.states import Decision
from retrieval.corpus import Corpus, load_corpus
from retrieval.decision import Calibration
from retrieval.evaluation import (
    KINDS,
    LabelledQuery,
    Metrics,
    Prediction,
    QuerySet,
    Scene,
    Targets,
    bm25_baseline,
    cross_set,
    cross_validate,
    examine_all,
    fit_on,
    judge,
    leave_one_out,
    load_queries,
    mean_metrics,
    queries_from_labels,
    relabelled,
    score,
)
from retrieval.index import build_index
from retrieval.ranking import Availability, SiteContext
from retrieval.search import Retriever
from retrieval.verifier import load_verifier
from retrieval.verifier_data import label_rows

REPO = Path(__file__).resolve().parent.parent
FIT_FIGURES = (
    "suggest_precision",
    "coverage",
    "near_miss_suggested",
    "first_in_suggest_or_confirm",
    "off_topic_rejected",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/evaluate.py --calibrate",
    )
    parser.add_argument("--knowledge", type=Path, default=REPO / "knowledge" / "demo")
    parser.add_argument(
        "--distractors",
        type=Path,
        default=REPO / "knowledge" / "eval" / "distractors",
        help="cases added to the knowledge for a second scene, so the policy learns "
        "and is judged among as many cases as a real knowledge base holds "
        "(default: knowledge/eval/distractors, 240 cases, half of them "
        "look-alikes of demo cases; its relabel.jsonl names the queries they answer)",
    )
    parser.add_argument(
        "--no-distractors",
        dest="distractors",
        action="store_const",
        const=None,
        help="the knowledge base at its own size only",
    )
    parser.add_argument(
        "--sets",
        type=Path,
        default=REPO / "knowledge" / "eval",
        help="a folder of labelled query sets, queries*.jsonl",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="pooled cross-validation repeated with other folds, figures averaged",
    )
    targets = Targets()
    parser.add_argument(
        "--precision",
        type=float,
        default=targets.suggest,
        help="lower confidence bound of suggest precision the threshold keeps on "
        f"the fitting data (default {targets.suggest})",
    )
    parser.add_argument(
        "--confirm-precision",
        type=float,
        default=targets.confirm,
        help=f"the same for sending the top case to an expert to confirm (default {targets.confirm})",
    )
    parser.add_argument(
        "--reject-precision",
        type=float,
        default=targets.reject,
        help=f"the same for rejecting a question as off-topic (default {targets.reject})",
    )
    parser.add_argument(
        "--show-errors", action="store_true", help="list the queries the cross-set policy got wrong"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="refit on all sets and write retrieval/calibration.json; refused when "
        "the new policy is less precise than the shipped one on any set",
    )
    parser.add_argument("--force", action="store_true", help="write the refit even so")
    parser.add_argument(
        "--labels",
        action="store_true",
        help="add the labelled pairs the service stored (CRAFTDESK_DATABASE_URL or "
        "the data dir's database) as one more set",
    )
    parser.add_argument(
        "--verifier",
        type=Path,
        metavar="DIR",
        help="also judge the held sets with this verifier deciding suggest and "
        "confirm (a trained verifier folder, or a verifier dir such as "
        "var/verifier), as the service does with use_verifier on",
    )
    return parser.parse_args()


def table(columns: dict[str, Metrics]) -> str:
    names = list(columns)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, attr in Metrics.ROWS:
        cells = []
        for name in names:
            value = getattr(columns[name], attr)
            cells.append(f"{value:.1f}" if attr in Metrics.COUNTS else f"{value:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cross_set_columns(
    scenes: list[Scene],
    names: list[str],
    held_predictions: dict[str, dict[str, list[Prediction]]],
    who: str = "",
) -> dict[str, Metrics]:
    """Each held set in each scene, judged by the policy fitted on the others, and all pooled."""
    columns = {}
    for place in scenes:
        for held in names:
            columns[f"{who}{held}, {place.name} (fit on the others)"] = score(
                place.held(held).queries, held_predictions[held][place.name]
            )
        columns[f"{who}cross-set pooled, {place.name}"] = score(
            [q for s in place.sets for q in s.queries],
            [p for held in names for p in held_predictions[held][place.name]],
        )
    return columns


def errors(held: QuerySet, predictions: list) -> list[str]:
    out = []
    for q, p in zip(held.queries, predictions, strict=True):
        first = p.cases[:1] == [q.case_id]
        wrong = p.decision == Decision.SUGGEST and not (q.kind == "paraphrase" and first)
        missed = q.kind == "paraphrase" and p.decision != Decision.SUGGEST
        misrejected = (q.kind == "off_topic") != (p.decision == Decision.REJECT)
        if wrong or missed or misrejected:
            label = "wrong suggestion" if wrong else f"missed ({p.decision})" if missed else "reject error"
            out.append(
                f"{label:18} {q.id} {q.kind:10} p={p.top_probability:.3f} "
                f"top={p.cases[:1]} want={q.case_id} {q.text}"
            )
    return out


def less_precise(
    retriever: Retriever,
    scenes: list[Scene],
    sites: dict[str, SiteContext],
    new: Calibration,
    old: Calibration,
) -> list[str]:
    """The sets (in each scene) on which the new policy's suggestions are less precise than the
    old one's."""
    worse = []
    for place in scenes:
        for s in place.sets:
            before, after = (
                score(s.queries, judge(retriever, place, s, sites, c)).suggest_precision for c in (old, new)
            )
            if before == before and after == after and after < before - 0.005:  # nan: none made
                worse.append(f"{s.name}, {place.name} ({after:.3f} < {before:.3f})")
    return worse


async def stored_labels(settings: Settings) -> list[LabelledQuery]:
    """The service's labelled pairs with their questions' text, from its own database."""
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            return queries_from_labels(await label_rows(session))


class Knowledge(NamedTuple):
    corpus: Corpus
    sites: dict[str, SiteContext]
    availability: dict[str, Availability]  # as imported: active flags and capacities, no load


async def load_knowledge(settings: Settings, folders: list[Path]) -> Knowledge:
    """The cases, experts and sites of ``folders``, imported into a scratch database."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        async with database(scratch) as (_, sessions):
            async with sessions() as session:
                for folder in folders:
                    await import_dir(session, folder)
                corpus = await load_corpus(session)
                sites = {
                    s.code: SiteContext(s.region, s.industry, s.org)
                    for s in (await session.scalars(select(Site))).all()
                }
                availability = await expert_availability(session)
    return Knowledge(corpus, sites, availability)


def scene(
    retriever: Retriever, name: str, corpus: Corpus, query_sets: dict[str, list[LabelledQuery]]
) -> Scene:
    index = build_index(corpus, retriever.encoder)
    sets = [
        QuerySet(set_name, queries, examine_all(retriever, index, queries))
        for set_name, queries in query_sets.items()
    ]
    look_alikes = leave_one_out(retriever, index)
    print(
        f"{name}: {len(corpus.cases)} cases, {len(corpus.experts)} experts; learns as well from "
        f"{len(look_alikes.queries)} case questions asked without their case"
    )
    return Scene(name, index, sets, look_alikes)


async def main(settings: Settings, args: argparse.Namespace) -> None:
    encoder = await asyncio.to_thread(make_encoder, settings)
    files = sorted(args.sets.glob("queries*.jsonl"))
    if not files:
        raise SystemExit(f"error: no queries*.jsonl in {args.sets}")
    corpus, sites, _ = await load_knowledge(settings, [args.knowledge])
    try:
        shipped = Calibration.load()
    except (FileNotFoundError, ValueError) as exc:
        print(f"no usable shipped calibration: {exc}")
        shipped = None
    retriever = Retriever(encoder, shipped, settings.retrieval)
    checking = None  # the same, with the verifier deciding
    if args.verifier:
        verifier = load_verifier(args.verifier)
        checking = Retriever(encoder, shipped, settings.retrieval, verifier)
        print(
            f"verifier {verifier.version}: reads the policy's top {settings.retrieval.verifier_candidates} "
            f"candidates; suggest at {verifier.suggest_threshold:.4f}, confirm at "
            f"{verifier.confirm_threshold:.4f}"
        )
    targets = Targets(suggest=args.precision, confirm=args.confirm_precision, reject=args.reject_precision)
    query_sets = {}
    for path in files:
        queries = query_sets[path.stem] = load_queries(path)
        kinds = {k: sum(q.kind == k for q in queries) for k in KINDS}
        print(f"{path.name}: {len(queries)} queries {kinds}, {sum(q.hard for q in queries)} marked hard")
    if args.labels:
        stored = query_sets["labels"] = await stored_labels(settings)
        print(
            f"labels from the service: {len(stored)} pairs "
            f"({sum(q.kind == 'paraphrase' for q in stored)} answered by their case)"
        )
    print(
        f"model {encoder.model_id}; thresholds at lower 95% bounds of precision: suggest "
        f"{targets.suggest}, confirm {targets.confirm}, reject {targets.reject}"
    )
    scenes = [scene(retriever, "knowledge", corpus, query_sets)]
    if args.distractors:
        grown = (await load_knowledge(settings, [args.knowledge, args.distractors])).corpus
        relabel = args.distractors / "relabel.jsonl"
        scenes.append(
            scene(
                retriever,
                "with distractors",
                grown,
                {name: relabelled(queries, relabel) for name, queries in query_sets.items()},
            )
        )
    base = scenes[0]
    every = QuerySet(
        "all", [q for s in base.sets for q in s.queries], [e for s in base.sets for e in s.exams]
    )

    columns: dict[str, Metrics] = {}
    held_predictions: dict[str, dict[str, list[Prediction]]] = {}
    names = [s.name for s in base.sets]
    if len(names) > 1:
        for held in names:
            held_predictions[held] = cross_set(retriever, scenes, held, sites, targets)
        columns |= cross_set_columns(scenes, names, held_predictions)
    verified_columns: dict[str, Metrics] = {}
    if checking is not None and len(names) > 1:
        by_verifier = cross_set_columns(
            scenes,
            names,
            {held: cross_set(checking, scenes, held, sites, targets) for held in names},
            who="verifier: ",
        )
        for place in scenes:  # the pooled figures side by side, then the verifier's per held set
            pooled = f"cross-set pooled, {place.name}"
            verified_columns[f"policy: {pooled}"] = columns[pooled]
            verified_columns[f"verifier: {pooled}"] = by_verifier.pop(f"verifier: {pooled}")
        verified_columns |= by_verifier
    elif checking is not None:
        print("--verifier: the cross-set figure needs two or more query sets")
    seeds = range(7, 7 + args.repeats)
    label = f"{args.repeats}x{args.folds}-fold CV, all mixed, knowledge"
    columns[f"craftdesk, {label}"] = mean_metrics(
        [
            score(
                every.queries,
                cross_validate(
                    retriever, base.index, every.queries, every.exams, sites, args.folds, targets, s
                ),
            )
            for s in seeds
        ]
    )
    columns[f"BM25, {label}"] = mean_metrics(
        [score(every.queries, bm25_baseline(corpus, every.queries, args.folds, targets, s)) for s in seeds]
    )
    if args.calibrate:
        refit = fit_on(encoder.model_id, [s for place in scenes for s in place.learning()], targets)
        refit.fit = {
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sets": {f"{s.name}, {place.name}": len(s.queries) for place in scenes for s in place.learning()},
            "cross_set": {
                place.name: {
                    name: round(getattr(columns[f"cross-set pooled, {place.name}"], name), 4)
                    for name in FIT_FIGURES
                }
                for place in scenes
                if f"cross-set pooled, {place.name}" in columns
            },
        }
        worse = (
            [] if shipped is None or args.force else less_precise(retriever, scenes, sites, refit, shipped)
        )
        if worse:
            print(
                "refit refused: it is less precise than the shipped policy on "
                + "; ".join(worse)
                + " (--force writes it anyway)"
            )
        else:
            shipped = refit
            shipped.save()
            print(
                f"calibration written: suggest at {shipped.suggest_threshold:.4f}, confirm at "
                f"{shipped.confirm_threshold:.4f}, reject at {shipped.reject_threshold:.4f}"
            )
    if shipped is not None:
        for place in scenes:
            columns[f"shipped calibration, in-sample, {place.name}"] = score(
                [q for s in place.sets for q in s.queries],
                [p for s in place.sets for p in judge(retriever, place, s, sites, shipped)],
            )
    print(table(columns))
    if verified_columns:
        print("\nthe verifier deciding suggest and confirm (reject, ranking and experts as the policy's):")
        print(table(verified_columns))
    if args.show_errors:
        for place in scenes:
            for held in names:
                for line in errors(place.held(held), held_predictions.get(held, {}).get(place.name, [])):
                    print(f"{held}, {place.name}: {line}")


if __name__ == "__main__":
    args = parse_args()
    run_cli(lambda settings: main(settings, args))
