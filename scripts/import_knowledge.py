"""Import teams, stations, experts, sites and cases (upsert by id) from a folder of JSON Lines
files, an Excel workbook (.xlsx) or a CSV file.

Examples:
    python scripts/import_knowledge.py knowledge/demo
    python scripts/import_knowledge.py roster.xlsx
    python scripts/import_knowledge.py 专家.csv
    python scripts/import_knowledge.py --kind experts roster-2026.csv

Everything is checked before anything is written: on any problem the script prints each one as
``file:line: field 'x': what is wrong`` (``file:sheet:row:column: what is wrong`` for a
spreadsheet) and exits with code 1, leaving the database unchanged. Re-running the same import
changes nothing. The search index is not rebuilt here: run scripts/rebuild_index.py afterwards
(the server also notices a stale index at start).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from bot.runtime import database, run_cli
from bot.settings import Settings
from knowledge.errors import InvalidInputError
from knowledge.interchange import ImportReport, import_dir
from knowledge.spreadsheet import import_spreadsheet, read_spreadsheet

SPREADSHEETS = (".xlsx", ".csv")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python scripts/import_knowledge.py knowledge/demo\n"
        "  python scripts/import_knowledge.py roster.xlsx",
    )
    parser.add_argument("source", type=Path, help="a folder of .jsonl files, or a .xlsx or .csv file")
    parser.add_argument("--kind", help="what a CSV file holds when its name does not say: experts, 专家, ...")
    return parser.parse_args()


async def main(settings: Settings, source: Path, kind: str | None = None) -> None:
    is_sheet = source.suffix.lower() in SPREADSHEETS
    if is_sheet and not source.is_file():
        raise InvalidInputError(f"{source}: no such file")
    if not is_sheet and not source.is_dir():
        raise InvalidInputError(f"{source}: not a folder, nor a .xlsx or .csv file")
    roster = read_spreadsheet(source.read_bytes(), source.name, kind) if is_sheet else None
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.get(name) or bars.setdefault(name, tqdm(total=total, desc=name, unit="rec"))
        bar.update(done - bar.n)

    async with database(settings) as (_, sessions):
        async with sessions() as session:
            report: ImportReport
            if roster is not None:
                report = await import_spreadsheet(session, roster, progress)
            else:
                report = await import_dir(session, source, progress)
    for bar in bars.values():
        bar.close()
    print(report.summary())


if __name__ == "__main__":
    args = parse_args()
    run_cli(lambda settings: main(settings, args.source, args.kind))
