"""Measure retrieval on the labelled query sets; optionally refit the decision policy.

Example:
    python scripts/evaluate.py                  # cross-set figures, next to pooled CV and BM25
    python scripts/evaluate.py --calibrate      # also refit retrieval/calibration.json
    python scripts/evaluate.py --show-errors    # list what the policy got wrong
    python scripts/evaluate.py --distractors    # among 240 more cases, half of them look-alikes

Builds an index of the knowledge in --knowledge (the demo by default) in a temporary folder and
runs every query of every set in --sets (each ``queries*.jsonl`` there is one set, written by
its own hand and method). The headline is cross-set: for each set, the policy fitted on the
others and judged on it. Pooled k-fold cross-validation (all sets mixed), a BM25 baseline and
the shipped calibration in-sample are printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from bot.context import make_encoder
from bot.runtime import database, run_cli
from bot.settings import Settings
from knowledge.interchange import import_dir
from knowledge.models import DecisionLabel, Question, Site
from retrieval.corpus import load_corpus
from retrieval.decision import Calibration
from retrieval.evaluation import (
    KINDS, Metrics, QuerySet, Targets, bm25_baseline, cross_set, cross_validate, examine_all, fit_calibration,
    leave_one_out, load_queries, mean_metrics, predict, queries_from_labels, score,
)
from retrieval.index import build_index
from retrieval.ranking import SiteContext
from retrieval.search import Retriever

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/evaluate.py --calibrate",
    )
    parser.add_argument("--knowledge", type=Path, default=REPO / "knowledge" / "demo")
    parser.add_argument("--distractors", type=Path, nargs="?", const=REPO / "knowledge" / "eval" / "distractors",
                        help="also index the cases of this folder (default knowledge/eval/distractors: "
                             "240 cases, half of them look-alikes of demo cases), so retrieval is "
                             "judged among as many cases as a real knowledge base holds")
    parser.add_argument("--sets", type=Path, default=REPO / "knowledge" / "eval",
                        help="a folder of labelled query sets, queries*.jsonl")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3,
                        help="pooled cross-validation repeated with other folds, figures averaged")
    targets = Targets()
    parser.add_argument("--precision", type=float, default=targets.suggest,
                        help="lower confidence bound of suggest precision the threshold keeps on "
                             f"the fitting data (default {targets.suggest})")
    parser.add_argument("--confirm-precision", type=float, default=targets.confirm,
                        help="the same for sending the top case to an expert to confirm "
                             f"(default {targets.confirm})")
    parser.add_argument("--show-errors", action="store_true",
                        help="list the queries the cross-set policy got wrong")
    parser.add_argument("--calibrate", action="store_true",
                        help="refit on all sets and write retrieval/calibration.json; refused when "
                             "the new policy is less precise than the shipped one on any set")
    parser.add_argument("--force", action="store_true", help="write the refit even so")
    parser.add_argument("--labels", action="store_true",
                        help="add the labelled pairs the service stored (CRAFTDESK_DATABASE_URL or "
                             "the data dir's database) as one more set")
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


def errors(held: QuerySet, predictions: list) -> list[str]:
    out = []
    for q, p in zip(held.queries, predictions):
        first = p.cases[:1] == [q.case_id]
        wrong = p.decision == "suggest" and not (q.kind == "paraphrase" and first)
        missed = q.kind == "paraphrase" and p.decision != "suggest"
        misrejected = (q.kind == "off_topic") != (p.decision == "reject")
        if wrong or missed or misrejected:
            label = ("wrong suggestion" if wrong else f"missed ({p.decision})" if missed
                     else "reject error")
            out.append(f"{label:18} {q.id} {q.kind:10} p={p.top_probability:.3f} "
                       f"top={p.cases[:1]} want={q.case_id} {q.text}")
    return out


def less_precise(retriever: Retriever, index, sets: list[QuerySet], sites: dict,  # type: ignore[no-untyped-def]
                 new: Calibration, old: Calibration) -> list[str]:
    """The sets on which the new policy's suggestions are less precise than the old one's."""
    worse = []
    for s in sets:
        def precision(calibration: Calibration) -> float:
            return score(s.queries, [predict(retriever, index, e, sites.get(q.site or ""), calibration)
                                     for q, e in zip(s.queries, s.exams)]).suggest_precision
        before, after = precision(old), precision(new)
        if before == before and after == after and after < before - 0.005:  # nan: no suggestions
            worse.append(f"{s.name} ({after:.3f} < {before:.3f})")
    return worse


async def stored_labels(settings: Settings) -> list:
    """The service's labelled pairs with their questions' text, from its own database."""
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            rows = (await session.execute(
                select(DecisionLabel.id, Question.text, Question.site_code, DecisionLabel.case_id,
                       DecisionLabel.answers, DecisionLabel.source)
                .join(Question, Question.id == DecisionLabel.question_id))).all()
    return queries_from_labels([tuple(row) for row in rows])


async def main(settings: Settings, args: argparse.Namespace) -> None:
    encoder = await asyncio.to_thread(make_encoder, settings)
    files = sorted(args.sets.glob("queries*.jsonl"))
    if not files:
        raise SystemExit(f"error: no queries*.jsonl in {args.sets}")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        async with database(scratch) as (_, sessions):
            async with sessions() as session:
                await import_dir(session, args.knowledge)
                if args.distractors:
                    await import_dir(session, args.distractors)
                corpus = await load_corpus(session)
                sites = {s.code: SiteContext(s.region, s.industry)
                         for s in (await session.scalars(select(Site))).all()}
    index = build_index(corpus, encoder)
    stored = await stored_labels(settings) if args.labels else []
    try:
        shipped = Calibration.load()
    except (FileNotFoundError, ValueError) as exc:
        print(f"no usable shipped calibration: {exc}")
        shipped = None
    retriever = Retriever(encoder, shipped, settings.retrieval)  # type: ignore[arg-type]
    targets = Targets(suggest=args.precision, confirm=args.confirm_precision)
    sets = []
    for path in files:
        queries = load_queries(path)
        sets.append(QuerySet(path.stem, queries, examine_all(retriever, index, queries)))
        kinds = {k: sum(q.kind == k for q in queries) for k in KINDS}
        print(f"{path.name}: {len(queries)} queries {kinds}, {sum(q.hard for q in queries)} marked hard")
    if stored:
        sets.append(QuerySet("labels", stored, examine_all(retriever, index, stored)))
        print(f"labels from the service: {len(stored)} pairs "
              f"({sum(q.kind == 'paraphrase' for q in stored)} answered by their case)")
    print(f"{len(corpus.cases)} cases, {len(corpus.experts)} experts; model {encoder.model_id}; "
          f"thresholds at lower 95% bounds of precision: suggest {targets.suggest}, "
          f"confirm {targets.confirm}, reject {targets.reject}")

    look_alikes = leave_one_out(retriever, index)
    print(f"learnt from as well: {len(look_alikes.queries)} case questions asked without their case")

    every = QuerySet("all", [q for s in sets for q in s.queries], [e for s in sets for e in s.exams])
    columns: dict[str, Metrics] = {}
    held_predictions = {}
    if len(sets) > 1:
        for held in sets:
            held_predictions[held.name] = cross_set(retriever, index, sets, held, sites, targets,
                                                  (look_alikes,))
            columns[f"judged on {held.name} (fit on the others)"] = score(held.queries, held_predictions[held.name])
        columns["cross-set, all held sets pooled"] = score(
            [q for s in sets for q in s.queries], [p for s in sets for p in held_predictions[s.name]])
    seeds = range(7, 7 + args.repeats)
    label = f"{args.repeats}x{args.folds}-fold CV, all mixed"
    columns[f"craftdesk, {label}"] = mean_metrics(
        [score(every.queries, cross_validate(retriever, index, every.queries, every.exams, sites, args.folds,
                                             targets, s)) for s in seeds])
    columns[f"BM25, {label}"] = mean_metrics(
        [score(every.queries, bm25_baseline(corpus, every.queries, args.folds, targets, s)) for s in seeds])
    if args.calibrate:
        refit = fit_calibration(encoder.model_id, every.queries + look_alikes.queries,
                                every.exams + look_alikes.exams, targets)
        pooled = columns.get("cross-set, all held sets pooled")
        refit.fit = {"fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "sets": {s.name: len(s.queries) for s in [*sets, look_alikes]},
                     "cross_set": {name: round(getattr(pooled, name), 4) for name in (
                         "suggest_precision", "coverage", "near_miss_suggested",
                         "first_in_suggest_or_confirm", "off_topic_rejected")} if pooled else {}}
        worse = [] if shipped is None or args.force else less_precise(retriever, index, sets, sites, refit, shipped)
        if worse:
            print("refit refused: it is less precise than the shipped policy on " + "; ".join(worse)
                  + " (--force writes it anyway)")
        else:
            shipped = refit
            shipped.save()
            print(f"calibration written (fitted on all {len(every.queries)} queries): suggest at "
                  f"{shipped.suggest_threshold:.4f}, confirm at {shipped.confirm_threshold:.4f}, "
                  f"reject at {shipped.reject_threshold:.4f}")
    if shipped is not None:
        columns["shipped calibration, in-sample, all"] = score(every.queries, [
            predict(retriever, index, e, sites.get(q.site or ""), shipped)
            for q, e in zip(every.queries, every.exams)])
    print(table(columns))
    if args.show_errors:
        for held in sets:
            for line in errors(held, held_predictions.get(held.name, [])):
                print(f"{held.name}: {line}")


if __name__ == "__main__":
    args = parse_args()
    run_cli(lambda settings: main(settings, args))
