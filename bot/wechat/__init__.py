"""The WeChat service account (服务号) and WeCom (企业微信) platform layer: API clients
(``api``), their access-token cache (``tokens``), the WeCom callback crypto (``crypto``) and
the errors the callers act on (``errors``). Knows nothing of tickets or the outbox; see
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
