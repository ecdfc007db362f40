"""An index version stored in PostgreSQL the way an earlier instance would have left it, so a
test's instances fetch it instead of each building the demo index (30 s on this machine)."""

from __future__ import annotations

from pathlib import Path

from bot.runtime import database
from bot.settings import Settings
from knowledge.models import IndexVersion
from retrieval.store import pack


async def store_index_version(settings: Settings, index_dir: Path) -> str:
    """Migrate the settings' database and store ``index_dir``'s current version; its name."""
    packed = pack((index_dir / "current").resolve())
    async with database(settings) as (_, sessions), sessions() as session:
        session.add(
            IndexVersion(
                version=packed.version,
                created_by="earlier",
                manifest=packed.manifest,
                size=len(packed.blob),
                sha256=packed.sha256,
                blob=packed.blob,
            )
        )
        await session.commit()
    return packed.version
