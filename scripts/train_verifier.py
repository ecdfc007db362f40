"""Train the cross-encoder verifier on labelled pairs plus knowledge-base views, judge it on
held-out questions, export it to ONNX int8 and, with --install, hand it to the service.

Example:
    python scripts/train_verifier.py --out var/verifier-build --install
    python scripts/train_verifier.py --knowledge knowledge/demo --labels pairs.jsonl \\
        --no-stored-labels --max-steps 300 --out /tmp/verifier

Labelled pairs come from the service's database (table decision_labels; --database-url, default
the service settings) and from --labels files, JSON Lines of
{"question": "...", "case_id": "K001", "answers": true}. Cases come from --knowledge (a folder
with cases.jsonl) or from the same database. A share of the labelled questions (--held-out) is
kept out of training and judged: AUC, and precision and coverage at thresholds held to a lower
confidence bound of precision. Knowledge-base views (each case's question with its case and its
two nearest look-alikes) are training data only. The int8 model must agree with the torch one
(logit correlation >= 0.98) before the manifest, verifier.json, is written. The service uses
the verifier only when the setting that turns it on is set.

Exit codes: 0 done, 2 bad input (the message names the file and line), 1 any other failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bot.context import make_encoder
from bot.logs import setup_logging
from bot.runtime import database, load_settings
from bot.settings import Settings
from knowledge.errors import CraftdeskError, InvalidInputError, KnowledgeFormatError
from retrieval.corpus import CaseDoc, load_corpus
from retrieval.verifier import DIRNAME, save_verifier
from retrieval.verifier_data import LabelledPair, read_cases, read_label_file, stored_pairs
from retrieval.verifier_training import DisagreementError, TrainingConfig, fit_verifier

log = logging.getLogger("train_verifier")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python scripts/train_verifier.py --labels pairs.jsonl --out /tmp/verifier",
    )
    defaults = TrainingConfig()
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the trained verifier")
    parser.add_argument(
        "--labels",
        type=Path,
        action="append",
        default=[],
        help="a JSON Lines file of labelled pairs (may be given more than once)",
    )
    parser.add_argument(
        "--no-stored-labels", action="store_true", help="do not read the pairs stored in the database"
    )
    parser.add_argument("--database-url", help="the service database (default: the service settings)")
    parser.add_argument(
        "--knowledge", type=Path, help="a knowledge folder with cases.jsonl (default: the database's cases)"
    )
    parser.add_argument(
        "--held-out",
        type=float,
        default=0.25,
        help="share of the labelled questions kept out of training and judged",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--max-steps", type=int, help="stop after this many batches")
    parser.add_argument(
        "--max-length",
        type=int,
        default=defaults.max_length,
        help=f"tokens of question + case text (default {defaults.max_length})",
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--log-every", type=int, default=10, help="log progress every N steps")
    parser.add_argument("--keep-fp32", action="store_true", help="keep model.onnx next to the int8 one")
    parser.add_argument(
        "--install", action="store_true", help="make it the service's current verifier (<data dir>/verifier)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.held_out < 1:
        parser.error("--held-out must be between 0 and 1")
    if min(args.epochs, args.max_length, args.batch_size, args.log_every, args.max_steps or 1) < 1:
        parser.error("--epochs, --max-steps, --max-length, --batch-size and --log-every must be positive")
    return args


async def read_inputs(
    settings: Settings, args: argparse.Namespace
) -> tuple[list[CaseDoc], list[LabelledPair]]:
    """The cases and the labelled pairs; every bad input raises before any model is loaded."""
    if args.knowledge is not None:
        cases = read_cases(args.knowledge)
    else:
        async with database(settings) as (_, sessions), sessions() as session:
            cases = (await load_corpus(session)).cases
    case_ids = {c.id for c in cases}
    labelled = [pair for path in args.labels for pair in read_label_file(path, case_ids)]
    if not args.no_stored_labels:
        async with database(settings) as (_, sessions), sessions() as session:
            stored = await stored_pairs(session)
        known = [p for p in stored if p.case_id in case_ids]
        if len(known) < len(stored):
            log.warning("stored labels of deleted cases skipped", extra={"skipped": len(stored) - len(known)})
        labelled += known
    if not cases:
        raise InvalidInputError("no cases: import a knowledge base or pass --knowledge")
    if not labelled:
        raise InvalidInputError("no labelled pairs: none stored in the database and no --labels file")
    return cases, labelled


def progress(step: int, total: int, loss: float) -> None:
    log.info("training", extra={"step": step, "of": total, "loss": round(loss, 4)})


async def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise InvalidInputError(f"{args.out} exists and is not empty; choose a new --out folder")
    cases, labelled = await read_inputs(settings, args)
    encoder = await asyncio.to_thread(make_encoder, settings)
    vectors = encoder.encode([c.search_text for c in cases])
    config = TrainingConfig(
        epochs=args.epochs,
        max_steps=args.max_steps,
        max_length=args.max_length,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{args.out.name}.tmp-", dir=args.out.parent))
    try:
        fitted = await asyncio.to_thread(
            fit_verifier,
            cases,
            labelled,
            vectors,
            settings.model_cache_dir,
            work,
            config,
            args.held_out,
            progress,
            args.log_every,
            args.keep_fp32,
        )
        if args.out.exists():
            args.out.rmdir()  # empty, checked above
        os.rename(work, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "labels": fitted.manifest.labels,
                "suggest_threshold": fitted.manifest.suggest_threshold,
                "confirm_threshold": fitted.manifest.confirm_threshold,
                "evaluation": fitted.manifest.evaluation,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    if args.install:
        installed = save_verifier(args.out, settings.data_dir / DIRNAME)
        print(f"installed as {installed}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    setup_logging(settings.log_level)
    try:
        asyncio.run(run(settings, args))
    except (KnowledgeFormatError, InvalidInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (CraftdeskError, DisagreementError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
