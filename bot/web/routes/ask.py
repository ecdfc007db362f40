from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.providers import AskDep, SessionDep, SettingsDep
from bot.web.class_schemas import class_page_url
from bot.web.deps import WebAsker, WeChatWorker, rate_limited
from bot.web.present import opened_ticket_out
from bot.web.schemas import AskRequest, AskResponse, ExpertOut, RelatedClassOut, SuggestionOut
from knowledge.states import Channel

router = APIRouter(prefix="/api", tags=["worker"])


@router.post("/ask", response_model=AskResponse, dependencies=[Depends(rate_limited("ask"))])
async def ask(
    body: AskRequest,
    ask_service: AskDep,
    settings: SettingsDep,
    session: SessionDep,
    asker: WebAsker,
    openid: WeChatWorker,
) -> AskResponse:
    """Suggest a past case, route to experts (the ticket is opened and returned), or reject a
    non-technical question."""
    result = await ask_service.ask(
        session, body.text, body.site, channel=Channel.WEB, asker=asker, worker_openid=openid
    )
    outcome = result.outcome
    return AskResponse(
        question_id=result.question_id,
        decision=outcome.decision,
        suggestions=[
            SuggestionOut(
                case_id=h.case.id,
                title=h.case.title,
                answer=h.case.answer,
                score=round(h.score, 4),
                solved_by=result.solvers.get(h.case.expert_id or ""),
            )
            for h in outcome.cases
        ],
        experts=[
            ExpertOut(
                expert_id=h.expert.id,
                name=h.expert.name,
                title=h.expert.title,
                org=h.expert.org,
                region=h.expert.region,
                score=round(h.score, 4),
            )
            for h in outcome.experts[: settings.retrieval.max_experts]
        ],
        index_version=outcome.index_version,
        message=result.message,
        ticket=await opened_ticket_out(session, result.ticket) if result.ticket else None,
        shown=result.shown,
        classes=[
            RelatedClassOut(
                class_id=hit.doc.id,
                title=hit.doc.title,
                starts_at=hit.doc.starts_at.isoformat(),
                kind=hit.doc.kind,
                place=hit.doc.place,
                url=class_page_url(hit.doc.id, body.site),
            )
            for hit in result.classes
        ],
    )
