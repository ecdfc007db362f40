"""The worker's conversation: site deep link, questions, suggestions and their buttons,
tickets (replies, photos, /my), the answer and the rating."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery, SendMessage
from sqlalchemy import select

from bot import texts
from bot.telegram.callbacks import FeedbackCb, RateCb
from knowledge.models import Expert, Question, TelegramChat, Ticket, TicketMessage
from knowledge.states import WorkerStage
from tests.factories import png_bytes
from tests.telegram.conftest import Talk, buttons, texts_of
from tests.telegram.helpers import REJECTED, ROUTED, SUGGESTED, load_ticket, open_ticket

PNG = png_bytes()


async def test_the_qr_deep_link_remembers_the_site(talk: Talk):
    calls = await talk.say(1001, "/start xcmg-hv-3")
    assert "徐工重型 三号车间" in texts_of(calls)[0]
    await talk.say(1001, ROUTED)
    async with talk.context.sessions() as session:
        assert (await session.get(TelegramChat, 1001)).site_code == "xcmg-hv-3"
        question = await session.scalar(select(Question).where(Question.channel == "telegram"))
    assert question.site_code == "xcmg-hv-3"


async def test_an_unknown_site_code_gets_a_friendly_word_and_the_chat_still_works(talk: Talk):
    assert texts_of(await talk.say(1002, "/start no-such-site")) == [texts.TG_UNKNOWN_SITE]
    assert "工会" in texts_of(await talk.say(1002, REJECTED))[0]


async def test_plain_start_greets(talk: Talk):
    assert texts_of(await talk.say(1003, "/start")) == [texts.TG_WELCOME]


async def test_a_known_problem_gets_cases_with_buttons_and_solved_is_recorded(talk: Talk):
    calls = await talk.say(1004, SUGGESTED)
    sent = [(request, result) for request, result in calls if isinstance(request, SendMessage)]
    assert sent[0][0].text == texts.SUGGEST_REPLY
    cases = sent[1:]
    assert 1 <= len(cases) <= 3
    assert buttons(cases[0][0]) == [
        (texts.TG_BTN_SOLVED, FeedbackCb(solved=True).pack()),
        (texts.TG_BTN_NOT_SOLVED, FeedbackCb(solved=False).pack()),
    ]
    reply = await talk.press(1004, FeedbackCb(solved=True).pack(), cases[0][1].message_id)
    assert texts_of(reply) == [texts.TG_SOLVED]
    async with talk.context.sessions() as session:
        question = await session.scalar(select(Question).where(Question.channel == "telegram"))
    assert question.solved is True and question.solved_case_id == "K001"


async def test_not_solved_opens_a_ticket_and_says_which_expert_has_it(talk: Talk):
    calls = await talk.say(1005, SUGGESTED)
    first_case = [result for request, result in calls if buttons(request)][0]
    reply = texts_of(await talk.press(1005, FeedbackCb(solved=False).pack(), first_case.message_id))
    async with talk.context.sessions() as session:
        question = await session.scalar(select(Question).where(Question.channel == "telegram"))
        ticket = await session.scalar(select(Ticket).where(Ticket.question_id == question.id))
        expert = await session.get(Expert, ticket.expert_id)
    assert question.solved is False
    assert (ticket.channel, ticket.worker_chat_id) == ("telegram", 1005)
    assert f"<b>{expert.name}</b>" in reply[0] and expert.title in reply[0]


async def test_a_button_on_a_message_of_another_chat_does_nothing(talk: Talk):
    calls = await talk.say(1006, SUGGESTED)
    first_case = [result for request, result in calls if buttons(request)][0]
    # chat 1007 presses with chat 1006's message id: no record in its own chat
    reply = await talk.press(1007, FeedbackCb(solved=False).pack(), first_case.message_id)
    assert [r.text for r, _ in reply if isinstance(r, AnswerCallbackQuery)] == [texts.TG_BUTTON_EXPIRED]
    async with talk.context.sessions() as session:
        question = await session.scalar(select(Question).where(Question.channel == "telegram"))
    assert question.solved is None


async def test_a_routed_question_opens_a_ticket_at_once(talk: Talk):
    ticket, _ = await open_ticket(talk, 1008)
    assert ticket.status == "assigned" and ticket.channel == "telegram"


async def test_replies_and_photos_go_into_the_ticket_thread(talk: Talk):
    ticket, announcement = await open_ticket(talk, 1009)
    assert texts_of(await talk.say(1009, "型号是 CK6150", reply_to=announcement)) == [texts.TG_WORKER_SENT]
    talk.bot.session.files["p1"] = PNG
    assert texts_of(await talk.say(1009, photo_id="p1", caption="报警画面", reply_to=announcement)) == [
        texts.TG_WORKER_SENT
    ]
    talk.bot.session.files["p2"] = PNG
    assert texts_of(await talk.say(1009, photo_id="p2")) == [texts.TG_WORKER_SENT]  # loose photo
    async with talk.context.sessions() as session:
        thread = (
            await session.scalars(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
            )
        ).all()
    assert [(m.author, m.text, bool(m.photo)) for m in thread] == [
        ("worker", ROUTED, False),
        ("worker", "型号是 CK6150", False),
        ("worker", "报警画面", True),
        ("worker", "", True),
    ]


async def test_a_photo_without_a_ticket_asks_for_words_first(talk: Talk):
    talk.bot.session.files["p3"] = PNG
    assert texts_of(await talk.say(1010, photo_id="p3")) == [texts.TG_PHOTO_WITHOUT_TICKET]


async def test_the_answer_arrives_and_the_rating_closes_the_ticket(talk: Talk):
    ticket, _ = await open_ticket(talk, 1011)
    async with talk.context.sessions() as session:
        await talk.context.tickets.answer(session, ticket.id, ticket.expert_id, "先检查编码器线缆")
    request, result = await talk.delivered(1011, lambda text: "先检查编码器线缆" in text)
    assert texts.TG_ANSWER_HINT in request.text
    assert buttons(request)[-1] == ("★★★★★", RateCb(ticket_id=ticket.id, stars=5).pack())
    reply = await talk.press(1011, RateCb(ticket_id=ticket.id, stars=5).pack(), result.message_id)
    assert texts_of(reply) == [texts.TG_RATED.format(stars="★★★★★")]
    closed = await load_ticket(talk, ticket.id)
    assert (closed.status, closed.rating) == ("closed", 5)


async def test_rating_the_ticket_of_another_chat_is_refused(talk: Talk):
    ticket, _ = await open_ticket(talk, 1012)
    reply = await talk.press(1013, RateCb(ticket_id=ticket.id, stars=1).pack(), 5)
    assert [r.text for r, _ in reply if isinstance(r, AnswerCallbackQuery)] == [texts.TG_ERROR_NOT_FOUND]
    assert (await load_ticket(talk, ticket.id)).status == "assigned"


async def test_my_lists_the_chats_tickets_with_user_text_escaped(talk: Talk):
    assert texts_of(await talk.say(1014, "/my")) == [texts.TG_MY_EMPTY]
    await open_ticket(talk, 1014, "<b>车床</b> 开机报 SV0417 & 乱码")
    listing = texts_of(await talk.say(1014, "/my"))[0]
    assert "&lt;b&gt;车床&lt;/b&gt;" in listing and "&amp;" in listing and "<b>车床" not in listing
    assert texts.WORKER_STATUS[WorkerStage.WAITING] in listing  # assigned, not yet claimed


async def test_my_shows_the_ticket_handled_only_once_claimed(talk: Talk):
    ticket, _ = await open_ticket(talk, 1015)
    listing = texts_of(await talk.say(1015, "/my"))[0]
    assert texts.WORKER_STATUS[WorkerStage.HANDLING] not in listing
    async with talk.context.sessions() as session:
        await talk.context.tickets.claim(session, ticket.id, ticket.expert_id)
    listing = texts_of(await talk.say(1015, "/my"))[0]
    assert texts.WORKER_STATUS[WorkerStage.HANDLING] in listing
