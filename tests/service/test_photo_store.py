"""The photo stores: files in the data dir, or rows in PostgreSQL that every instance reads."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.runtime import database
from bot.service.clock import FakeClock
from bot.service.photo_store import DatabasePhotos, DiskPhotos, PhotoStore, media_type
from bot.settings import Settings
from knowledge.errors import InvalidInputError, NotFoundError
from tests.factories import png_bytes
from tests.utils.postgres import create_database


async def check_store(first: PhotoStore, second: PhotoStore) -> None:
    """What one store keeps, the other reads (the same data dir, or the same database)."""
    name = await first.save("t1", png_bytes((8, 8)))
    assert name.endswith(".png") and media_type(name) == "image/png"
    data = await second.read("t1", name)
    assert data.startswith(b"\x89PNG") and data == await first.read("t1", name)
    need_photo = await first.save("needs/n1", png_bytes((3, 3)))
    assert (await second.read("needs/n1", need_photo)).startswith(b"\x89PNG")
    for folder, wrong in [("t2", name), ("t1", "0" * 32 + ".png"), ("t1", "../t1/" + name), ("t1", ".x")]:
        with pytest.raises(NotFoundError):
            await second.read(folder, wrong)
    with pytest.raises(InvalidInputError, match="only JPEG, PNG or WebP"):
        await first.save("t1", b"GIF89a not a photo")


async def test_disk_photos(tmp_path: Path):
    await check_store(DiskPhotos(tmp_path / "uploads"), DiskPhotos(tmp_path / "uploads"))
    assert [p.parent.name for p in (tmp_path / "uploads").rglob("*.png")].count("t1") == 1


@pytest.mark.postgres
async def test_database_photos_are_read_by_another_instance(postgres_base_url: str, tmp_path: Path):
    url = await create_database(postgres_base_url, f"t_{uuid.uuid4().hex[:12]}")
    settings = Settings(env="test", data_dir=tmp_path, database_url=url, photo_store="database")
    async with database(settings) as (_, one), database(settings) as (_, other):
        await check_store(DatabasePhotos(one, FakeClock()), DatabasePhotos(other, FakeClock()))
    assert not (tmp_path / "uploads").exists()  # nothing on disk
