"""A WeChat service account + WeCom API emulator: a Starlette app served by uvicorn on
127.0.0.1 (a free port) in a background thread, so the clients talk real HTTP to it.

It serves what craftdesk calls, answering as the platforms do (HTTP 200 with an ``errcode``):

- ``GET /cgi-bin/token`` (service account) and ``GET /cgi-bin/gettoken`` (WeCom): random
  tokens living ``expires_in`` seconds; ``expire_tokens()`` ends them all (then 42001).
- ``GET /connect/oauth2/authorize``: the silent OAuth page, redirecting to
  ``redirect_uri?code=&state=`` for ``current_openid`` (None: 403, as outside WeChat);
  ``authorize(openid)`` mints a code directly. ``GET /sns/oauth2/access_token`` exchanges a
  code once (unknown: 40029, used: 40163).
- ``POST /cgi-bin/message/template/send``, ``/cgi-bin/message/subscribe/bizsend`` and WeCom's
  ``/cgi-bin/message/send``: every accepted message is kept in ``sent``; an openid in
  ``unsubscribed`` gets 43004 (template) or 43101 (subscribe); WeCom user ids in
  ``unknown_userids`` come back in ``invaliduser`` (all of them: 81013).
- ``fail(n, status)``: the next n calls answer that HTTP status; ``rate_limit(n)``: 45009;
  ``refuse_all_tokens``: every message call answers 40001.

``calls`` counts the calls per path. The state is guarded by a lock (the server thread writes,
the test thread reads); ``reset()`` between tests.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

APP_ID = "wxemulatorapp0001"
APP_SECRET = "mp-secret-0123456789abcdef0123456789"
CORP_ID = "wwemulatorcorp001"
CORP_SECRET = "wecom-secret-0123456789abcdef012345"
AGENT_ID = 1000002


def ok(**fields: Any) -> JSONResponse:
    return JSONResponse({"errcode": 0, "errmsg": "ok", **fields})


def error(errcode: int, errmsg: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(6)}"})


class WeChatEmulator:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""
        self.reset()

    # ---- what the tests set and read ---------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.expires_in = 7200
            self.tokens: dict[str, tuple[str, float]] = {}  # token -> (kind, expires at)
            self.codes: dict[str, str] = {}  # code -> openid
            self.used_codes: set[str] = set()
            self.current_openid: str | None = None
            self.oauth_host: str | None = None  # the account's 网页授权域名; None: any
            self.unsubscribed: set[str] = set()
            self.unknown_userids: set[str] = set()
            self.failures: list[int] = []  # HTTP statuses of the next calls
            self.rate_limited = 0
            self.refuse_all_tokens = False  # every token refused (40001), fresh ones too
            self.sent: list[dict[str, Any]] = []
            self.client_msg_ids: dict[tuple[str, str], int] = {}
            self.calls: Counter[str] = Counter()
            self.js_ticket = f"jsapi-{secrets.token_hex(12)}"  # the JS-SDK ticket getticket gives

    def authorize(self, openid: str) -> str:
        """A code as WeChat gives a page after the silent OAuth of ``openid``."""
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = openid
        return code

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {token: (kind, 0.0) for token, (kind, _) in self.tokens.items()}

    def fail(self, count: int = 1, status: int = 502) -> None:
        with self.lock:
            self.failures += [status] * count

    def rate_limit(self, count: int = 1) -> None:
        with self.lock:
            self.rate_limited += count

    def messages(self, api: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(message) for message in self.sent if api is None or message["api"] == api]

    # ---- the server ------------------------------------------------------------------------

    def start(self, timeout: float = 10) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app(),
            log_config=None,
            access_log=False,
            ws="none",
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=1,  # a client's idle keep-alive connection must not hold the stop
        )
        self.server = uvicorn.Server(config)
        server = self.server
        self.thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), name="wechat-emulator", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the WeChat emulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/cgi-bin/token", self._token, methods=["GET"]),
                Route("/cgi-bin/gettoken", self._gettoken, methods=["GET"]),
                Route("/cgi-bin/ticket/getticket", self._js_ticket, methods=["GET"]),
                Route("/connect/oauth2/authorize", self._authorize_page, methods=["GET"]),
                Route("/sns/oauth2/access_token", self._code_exchange, methods=["GET"]),
                Route("/cgi-bin/message/template/send", self._template, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/bizsend", self._subscribe, methods=["POST"]),
                Route("/cgi-bin/message/send", self._wecom_send, methods=["POST"]),
            ]
        )

    # ---- endpoints -----------------------------------------------------------------------------

    def _injected(self, request: Request) -> Response | None:
        """Count the call; a failure or rate limit the test asked for."""
        with self.lock:
            self.calls[request.url.path] += 1
            if self.failures:
                return PlainTextResponse("Bad Gateway", status_code=self.failures.pop(0))
            if self.rate_limited:
                self.rate_limited -= 1
                return error(45009, "reach max api daily quota limit")
        return None

    def _issue(self, kind: str) -> JSONResponse:
        token = f"{kind}-{secrets.token_urlsafe(24)}"
        with self.lock:
            self.tokens[token] = (kind, time.monotonic() + self.expires_in)
            expires_in = self.expires_in
        return JSONResponse({"access_token": token, "expires_in": expires_in})

    async def _token(self, request: Request) -> Response:
        if injected := self._injected(request):
            return injected
        query = request.query_params
        if query.get("grant_type") != "client_credential":
            return error(40002, "invalid grant_type")
        if query.get("appid") != APP_ID:
            return error(40013, "invalid appid")
        if query.get("secret") != APP_SECRET:
            return error(40001, "invalid credential, access_token is invalid or not latest")
        return self._issue("mp")

    async def _gettoken(self, request: Request) -> Response:
        if injected := self._injected(request):
            return injected
        query = request.query_params
        if query.get("corpid") != CORP_ID:
            return error(40013, "invalid corpid")
        if query.get("corpsecret") != CORP_SECRET:
            return error(40001, "invalid secret")
        return self._issue("wecom")

    async def _js_ticket(self, request: Request) -> Response:
        """The JS-SDK's jsapi_ticket (``GET /cgi-bin/ticket/getticket?type=jsapi``)."""
        if injected := self._injected(request):
            return injected
        if problem := self._check_token(request, "mp"):
            return problem
        if request.query_params.get("type") != "jsapi":
            return error(40097, "invalid args")
        return JSONResponse({"errcode": 0, "errmsg": "ok", "ticket": self.js_ticket, "expires_in": 7200})

    def _check_token(self, request: Request, kind: str) -> Response | None:
        token = request.query_params.get("access_token", "")
        with self.lock:
            found = self.tokens.get(token)
        if self.refuse_all_tokens:
            return error(40001, "invalid credential, access_token is invalid or not latest")
        if found is None or found[0] != kind:
            return error(40014, "invalid access_token")
        if found[1] <= time.monotonic():
            return error(42001, "access_token expired")
        return None

    async def _authorize_page(self, request: Request) -> Response:
        query = request.query_params
        if query.get("appid") != APP_ID:
            return PlainTextResponse("appid 参数错误", status_code=400)
        redirect_uri = query.get("redirect_uri", "")
        host = urlsplit(redirect_uri).hostname
        if not redirect_uri or (self.oauth_host is not None and host != self.oauth_host):
            return PlainTextResponse("redirect_uri 参数错误 (10003)", status_code=400)
        if query.get("response_type") != "code" or query.get("scope") not in (
            "snsapi_base",
            "snsapi_userinfo",
        ):
            return PlainTextResponse("scope 参数错误", status_code=400)
        if self.current_openid is None:
            return PlainTextResponse("请在微信客户端打开链接", status_code=403)
        code = self.authorize(self.current_openid)
        joiner = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(
            f"{redirect_uri}{joiner}{urlencode({'code': code, 'state': query.get('state', '')})}",
            status_code=302,
        )

    async def _code_exchange(self, request: Request) -> Response:
        if injected := self._injected(request):
            return injected
        query = request.query_params
        if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
            return error(40125, "invalid appsecret")
        if query.get("grant_type") != "authorization_code":
            return error(40002, "invalid grant_type")
        code = query.get("code", "")
        with self.lock:
            if code in self.used_codes:
                return error(40163, "code been used")
            openid = self.codes.pop(code, None)
            if openid is None:
                return error(40029, "invalid code")
            self.used_codes.add(code)
        return JSONResponse(
            {
                "access_token": f"sns-{secrets.token_urlsafe(16)}",
                "expires_in": 7200,
                "refresh_token": f"sns-refresh-{secrets.token_urlsafe(16)}",
                "openid": openid,
                "scope": "snsapi_base",
            }
        )

    async def _body(self, request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _template(self, request: Request) -> Response:
        if refused := self._injected(request) or self._check_token(request, "mp"):
            return refused
        body = await self._body(request)
        if body is None:
            return error(47001, "data format error")
        if not body.get("template_id"):
            return error(40037, "invalid template_id")
        openid = str(body.get("touser") or "")
        if not openid:
            return error(40003, "invalid openid")
        with self.lock:
            if openid in self.unsubscribed:
                return error(43004, "require subscribe")
            key = (openid, str(body.get("client_msg_id") or ""))
            if key[1] and key in self.client_msg_ids:
                return ok(msgid=self.client_msg_ids[key])  # sent once per openid and client_msg_id
            msgid = len(self.sent) + 1
            if key[1]:
                self.client_msg_ids[key] = msgid
            self.sent.append({"api": "template", "msgid": msgid, **body})
        return ok(msgid=msgid)

    async def _subscribe(self, request: Request) -> Response:
        if refused := self._injected(request) or self._check_token(request, "mp"):
            return refused
        body = await self._body(request)
        if body is None:
            return error(47001, "data format error")
        if not body.get("template_id"):
            return error(40037, "invalid template_id")
        with self.lock:
            if body.get("touser") in self.unsubscribed:
                return error(43101, "user refuse to accept the msg")
            self.sent.append({"api": "subscribe", **body})
        return ok()

    async def _wecom_send(self, request: Request) -> Response:
        if refused := self._injected(request) or self._check_token(request, "wecom"):
            return refused
        body = await self._body(request)
        if body is None:
            return error(47001, "data format error")
        if body.get("agentid") != AGENT_ID:
            return error(40056, "invalid agentid")
        if body.get("msgtype") not in ("text", "textcard", "markdown"):
            return error(40008, "invalid message type")
        userids = [userid for userid in str(body.get("touser") or "").split("|") if userid]
        with self.lock:
            invalid = [userid for userid in userids if userid in self.unknown_userids]
            if len(invalid) == len(userids):
                return error(81013, "user & party & tag all invalid")
            self.sent.append(
                {"api": "wecom", "delivered_to": [u for u in userids if u not in invalid], **body}
            )
        return ok(invaliduser="|".join(invalid), msgid=f"msg-{len(self.sent)}")
