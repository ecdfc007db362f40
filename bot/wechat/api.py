"""Async clients of the WeChat service account API and the WeCom app API.

Our own small httpx client, not wechatpy: wechatpy's last release is 1.8.18 (2021), its clients
are synchronous (requests), which would block the event loop or need a thread per call, and
here every base URL must be a setting so that the tests talk to an emulator over real HTTP. The
few calls we need (token, OAuth code exchange, template and subscribe messages, WeCom text
cards) fit in this file; the WeCom callback crypto is in ``crypto.py``.

Every answer goes through ``errors.classify`` (one place): a refused token is refreshed and the
call tried once more; an unreachable recipient, a busy platform and any other errcode become
the exceptions of ``errors.py``. Tokens and secrets travel in query strings, as the platform
wants; they never reach an exception text, and httpx's request log line is masked.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import httpx

from bot.settings import WeChatSettings, WeComSettings
from bot.wechat.errors import (
    InvalidCode,
    PlatformError,
    PlatformUnavailable,
    TokenRejected,
    classify,
    mask_secrets,
)
from bot.wechat.tokens import TokenCache

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
_STATE = re.compile(r"[A-Za-z0-9]{0,128}")  # what WeChat carries back in ``state``


class MaskSecrets(logging.Filter):
    """Masks ``access_token=`` and the like in a record (httpx logs every request's URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_httpx_log() -> None:
    """Put ``MaskSecrets`` on httpx's logger, once per process."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, MaskSecrets) for f in logger.filters):
        logger.addFilter(MaskSecrets())


def js_signature(ticket: str, nonce: str, timestamp: int, page_url: str) -> str:
    """The JS-SDK signature: sha1 of the four fields in this order, the URL without its fragment."""
    page = page_url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()


def template_data(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``{"thing1": "…"}`` as the platform wants it: ``{"thing1": {"value": "…"}}``."""
    return {key: {"value": value} for key, value in values.items()}


class _Client:
    """What both APIs share: the HTTP client, the token cache and the error mapping."""

    def __init__(self, api_base: str, http: httpx.AsyncClient | None):
        self.api_base = api_base.rstrip("/")
        self.owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        self.tokens: TokenCache  # set by the subclass
        mask_httpx_log()

    async def aclose(self) -> None:
        if self.owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _request(
        self, method: str, path: str, where: str, *, params: Mapping[str, str], body: object = None
    ) -> dict[str, Any]:
        """One call, its answer checked: the JSON object of an errcode-0 answer."""
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {} if content is None else {"Content-Type": "application/json; charset=utf-8"}
        try:
            response = await self.http.request(
                method, f"{self.api_base}{path}", params=params, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise PlatformUnavailable(f"{where}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise PlatformUnavailable(f"{where}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PlatformError(None, f"HTTP {response.status_code}", where)
        try:
            answer = response.json()
        except ValueError:
            raise PlatformUnavailable(f"{where}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise PlatformUnavailable(f"{where}: the answer is not a JSON object")
        try:
            errcode = int(answer.get("errcode", 0))
        except (TypeError, ValueError):
            raise PlatformUnavailable(f"{where}: errcode {answer.get('errcode')!r} is not a number") from None
        if error := classify(errcode, str(answer.get("errmsg", "")), where):
            raise error
        return answer

    async def _call(
        self,
        method: str,
        path: str,
        where: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
    ) -> dict[str, Any]:
        """A call with the access token; a refused token is replaced and the call made once more."""
        token = await self.tokens.get()
        try:
            return await self._request(
                method, path, where, params={**(params or {}), "access_token": token}, body=body
            )
        except TokenRejected as exc:
            log.info("wechat token refused, refreshing", extra={"call": where, "errcode": exc.errcode})
            await self.tokens.invalidate(token)
        token = await self.tokens.get()
        return await self._request(
            method, path, where, params={**(params or {}), "access_token": token}, body=body
        )

    async def _token(self, path: str, params: Mapping[str, str], setting: str) -> tuple[str, float]:
        try:
            answer = await self._request("GET", path, "token", params=params)
        except TokenRejected as exc:  # 40001 from the token endpoint: the secret itself is wrong
            raise PlatformError(exc.errcode, f"the secret was refused: check {setting}", "token") from None
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise PlatformUnavailable("token: the answer has no access_token")
        return token, float(answer.get("expires_in") or 7200)


class ServiceAccount(_Client):
    """The union's service account (服务号): who a worker is (OAuth ``snsapi_base``) and the
    notifications to workers and experts who follow it."""

    def __init__(
        self,
        settings: WeChatSettings,
        http: httpx.AsyncClient | None = None,
        pool: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if settings.app_id is None or settings.app_secret is None:
            raise ValueError("the service account is not configured (CRAFTDESK_WECHAT__APP_ID, __APP_SECRET)")
        super().__init__(settings.api_base, http)
        self.settings = settings
        self.app_id = settings.app_id
        self.secret = settings.app_secret
        self.tokens = TokenCache("mp", self.app_id, self._fetch_token, pool, clock)
        self.js_tickets = TokenCache("mp-jsapi", self.app_id, self._fetch_js_ticket, pool, clock)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.secret.get_secret_value(),
        }
        return await self._token(
            "/cgi-bin/token", params, "CRAFTDESK_WECHAT__APP_SECRET and the IP allowlist"
        )

    async def _fetch_js_ticket(self) -> tuple[str, float]:
        answer = await self._call(
            "GET", "/cgi-bin/ticket/getticket", "jsapi ticket", params={"type": "jsapi"}
        )
        ticket = answer.get("ticket")
        if not isinstance(ticket, str) or not ticket:
            raise PlatformUnavailable("jsapi ticket: the answer has no ticket")
        return ticket, float(answer.get("expires_in") or 7200)

    async def js_config(self, page_url: str, nonce: str, timestamp: int) -> dict[str, str | int]:
        """What the page's ``wx.config`` needs to use the JS-SDK (here: the subscribe button,
        ``wx-open-subscribe``) on ``page_url``: the app id and the signature over the cached
        jsapi_ticket (kept like the access token, shared through Redis)."""
        ticket = await self.js_tickets.get()
        return {
            "appId": self.app_id,
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": js_signature(ticket, nonce, timestamp, page_url),
        }

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Where to send a browser inside WeChat to learn its openid silently: WeChat comes back
        to ``redirect_uri?code=…&state=…`` (the redirect's domain must be the account's
        网页授权域名). ``state``: up to 128 of ``A-Za-z0-9``."""
        if not _STATE.fullmatch(state):
            raise ValueError("the OAuth state is up to 128 characters of A-Z, a-z and 0-9")
        query = urlencode(  # WeChat wants these in this order
            {
                "appid": self.app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
            }
        )
        return f"{self.settings.open_base}/connect/oauth2/authorize?{query}#wechat_redirect"

    async def openid_for_code(self, code: str) -> str:
        """The openid of the user a redirect's ``code`` was issued for. A forged, expired or
        used code: ``InvalidCode``."""
        if not code or len(code) > 512:
            raise InvalidCode(None, "no code", "oauth")
        params = {
            "appid": self.app_id,
            "secret": self.secret.get_secret_value(),
            "code": code,
            "grant_type": "authorization_code",
        }
        answer = await self._request("GET", "/sns/oauth2/access_token", "oauth", params=params)
        openid = answer.get("openid")
        if not isinstance(openid, str) or not openid:
            raise PlatformUnavailable("oauth: the answer has no openid")
        return openid

    async def send_template(
        self,
        openid: str,
        template_id: str,
        url: str,
        data: Mapping[str, str],
        client_msg_id: str | None = None,
    ) -> int:
        """A template message (模板消息) that opens ``url``; its msgid. ``client_msg_id`` (up
        to 32 characters, e.g. the outbox event id): WeChat sends one message per openid and
        id within ten minutes, so a retry after a lost answer is not a second message."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "url": url,
            "data": template_data(data),
        }
        if client_msg_id is not None:
            body["client_msg_id"] = client_msg_id
        answer = await self._call("POST", "/cgi-bin/message/template/send", "template", body=body)
        return int(answer.get("msgid") or 0)

    async def send_subscribe(
        self, openid: str, template_id: str, page_url: str, data: Mapping[str, str]
    ) -> None:
        """A subscribe message (订阅通知, one the user consented to) that opens ``page_url``."""
        body = {"touser": openid, "template_id": template_id, "page": page_url, "data": template_data(data)}
        await self._call("POST", "/cgi-bin/message/subscribe/bizsend", "subscribe", body=body)


class WeComApp(_Client):
    """A union's WeCom (企业微信) app: text cards to experts and stewards by WeCom user id."""

    def __init__(
        self,
        settings: WeComSettings,
        http: httpx.AsyncClient | None = None,
        pool: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if settings.corp_id is None or settings.agent_id is None or settings.secret is None:
            raise ValueError(
                "the WeCom app is not configured (CRAFTDESK_WECOM__CORP_ID, __AGENT_ID, __SECRET)"
            )
        super().__init__(settings.api_base, http)
        self.corp_id = settings.corp_id
        self.agent_id = settings.agent_id
        self.secret = settings.secret
        self.tokens = TokenCache("wecom", f"{self.corp_id}:{self.agent_id}", self._fetch_token, pool, clock)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self.corp_id, "corpsecret": self.secret.get_secret_value()}
        return await self._token("/cgi-bin/gettoken", params, "CRAFTDESK_WECOM__SECRET and the IP allowlist")

    async def send_text_card(
        self, userids: Sequence[str], title: str, description: str, url: str, button: str = "详情"
    ) -> list[str]:
        """A text card (title, description, a link) to ``userids``; those WeCom did not know or
        may not reach (the rest got it). None reachable: ``RecipientUnreachable``. The
        description is plain text (escaped here: WeCom reads a few HTML tags in it)."""
        if not userids:
            raise ValueError("no WeCom user ids")
        body = {
            "touser": "|".join(userids),
            "msgtype": "textcard",
            "agentid": self.agent_id,
            "textcard": {
                "title": title,
                "description": html.escape(description, quote=False),
                "url": url,
                "btntxt": button,
            },
        }
        answer = await self._call("POST", "/cgi-bin/message/send", "wecom", body=body)
        invalid = str(answer.get("invaliduser") or "")
        return [userid for userid in invalid.split("|") if userid]
