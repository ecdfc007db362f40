"""Conditional transitions: a change to a ticket or a need is applied to the row as just read
and committed only if nobody changed the row since (``UPDATE ... WHERE version = n``, the
models' ``version_id_col``). When another change landed in between, the row is read again and
the change applied again: the change re-checks what it allows, so nothing is overwritten or
lost, and after a few rounds of losing the caller gets a 409."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from knowledge.db import WriteGate
from knowledge.errors import ConflictError

ATTEMPTS = 5  # re-reads when other changes keep landing first; then 409
M = TypeVar("M")
T = TypeVar("T")


async def versioned_change(
    session: AsyncSession,
    gate: WriteGate,
    read: Callable[[], Awaitable[M]],
    change: Callable[[M], Awaitable[T]],
    what: str,
) -> T:
    """``change`` applied to the row ``read`` returns (fresh from the database) and committed,
    conditional on its version; ``what`` names the row in the 409 ("the ticket")."""
    for _ in range(ATTEMPTS):
        async with gate.writing(session):
            try:
                row = await read()
                result = await change(row)
                if session.new or session.dirty:  # a new child row alone also moves the version
                    flag_modified(row, "status")
                await session.commit()
                return result
            except StaleDataError:
                await session.rollback()
            except BaseException:
                await session.rollback()
                raise
    raise ConflictError(f"{what} kept changing meanwhile; reload and try again")
