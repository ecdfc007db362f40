"""The WeChat service account (服务号) and WeCom (企业微信) platform layer: API clients
(``api``), their access-token cache (``tokens``), the WeCom callback crypto (``crypto``) and
the errors the callers act on (``errors``), which know nothing of tickets; on top of them the
outbox's notifiers (``notifier``) and what the composition root builds (``channel``). See
docs/wechat.md."""

from bot.wechat.api import ServiceAccount, WeComApp
from bot.wechat.crypto import WeComCrypto
from bot.wechat.errors import (
    BadSignature,
    InvalidCode,
    PlatformError,
    PlatformUnavailable,
    RecipientUnreachable,
    WeChatError,
)

__all__ = [
    "BadSignature",
    "InvalidCode",
    "PlatformError",
    "PlatformUnavailable",
    "RecipientUnreachable",
    "ServiceAccount",
    "WeChatError",
    "WeComApp",
    "WeComCrypto",
]
