"""Rebuild the search index from the knowledge base (cases and expert profiles).

Example:
    python scripts/rebuild_index.py

The new index is written to a temporary folder and swapped in atomically; a running server
picks it up within seconds, without restart, and never sees a half-written index.
"""

from __future__ import annotations

import argparse
import asyncio

from tqdm import tqdm

from bot.context import make_encoder
from bot.runtime import database, run_cli
from bot.settings import Settings
from retrieval.rebuild import rebuild_index


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: CRAFTDESK_DATA_DIR=var python scripts/rebuild_index.py",
    )
    return parser.parse_args()


async def main(settings: Settings) -> None:
    print(f"loading model {settings.embedding_model} ({settings.embedding_backend})")
    encoder = await asyncio.to_thread(make_encoder, settings)
    async with database(settings) as (_, sessions):
        with tqdm(desc="encoding", unit="text") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            index = await rebuild_index(sessions, encoder, settings.index_dir, progress)
    print(
        f"index {index.version}: {len(index.cases)} cases, {len(index.experts)} experts "
        f"-> {settings.index_dir}"
    )


if __name__ == "__main__":
    parse_args()
    run_cli(main)
