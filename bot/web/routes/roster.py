"""The roster on /admin: one expert or site read as its interchange object and saved back
(added, edited, deactivated), with the checks of an import file. Admin token on every call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from bot.providers import ReindexerDep, SessionDep, TicketsDep
from bot.service.roster import Saved, save_expert, save_site, stored_record
from bot.web.deps import AdminDep
from bot.web.schemas import RosterSavedOut
from knowledge.interchange import EXPERTS, SITES

router = APIRouter(prefix="/api/admin", tags=["admin"])

RECORD = Body(
    description="the object as a line of experts.jsonl / sites.jsonl (docs/knowledge-format.md); "
    "the id or code may be left out: the address gives it",
)


def _saved(saved: Saved, response: Response, reindex: dict[str, Any] | None = None) -> RosterSavedOut:
    response.status_code = 201 if saved.outcome == "created" else 200
    return RosterSavedOut(outcome=saved.outcome, released_tickets=saved.released_tickets, reindex=reindex)


@router.get("/experts/{expert_id}")
async def get_expert(expert_id: str, _: AdminDep, session: SessionDep) -> dict[str, Any]:
    return await stored_record(session, EXPERTS, expert_id)


@router.put("/experts/{expert_id}", response_model=RosterSavedOut)
async def put_expert(
    expert_id: str,
    _: AdminDep,
    session: SessionDep,
    tickets: TicketsDep,
    reindexer: ReindexerDep,
    response: Response,
    record: dict[str, Any] = RECORD,
) -> RosterSavedOut:
    """Add (201) or replace (200) an expert; 422 lists every problem and saves nothing. A new
    or changed profile starts an index rebuild (the ranking reads profiles from the index);
    deactivating revokes the login links and passes the expert's unanswered tickets on."""
    saved = await save_expert(session, tickets, expert_id, record)
    reindex = (await reindexer.start()).as_dict() if saved.needs_reindex else None
    return _saved(saved, response, reindex)


@router.get("/sites/{code}")
async def get_site(code: str, _: AdminDep, session: SessionDep) -> dict[str, Any]:
    return await stored_record(session, SITES, code)


@router.put("/sites/{code}", response_model=RosterSavedOut)
async def put_site(
    code: str, _: AdminDep, session: SessionDep, response: Response, record: dict[str, Any] = RECORD
) -> RosterSavedOut:
    """Add (201) or replace (200) a site; an inactive site's QR code opens a notice, not the chat."""
    return _saved(await save_site(session, code, record), response)
