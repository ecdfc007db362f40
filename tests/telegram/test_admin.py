"""Admin commands, for the Telegram ids in the settings only."""

from __future__ import annotations

from bot import texts
from tests.telegram.conftest import ADMIN_ID, Talk, texts_of
from tests.telegram.helpers import open_ticket


async def test_stats_for_an_admin(talk: Talk):
    await open_ticket(talk, 3001)
    reply = texts_of(await talk.say(ADMIN_ID, "/stats"))[0]
    assert reply.startswith("<b>统计") and "提问 1" in reply and "工单 1" in reply


async def test_reindex_for_an_admin_starts_a_rebuild(talk: Talk):
    reply = texts_of(await talk.say(ADMIN_ID, "/reindex"))[0]
    assert reply.startswith(texts.TG_REINDEX.split("：")[0]) and texts.TG_REINDEX_STATES["running"] in reply
    assert (await talk.context.reindexer.wait()).state == "done"


async def test_admin_commands_mean_nothing_to_others(talk: Talk):
    for command in ("/stats", "/reindex"):
        assert texts_of(await talk.say(3002, command)) == [texts.TG_WELCOME]
    assert talk.context.reindexer.state.state == "idle"


async def test_an_admin_can_still_ask_questions(talk: Talk):
    ticket, _ = await open_ticket(talk, ADMIN_ID)
    assert ticket.worker_chat_id == ADMIN_ID
