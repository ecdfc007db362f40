"""Leases: a background job that must run on one instance at a time (the silence sweep) is
run by the instance holding its lease. A lease expires unless its holder renews it, so the job
moves on when that instance dies; ``epoch`` counts the holders (a fencing number: it grows
each time the lease changes hands)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models.base import Base, UTCDateTime


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120), doc="the instance id (CRAFTDESK_INSTANCE_ID)")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    epoch: Mapped[int] = mapped_column(Integer, default=1, doc="1 for the first holder, +1 per change")
    taken_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="when its holder took it (renewals keep it); null in rows from before 0010"
    )
