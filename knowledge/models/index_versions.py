"""Index versions kept in the database, for instances that share no disk
(``CRAFTDESK_INDEX_STORE=database``): each row is one complete version of the search index, its
files as one compressed archive (``retrieval.store``), the newest few kept. Unused on SQLite,
where the one process reads the index from its own data dir."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime


class IndexVersion(Base):
    __tablename__ = "index_versions"

    version: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=func.now(), index=True, doc="the database's clock: one order for all"
    )
    created_by: Mapped[str] = mapped_column(String(120), doc="the instance id that made it")
    manifest: Mapped[dict[str, Any]] = mapped_column(doc="the version's manifest.json")
    size: Mapped[int] = mapped_column(Integer, doc="bytes of ``blob``")
    sha256: Mapped[str] = mapped_column(String(64), doc="of ``blob``, checked before unpacking")
    blob: Mapped[bytes] = mapped_column(
        LargeBinary, deferred=True, doc="the files, a gzip-compressed tar (read only when fetched)"
    )
