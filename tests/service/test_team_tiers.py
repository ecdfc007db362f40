"""The escalation follows the union's teams: ranked experts, then the site's county team, the
industry team of its industry, the city team, the admin queue; each team tier offered to all its
free members at once, silence (fake clock) moving a ticket one tier on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import FakeClock
from bot.service.tickets import TicketService
from knowledge.interchange import import_dir
from knowledge.models import OutboxEvent, Question, Ticket
from tests.factories import expert, knowledge_folder, site, stored, team

Sessions = async_sessionmaker[AsyncSession]
SILENCE = 30  # minutes: TicketPolicy.silence


@pytest.fixture
async def teams(sessions: Sessions, tmp_path: Path) -> Sessions:
    """A 1+1+1 structure around a motor factory in 邳州 (electric power industry)."""
    folder = knowledge_folder(
        tmp_path / "kb",
        teams=[
            team("city", name="徐州市劳模工匠服务团", level="city", region="徐州市"),
            team("pz", name="邳州市服务队", level="county", region="邳州市"),
            team("ts", name="铜山区服务队", level="county", region="铜山区"),
            team("power", name="电力行业联盟", level="industry", region=None, industries=["电力"]),
        ],
        experts=[
            expert("E01", region="邳州市"),  # ranked, in no team
            expert("K01", region="邳州市", team_ids=["pz"]),
            expert("K02", region="邳州市", team_ids=["pz"]),
            expert("T01", region="铜山区", team_ids=["ts"]),
            expert("I01", region="新沂市", team_ids=["power"]),
            expert("C01", region="徐州市", team_ids=["city", "power"]),
            expert("C02", region="徐州市", team_ids=["city"], active=False),
        ],
        sites=[
            site("pz-motor", region="邳州市", industry="电力"),
            site("fx-food", region="丰县", industry="食品加工"),
        ],
    )
    async with sessions() as session:
        await import_dir(session, folder)
    return sessions


async def opened(sessions: Sessions, service: TicketService, at_site: str, ranked: list[str]) -> str:
    qid = uuid.uuid4().hex
    async with sessions() as session:
        session.add(
            Question(id=qid, text="绕线机张力不稳", site_code=at_site, decision="route", expert_ids=ranked)
        )
        await session.commit()
        return (await service.open_for_question(session, qid)).ticket.id


async def silence(sessions: Sessions, service: TicketService, clock: FakeClock) -> None:
    """The holders stay silent just long enough for the ticket to move on, and not a minute less."""
    async with sessions() as session:
        clock.advance(minutes=SILENCE - 1)
        assert await service.reassign_silent(session) == 0
        clock.advance(minutes=1)
        assert await service.reassign_silent(session) == 1


async def where(sessions: Sessions, ticket_id: str) -> tuple[str, str, list[str], str | None]:
    ticket = await stored(sessions, Ticket, ticket_id)
    return ticket.tier, ticket.status, sorted(ticket.offered_to), ticket.team_id


async def offers(sessions: Sessions, ticket_id: str) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.ticket_id == ticket_id, OutboxEvent.kind == "offered")
                .order_by(OutboxEvent.id)
            )
        ).all()
    return [(e.recipient, e.payload.get("team")) for e in rows]


async def test_silence_walks_county_industry_city_then_the_admin_queue(
    teams: Sessions, service: TicketService, clock: FakeClock
):
    tid = await opened(teams, service, "pz-motor", ["E01"])
    assert (await stored(teams, Ticket, tid)).expert_id == "E01"

    await silence(teams, service, clock)
    assert await where(teams, tid) == ("county", "open", ["K01", "K02"], "pz")
    assert await offers(teams, tid) == [("expert:K01", "邳州市服务队"), ("expert:K02", "邳州市服务队")]

    await silence(teams, service, clock)  # the county team stayed silent: the industry alliance
    assert await where(teams, tid) == ("industry", "open", ["C01", "I01"], "power")

    await silence(teams, service, clock)  # C01 was offered it already (passed over); C02 inactive
    assert await where(teams, tid) == ("admin", "open", [], None)


async def test_a_team_member_claims_first_and_the_others_lose_the_offer(
    teams: Sessions, service: TicketService, clock: FakeClock
):
    tid = await opened(teams, service, "pz-motor", [])  # nobody ranked: straight to the county team
    assert await where(teams, tid) == ("county", "open", ["K01", "K02"], "pz")
    async with teams() as session:
        await service.claim(session, tid, "K02")
        clock.advance(minutes=SILENCE + 1)
        assert await service.reassign_silent(session) == 0  # claimed: answered within 4 h, not 30 min
    ticket = await stored(teams, Ticket, tid)
    assert (ticket.status, ticket.expert_id, ticket.offered_to) == ("assigned", "K02", [])


async def test_tiers_without_a_team_are_skipped(teams: Sessions, service: TicketService, clock: FakeClock):
    # 丰县 has no county team and no food industry team: the city team is next
    tid = await opened(teams, service, "fx-food", ["E01"])
    await silence(teams, service, clock)
    assert await where(teams, tid) == ("city", "open", ["C01"], "city")
    await silence(teams, service, clock)
    assert await where(teams, tid) == ("admin", "open", [], None)


async def test_declines_move_the_tier_on_like_silence(teams: Sessions, service: TicketService):
    tid = await opened(teams, service, "pz-motor", [])
    async with teams() as session:
        await service.decline(session, tid, "K01")
        assert (await where(teams, tid))[0] == "county"  # K02 still has it
        await service.decline(session, tid, "K02")
    assert await where(teams, tid) == ("industry", "open", ["C01", "I01"], "power")
