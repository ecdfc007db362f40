"""Where the photos of tickets and needs are kept: files in the data dir (one machine, the
default) or rows in PostgreSQL (``CRAFTDESK_PHOTO_STORE=database``: instances that share no
disk, so a photo uploaded through one instance is shown by any other). Both validate and strip
each photo first (``bot.service.photos``). A folder is a ticket's id or ``needs/<need id>``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import Clock
from bot.service.photos import (
    MEDIA_TYPES,
    clean_photo,
    new_photo_name,
    photo_path,
    save_photo,
    valid_photo_name,
)
from knowledge.errors import NotFoundError
from knowledge.models import StoredPhoto


class PhotoStore(Protocol):
    async def save(self, folder: str, data: bytes) -> str:
        """Validate, strip and keep the photo; its name. ``InvalidInputError`` when it is no photo."""
        ...

    async def read(self, folder: str, name: str) -> bytes:
        """The photo's bytes; ``NotFoundError`` when there is none of that name."""
        ...


def media_type(name: str) -> str:
    return MEDIA_TYPES[name.rsplit(".", 1)[-1]]


class DiskPhotos:
    """Files under ``root``/<folder>/<name>."""

    def __init__(self, root: Path):
        self.root = root

    async def save(self, folder: str, data: bytes) -> str:
        return await asyncio.to_thread(save_photo, self.root, folder, data)  # decoding takes time

    async def read(self, folder: str, name: str) -> bytes:
        return await asyncio.to_thread(lambda: photo_path(self.root, folder, name).read_bytes())


class DatabasePhotos:
    """Rows of ``stored_photos``, each committed on its own (like a file written before the
    message that names it: a failure in between leaves an unused photo, never a missing one)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self.sessions, self.clock = sessions, clock

    async def save(self, folder: str, data: bytes) -> str:
        clean, kind = await asyncio.to_thread(clean_photo, data)
        name = new_photo_name(kind)
        async with self.sessions() as session:
            session.add(
                StoredPhoto(
                    folder=folder, name=name, size=len(clean), created_at=self.clock.now(), data=clean
                )
            )
            await session.commit()
        return name

    async def read(self, folder: str, name: str) -> bytes:
        if valid_photo_name(name):
            async with self.sessions() as session:
                data = await session.scalar(
                    select(StoredPhoto.data).where(StoredPhoto.folder == folder, StoredPhoto.name == name)
                )
            if data is not None:
                return data
        raise NotFoundError("no such photo")
