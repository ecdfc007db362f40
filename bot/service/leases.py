"""Leases: one instance at a time runs a background job (the silence sweep), whichever holds
the job's lease. A lease is a row of ``leases`` with an expiry; its holder renews it every tick
and another instance takes it over once it has expired, so the job moves on within ``ttl`` of
its instance dying. On SQLite with one process the one instance always holds it.

Taking, taking over and renewing are one conditional statement (``INSERT ... ON CONFLICT DO
UPDATE ... WHERE``, on SQLite and PostgreSQL alike): the row is inserted when absent, taken when
expired, renewed when ours, and left alone otherwise. Two instances trying at the same moment
are ordered by the row's lock (PostgreSQL) or the single writer (SQLite): exactly one wins.
``epoch`` grows each time the lease changes hands (a fencing number, for the logs and for a
job that wants to check it still holds the lease it started with).

Expiry is judged by the instances' clocks, so they must agree to well within ``ttl`` (NTP).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import Clock
from knowledge.db import WriteGate
from knowledge.models import Lease as LeaseRow

log = logging.getLogger(__name__)


class Lease:
    """The lease ``name`` as seen by the instance ``holder``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        holder: str,
        ttl: timedelta,
        clock: Clock,
        gate: WriteGate | None = None,
    ):
        self.sessions = sessions
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self.gate = gate or WriteGate(None)
        self.epoch: int | None = None  # while held: the epoch we hold it at

    @property
    def held(self) -> bool:
        """Whether the last ``acquire_or_renew`` won (it may have lapsed since, after ``ttl``)."""
        return self.epoch is not None

    async def acquire_or_renew(self) -> bool:
        """Take the lease if free or expired, renew it if ours; True while this instance holds
        it. Logs when it is taken (or taken over) and when it is lost."""
        now = self.clock.now()
        async with self.sessions() as session:
            async with self.gate.writing(session):
                epoch = await session.scalar(self._upsert(session, now))
                await session.commit()
        if epoch is not None and epoch != self.epoch:
            how = "taken over" if epoch > 1 else "taken"
            log.info(f"lease {how}", extra={"lease": self.name, "holder": self.holder, "epoch": epoch})
        elif epoch is None and self.epoch is not None:
            log.warning("lease lost to another instance", extra={"lease": self.name, "holder": self.holder})
        self.epoch = epoch
        return epoch is not None

    def _upsert(self, session: AsyncSession, now: datetime) -> Any:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = LeaseRow.__table__
        row = insert(LeaseRow).values(
            name=self.name, holder=self.holder, expires_at=now + self.ttl, epoch=1, taken_at=now
        )
        ours = table.c.holder == row.excluded.holder
        renewed = ours & (table.c.expires_at > now)  # not taken again after a release or lapse
        return row.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={
                "holder": row.excluded.holder,
                "expires_at": row.excluded.expires_at,
                "epoch": case((ours, table.c.epoch), else_=table.c.epoch + 1),
                "taken_at": case((renewed, table.c.taken_at), else_=row.excluded.taken_at),
            },
            where=ours | (table.c.expires_at <= now),
        ).returning(LeaseRow.epoch)

    async def holding_row(self) -> LeaseRow | None:
        """The lease's row while some instance holds it (not expired), else None: who holds
        it (``holder``) and since when (``taken_at``)."""
        async with self.sessions() as session:
            row = await session.get(LeaseRow, self.name)
        return row if row is not None and row.expires_at > self.clock.now() else None

    async def release(self) -> None:
        """Let the lease go now (at a clean shutdown), so another instance need not wait out
        the ``ttl``."""
        if self.epoch is None:
            return
        self.epoch = None
        now = self.clock.now()
        async with self.sessions() as session:
            async with self.gate.writing(session):
                await session.execute(
                    update(LeaseRow)
                    .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                    .values(expires_at=now)
                )
                await session.commit()
        log.info("lease released", extra={"lease": self.name, "holder": self.holder})
