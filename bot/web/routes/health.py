from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select

from bot.providers import IndexDep, SessionDep
from knowledge.models import Case, Expert

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    index_version: str | None
    cases: int
    experts: int


@router.get("/healthz", response_model=Health)
async def healthz(index_holder: IndexDep, session: SessionDep) -> Health:
    """``degraded`` when no usable index is loaded: questions are then all routed."""
    cases = await session.scalar(select(func.count()).select_from(Case))
    experts = await session.scalar(select(func.count()).select_from(Expert))
    index = index_holder.current
    return Health(
        status="ok" if index is not None else "degraded",
        index_version=index.version if index is not None else None,
        cases=cases or 0,
        experts=experts or 0,
    )
