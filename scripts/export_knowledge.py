"""Export experts, cases and sites as JSON Lines files (the import format, lossless).

Example:
    python scripts/export_knowledge.py backup/2026-11-29
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.runtime import database, run_cli
from bot.settings import Settings
from knowledge.interchange import export_dir


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/export_knowledge.py backup/2026-11-29",
    )
    parser.add_argument("folder", type=Path, help="folder to write (created when missing)")
    return parser.parse_args()


async def main(settings: Settings, folder: Path) -> None:
    async with database(settings) as (_, sessions):
        async with sessions() as session:
            counts = await export_dir(session, folder)
    print(", ".join(f"{name}: {n}" for name, n in counts.items()) + f" -> {folder}")


if __name__ == "__main__":
    args = parse_args()
    run_cli(lambda settings: main(settings, args.folder))
