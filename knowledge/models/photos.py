"""Photos kept in the database, for instances that share no disk
(``CRAFTDESK_PHOTO_STORE=database``): a worker's photo uploaded through one instance is shown by
another. With the default (``disk``) the photos are files in the data dir and this table stays
empty."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime


class StoredPhoto(Base):
    __tablename__ = "stored_photos"

    folder: Mapped[str] = mapped_column(
        String(80), primary_key=True, doc="what the file store's folder would be: a ticket id, needs/<id>"
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True, doc="<uuid hex>.<jpg|png|webp>")
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, doc="the re-encoded picture")
