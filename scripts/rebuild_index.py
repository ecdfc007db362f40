"""Rebuild the search index from the knowledge base (cases and expert profiles).

Example:
    python scripts/rebuild_index.py

The new index is written to a temporary folder and swapped in atomically; a running server
picks it up within seconds, without restart, and never sees a half-written index. With
CRAFTDESK_INDEX_STORE=database the new version is stored in PostgreSQL and every instance loads
it; while another instance rebuilds, this one says so and exits with 1.
"""

from __future__ import annotations

import argparse
import asyncio

from tqdm import tqdm

from bot.context import index_store, make_encoder
from bot.runtime import database, run_cli
from bot.service.clock import SystemClock
from bot.settings import Settings
from knowledge.errors import ConflictError
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

            store = index_store(settings, sessions, encoder, SystemClock())
            if store is None:
                index = await rebuild_index(sessions, encoder, settings.index_dir, progress)
            elif (elsewhere := await store.claim_rebuild()) is not None:
                raise ConflictError(f"a rebuild is running on {elsewhere.instance} since {elsewhere.since}")
            else:
                index = await store.rebuild(progress)
    print(
        f"index {index.version}: {len(index.cases)} cases, {len(index.experts)} experts "
        f"-> {settings.index_dir}"
    )


if __name__ == "__main__":
    parse_args()
    run_cli(main)
