"""Import experts, cases and sites from a folder of JSON Lines files (upsert by id).

Example:
    python scripts/import_knowledge.py knowledge/demo

Every file is checked before anything is written: on any problem the script prints each one as
``file:line: field 'x': what is wrong`` and exits with code 1, leaving the database unchanged.
Re-running the same import changes nothing. The search index is not rebuilt here: run
scripts/rebuild_index.py afterwards (the server also notices a stale index at start).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from bot.runtime import database, run_cli
from bot.settings import Settings
from knowledge.errors import InvalidInputError
from knowledge.interchange import import_dir


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/import_knowledge.py knowledge/demo",
    )
    parser.add_argument("folder", type=Path, help="folder with experts/cases/sites .jsonl files")
    return parser.parse_args()


async def main(settings: Settings, folder: Path) -> None:
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: not a folder")
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.get(name) or bars.setdefault(name, tqdm(total=total, desc=name, unit="rec"))
        bar.update(done - bar.n)

    async with database(settings) as (_, sessions):
        async with sessions() as session:
            report = await import_dir(session, folder, progress)
    for bar in bars.values():
        bar.close()
    print(report.summary())


if __name__ == "__main__":
    args = parse_args()
    run_cli(lambda settings: main(settings, args.folder))
