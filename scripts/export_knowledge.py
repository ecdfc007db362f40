"""Export teams, stations, experts, sites and cases as JSON Lines files (the import format,
lossless) or as one Excel workbook that imports back the same.

Examples:
    python scripts/export_knowledge.py backup/2026-11-29
    python scripts/export_knowledge.py --format xlsx roster.xlsx
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bot.runtime import database, run_cli
from bot.settings import Settings
from knowledge.interchange import export_dir
from knowledge.workbook import export_workbook


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python scripts/export_knowledge.py backup/2026-11-29\n"
        "  python scripts/export_knowledge.py --format xlsx roster.xlsx",
    )
    parser.add_argument("target", type=Path, help="folder to write (jsonl; made when missing) or .xlsx file")
    parser.add_argument("--format", choices=("jsonl", "xlsx"), default="jsonl", help="default: jsonl")
    return parser.parse_args()


async def main(settings: Settings, target: Path, fmt: str = "jsonl") -> None:
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            if fmt == "xlsx":
                data, counts = await export_workbook(session)
            else:
                counts = await export_dir(session, target)
    if fmt == "xlsx":
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # replaced whole: a reader never sees half a workbook
    print(", ".join(f"{name}: {n}" for name, n in counts.items()) + f" -> {target}")


if __name__ == "__main__":
    args = parse_args()
    run_cli(lambda settings: main(settings, args.target, args.format))
