"""Needs lists (需求清单), the filer's and the expert's side. The filer has no login: each need is
guarded by its own token (``X-Need-Token``), as a worker's ticket. An expert sees only the needs
they were matched to (any other is 'not found'). The steward's side is ``needs_admin``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from bot.providers import NeedsDep, SessionDep, SettingsDep
from bot.service.need_form import NeedForm
from bot.service.needs import NeedsService, match_of, needs_of_expert
from bot.web.deps import ExpertDep, rate_limited
from bot.web.present import photo_response
from bot.web.present_needs import expert_need, filer_need
from bot.web.schemas_needs import ExpertNeedOut, FiledNeedOut, NeedIn, NeedOut
from bot.web.uploads import PHOTO_FORM, read_photo_form

router = APIRouter(tags=["needs"])


NeedToken = Annotated[str | None, Header(alias="X-Need-Token")]


def status_url(public_url: str, need_id: str, token: str) -> str:
    """The filer's private status page; the token rides in the fragment, never in a server log."""
    return f"{public_url.rstrip('/')}/needs/{need_id}#token={token}"


# ---- the filer ---------------------------------------------------------------------------------


@router.post(
    "/api/needs",
    status_code=201,
    response_model=FiledNeedOut,
    dependencies=[Depends(rate_limited("tickets"))],
)
async def file_need(
    body: NeedIn, needs: NeedsDep, settings: SettingsDep, session: SessionDep
) -> FiledNeedOut:
    """File a need from a station's form (422 naming the field); photos follow, one per call."""
    filed = await needs.file(session, NeedForm(**body.model_dump()))
    out = await filer_need(session, filed.need)
    return FiledNeedOut(
        **out.model_dump(),
        token=filed.token,
        status_url=status_url(settings.public_url, filed.need.id, filed.token),
    )


@router.get("/api/needs/{need_id}", response_model=NeedOut)
async def get_need(need_id: str, needs: NeedsDep, session: SessionDep, token: NeedToken = None) -> NeedOut:
    return await filer_need(session, await needs.for_filer(session, need_id, token or ""))


@router.post(
    "/api/needs/{need_id}/photos",
    status_code=201,
    response_model=NeedOut,
    dependencies=[Depends(rate_limited("messages"))],
    openapi_extra=PHOTO_FORM,
)
async def add_photo(
    need_id: str, request: Request, needs: NeedsDep, session: SessionDep, token: NeedToken = None
) -> NeedOut:
    """A photo of the problem (JPEG/PNG/WebP, at most 10 MB, 4 per need); the token is checked
    before the upload is read."""
    need = await needs.for_filer(session, need_id, token or "")
    data, _ = await read_photo_form(request)
    await needs.add_photo(session, need, data)
    return await filer_need(session, await needs.for_filer(session, need_id, token or ""))


@router.get("/api/needs/{need_id}/photos/{name}")
async def filer_photo(
    need_id: str, name: str, needs: NeedsDep, session: SessionDep, token: NeedToken = None
) -> Response:
    await needs.for_filer(session, need_id, token or "")
    return photo_response(await needs.photo(need_id, name), name)


@router.post("/api/needs/{need_id}/withdraw", response_model=NeedOut)
async def withdraw(need_id: str, needs: NeedsDep, session: SessionDep, token: NeedToken = None) -> NeedOut:
    """Withdrawn while not done (409 once done or withdrawn); matched experts are told."""
    await needs.for_filer(session, need_id, token or "")
    return await filer_need(session, await needs.withdraw(session, need_id))


# ---- the expert --------------------------------------------------------------------------------


@router.get("/api/expert/needs", response_model=list[ExpertNeedOut])
async def expert_needs(expert: ExpertDep, session: SessionDep) -> list[ExpertNeedOut]:
    """The needs the caller was matched to, open ones first."""
    return [
        await expert_need(session, need, match) for need, match in await needs_of_expert(session, expert.id)
    ]


@router.get("/api/expert/needs/{need_id}", response_model=ExpertNeedOut)
async def expert_one_need(need_id: str, expert: ExpertDep, session: SessionDep) -> ExpertNeedOut:
    return await expert_need(session, *await match_of(session, need_id, expert.id))


@router.get("/api/expert/needs/{need_id}/photos/{name}")
async def expert_photo(
    need_id: str, name: str, expert: ExpertDep, needs: NeedsDep, session: SessionDep
) -> Response:
    await match_of(session, need_id, expert.id)
    return photo_response(await needs.photo(need_id, name), name)


async def _respond(
    need_id: str, expert_id: str, accept: bool, needs: NeedsService, session: SessionDep
) -> ExpertNeedOut:
    await needs.respond(session, need_id, expert_id, accept)
    return await expert_need(session, *await match_of(session, need_id, expert_id))


@router.post("/api/expert/needs/{need_id}/accept", response_model=ExpertNeedOut)
async def accept(need_id: str, expert: ExpertDep, needs: NeedsDep, session: SessionDep) -> ExpertNeedOut:
    """Accept (the filer's contact is then shown); 409 after declining or once closed."""
    return await _respond(need_id, expert.id, True, needs, session)


@router.post("/api/expert/needs/{need_id}/decline", response_model=ExpertNeedOut)
async def decline(need_id: str, expert: ExpertDep, needs: NeedsDep, session: SessionDep) -> ExpertNeedOut:
    return await _respond(need_id, expert.id, False, needs, session)
