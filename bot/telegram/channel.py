"""The running bot: built from the settings, run beside the web app by the composition root.

Long polling by default (one process per bot). With ``webhook_url`` set, each instance
registers the same webhook and secret at start and updates arrive at ``/telegram/webhook``
(``bot.telegram.webhook``), so any number of instances can share the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.service.photo_store import DiskPhotos, PhotoStore
from bot.settings import Settings, TelegramSettings
from bot.shared_state import MemorySeenUpdates, SeenUpdates
from bot.telegram.dispatcher import get_dispatcher, sessions_middleware
from bot.telegram.notifier import TelegramNotifier
from bot.telegram.services import BotServices
from knowledge.errors import ConflictError

log = logging.getLogger(__name__)
RETRY_SECONDS = (1, 2, 5, 10, 30, 60)


def make_bot(settings: TelegramSettings) -> Bot:
    """A bot talking to ``api_base`` (Telegram, or a local Bot API server / an emulator)."""
    if settings.bot_token is None:
        raise ValueError("no bot token: set CRAFTDESK_BOT_TOKEN")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


class TelegramChannel:
    """``bot`` may be given (tests pass one with a fake session); by default it is built from
    the settings. ``seen_updates``: the webhook's update ids (shared by the instances when in
    Redis; by default this process's). ``photos``: the photo store (by default the data dir's)."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        bot: Bot | None = None,
        seen_updates: SeenUpdates | None = None,
        photos: PhotoStore | None = None,
    ):
        self.settings = settings.telegram
        self.seen_updates = seen_updates or MemorySeenUpdates()
        self.bot = bot or make_bot(self.settings)
        photos = photos or DiskPhotos(settings.uploads_dir)
        self.notifier = TelegramNotifier(self.bot, sessions, photos, self.settings.admin_ids)
        self.dispatcher = get_dispatcher()
        self.secret_token = self.settings.secret_token()
        self._services: BotServices | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set once the webhook is registered / polling begins

    @property
    def webhook_mode(self) -> bool:
        return self.settings.webhook_url is not None

    @property
    def bot_id(self) -> int:
        return self.bot.id

    async def username(self) -> str:
        """For t.me links: the setting, else what Telegram says (cached by aiogram)."""
        if self.settings.bot_username:
            return self.settings.bot_username
        me = await self.bot.me()
        if not me.username:
            raise ConflictError("the bot has no username; set CRAFTDESK_TELEGRAM__BOT_USERNAME")
        return me.username

    async def start(self, services: BotServices) -> None:
        self._services = services
        self._task = asyncio.create_task(self._run(services), name="telegram")
        self._task.add_done_callback(_log_failure)

    async def _run(self, services: BotServices) -> None:
        allowed = self.dispatcher.resolve_used_update_types()
        await self._retrying(
            "setMyCommands",
            lambda: self.bot.set_my_commands(
                [BotCommand(command=name, description=text) for name, text in texts.TG_COMMANDS.items()]
            ),
            attempts=1,
        )
        if self.webhook_mode:
            await self._retrying(
                "setWebhook",
                lambda: self.bot.set_webhook(
                    self.settings.webhook_url or "", secret_token=self.secret_token, allowed_updates=allowed
                ),
            )
            log.info("telegram: webhook set", extra={"url": self.settings.webhook_url})
            self.ready.set()
            return
        await self._retrying("deleteWebhook", lambda: self.bot.delete_webhook())
        await self._retrying("getMe", self.bot.me)  # cached: polling asks for it first
        self.ready.set()
        await self.dispatcher.start_polling(
            self.bot,
            handle_signals=False,
            close_bot_session=False,
            allowed_updates=allowed,
            tasks_concurrency_limit=32,
            **services.workflow_data(),
        )

    async def _retrying(self, what: str, call: Any, attempts: int = 0) -> None:
        """Call until it works (Telegram may be unreachable at start); ``attempts`` 0: forever."""
        tries = 0
        while True:
            try:
                await call()
                return
            except Exception as exc:  # network or API: log, wait, try again
                tries += 1
                log.warning("telegram: %s failed", what, extra={"error": str(exc), "attempt": tries})
                if attempts and tries >= attempts:
                    return
                await asyncio.sleep(RETRY_SECONDS[min(tries, len(RETRY_SECONDS)) - 1])

    async def feed(self, raw: dict[str, Any]) -> None:
        """An update from the webhook, handled before the request is answered (so a crash
        lets Telegram send it again)."""
        if self._services is None:
            raise RuntimeError("the Telegram channel is not started")
        update = Update.model_validate(raw, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update, **self._services.workflow_data())

    async def stop(self) -> None:
        if self._task is not None:
            if not self.webhook_mode:
                with contextlib.suppress(RuntimeError):  # polling had not started yet
                    await self.dispatcher.stop_polling()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # logged by _log_failure
                await self._task
        await sessions_middleware().drain(timeout=10)
        await self.bot.session.close()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telegram: the bot stopped", exc_info=task.exception())
