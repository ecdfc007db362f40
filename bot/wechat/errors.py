"""What can go wrong talking to WeChat and WeCom, sorted by what the caller does about it.

    WeChatError
    ├── PlatformError(errcode, errmsg)   an errcode nobody handles: a setting is wrong (app id,
    │   │                                secret, IP allowlist, template id), or a bug; the outbox
    │   │                                backs off and dead-letters it in the end
    │   ├── TokenRejected                the access token was refused (40001, 40014, 42001): the
    │   │                                client refreshes it and tries once more; raised only
    │   │                                when the fresh token is refused too
    │   ├── InvalidCode                  an OAuth code forged, expired or used already (40029,
    │   │                                40163): the page asks WeChat for a new one, never retried
    │   └── RecipientUnreachable         not subscribed, refused, blocked, unknown user (43004,
    │                                    43101, 43019, 40003, WeCom 81013, 60111): record it and
    │                                    stop, never retried
    ├── PlatformUnavailable              HTTP 5xx, a transport error, a non-JSON answer, system
    │                                    busy (-1) or a rate limit (45009, 45011, 45033, 45047):
    │                                    the outbox backs off and tries again
    └── BadSignature                     a WeCom callback whose signature, receive id, envelope or
                                         padding is wrong: the route answers 403

``classify`` maps an errcode to its class in one place. Texts never carry a token or secret:
``mask_secrets`` blanks ``access_token=``, ``secret=``, ``corpsecret=`` and ``code=`` values.
"""

from __future__ import annotations

import re

TOKEN_CODES = frozenset({40001, 40014, 42001})
CODE_CODES = frozenset({40029, 40163})
UNREACHABLE_CODES = frozenset(
    {
        40003,  # invalid openid: not a follower of this account
        43004,  # require subscribe: the user does not follow the account (any more)
        43019,  # the user blocked the account
        43101,  # user refuse to accept the msg: no subscription consent left
        60111,  # WeCom: no such userid
        81013,  # WeCom: user, party and tag all invalid (every recipient unknown or out of scope)
    }
)
BUSY_CODES = frozenset(
    {
        -1,  # system busy, try again
        45009,  # daily quota of the API reached
        45011,  # too many calls a minute
        45033,  # WeCom: too many concurrent calls
        45047,  # too many messages to one user
    }
)

_SECRET = re.compile(r"\b(access_token|secret|corpsecret|appsecret|code)=[^&\s\"'<>]+", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with the values of token, secret and code parameters replaced by ``***``."""
    return _SECRET.sub(r"\1=***", text)


class WeChatError(Exception):
    """Base of everything this package raises; its text is masked."""

    def __init__(self, message: str):
        super().__init__(mask_secrets(message))


class PlatformError(WeChatError):
    """An errcode the platform answered with (``errcode`` None: an unexpected HTTP status)."""

    def __init__(self, errcode: int | None, errmsg: str, where: str = ""):
        self.errcode = errcode
        self.errmsg = mask_secrets(errmsg)
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}errcode {errcode}: {errmsg}")


class TokenRejected(PlatformError):
    pass


class InvalidCode(PlatformError):
    pass


class RecipientUnreachable(PlatformError):
    pass


class PlatformUnavailable(WeChatError):
    pass


class BadSignature(WeChatError):
    pass


def classify(errcode: int, errmsg: str, where: str) -> WeChatError | None:
    """The error an answer's ``errcode`` stands for, or None for 0 (ok)."""
    if errcode == 0:
        return None
    if errcode in TOKEN_CODES:
        return TokenRejected(errcode, errmsg, where)
    if errcode in CODE_CODES:
        return InvalidCode(errcode, errmsg, where)
    if errcode in UNREACHABLE_CODES:
        return RecipientUnreachable(errcode, errmsg, where)
    if errcode in BUSY_CODES:
        return PlatformUnavailable(f"{where}: errcode {errcode}: {errmsg}")
    return PlatformError(errcode, errmsg, where)
