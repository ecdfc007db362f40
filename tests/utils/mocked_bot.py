"""A bot whose session records every request instead of calling Telegram (after aiogram's
own tests/mocked_bot.py). Results queued with ``add_result_for`` are answered first, in
order; otherwise a plausible result is made up (a sent message gets the next message id)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import GetFile, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Chat, File, Message, PhotoSize, User

BOT_ID = 42


class MockedSession(BaseSession):
    def __init__(self, first_message_id: int = 1000) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.results: list[Any] = []  # what each request was answered with, same order
        self.responses: deque[tuple[type[TelegramMethod[Any]], Response[Any]]] = deque()
        self.files: dict[str, bytes] = {}
        self.message_ids = itertools.count(first_message_id)

    def add_result_for(
        self,
        method: type[TelegramMethod[Any]],
        ok: bool = True,
        result: Any = None,
        error_code: int = 200,
        description: str | None = None,
    ) -> None:
        self.responses.append(
            (method, Response[Any](ok=ok, result=result, error_code=error_code, description=description))
        )

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        if self.responses and isinstance(method, self.responses[0][0]):
            _, response = self.responses.popleft()
            self.results.append(response.result)
            self.check_response(
                bot=bot,
                method=method,
                status_code=response.error_code or 200,
                content=response.model_dump_json(),
            )
            return response.result  # type: ignore[return-value]  # the queued answer stands for it
        result = self.made_up_result(method)
        self.results.append(result)
        return result

    def made_up_result(self, method: TelegramMethod[Any]) -> Any:
        name = type(method).__name__
        if name.startswith("Send"):
            chat_id = getattr(method, "chat_id")  # noqa: B009  # every Send* has it; TelegramMethod does not
            photo = (
                [PhotoSize(file_id="sent", file_unique_id="sent", width=1, height=1)]
                if name == "SendPhoto"
                else None
            )
            return Message(
                message_id=next(self.message_ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(chat_id), type="private"),
                text=getattr(method, "text", None),
                photo=photo,
                from_user=User(id=BOT_ID, is_bot=True, first_name="bot"),
            )
        if isinstance(method, GetFile):
            return File(file_id=method.file_id, file_unique_id=method.file_id, file_path=method.file_id)
        return True

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield self.files[url.rsplit("/", 1)[-1]]

    async def close(self) -> None:
        pass


class MockedBot(Bot):
    session: MockedSession

    def __init__(self, first_message_id: int = 1000) -> None:
        super().__init__(
            f"{BOT_ID}:TEST",
            session=MockedSession(first_message_id),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        self._me = User(id=BOT_ID, is_bot=True, first_name="craftdesk", username="craftdesk_bot")

    def sent(
        self, method: type[TelegramMethod[Any]] | None = None, chat_id: int | None = None, since: int = 0
    ) -> list[tuple[Any, Any]]:
        """(request, result) pairs from index ``since``, of one type and to one chat if given."""
        # not strict: a request whose made-up answer raised has no result
        pairs = zip(self.session.requests[since:], self.session.results[since:], strict=False)
        return [
            (r, result)
            for r, result in pairs
            if (method is None or isinstance(r, method))
            and (chat_id is None or getattr(r, "chat_id", None) == chat_id)
        ]
