"""The WeChat channel of one process: the service account and WeCom clients, the WeCom
callback crypto, the signer of the worker cookie and OAuth state, and the outbox notifiers;
built once by the composition root when either platform is configured, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.service.clock import Clock
from bot.service.outbox import Notifier
from bot.service.wechat_identity import Signer
from bot.settings import Settings
from bot.shared_state import MemorySeenUpdates, SeenUpdates
from bot.wechat.api import ServiceAccount, WeComApp
from bot.wechat.crypto import WeComCrypto
from bot.wechat.notifier import ServiceAccountNotifier, WeComNotifier


@dataclass
class WeChatChannel:
    settings: Settings
    signer: Signer
    account: ServiceAccount | None = None  # the service account (服务号), when configured
    wecom: WeComApp | None = None  # the WeCom app, when configured
    crypto: WeComCrypto | None = None  # the WeCom callback, when its token and key are set
    seen: SeenUpdates = field(default_factory=MemorySeenUpdates)  # the callback's MsgIds
    notifiers: list[Notifier] = field(default_factory=list)

    async def aclose(self) -> None:
        for client in (self.account, self.wecom):
            if client is not None:
                await client.aclose()


def open_wechat(
    settings: Settings,
    secret: str,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    pool: Any = None,
    seen: SeenUpdates | None = None,
) -> WeChatChannel | None:
    """The channel when the service account or the WeCom app is set; None otherwise.
    ``secret``: the server secret the signer's key is derived from (the admin token);
    ``pool``: Redis, to share the access tokens across instances; ``seen``: where the WeCom
    callback's message ids are kept (shared with the Telegram webhook's update ids)."""
    if not settings.wechat.enabled and not settings.wecom.enabled:
        return None
    channel = WeChatChannel(settings, Signer(secret), seen=seen or MemorySeenUpdates())
    if settings.wechat.enabled:
        channel.account = ServiceAccount(settings.wechat, pool=pool)
        channel.notifiers.append(ServiceAccountNotifier(channel.account, sessions, clock, settings))
    if settings.wecom.enabled:
        channel.wecom = WeComApp(settings.wecom, pool=pool)
        channel.notifiers.append(WeComNotifier(channel.wecom, sessions, clock, settings))
        if settings.wecom.callback_enabled:
            channel.crypto = WeComCrypto.from_settings(settings.wecom)
    return channel
