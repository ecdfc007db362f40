"""The silent OAuth of a worker inside WeChat (snsapi_base): the authorisation redirect, the
code exchange, and forged or replayed codes refused."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from bot.wechat.api import ServiceAccount
from bot.wechat.errors import InvalidCode
from tests.wechat import emulator as platform

PAGE = "https://help.example.org/c/lathe-3?lang=zh"


def test_the_oauth_url_asks_for_snsapi_base_in_the_order_wechat_wants(account: ServiceAccount, wechat):
    url = account.oauth_url(PAGE, "abc123")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{wechat.url}/connect/oauth2/authorize"
    assert parts.fragment == "wechat_redirect"
    assert parse_qsl(parts.query) == [
        ("appid", platform.APP_ID),
        ("redirect_uri", PAGE),
        ("response_type", "code"),
        ("scope", "snsapi_base"),
        ("state", "abc123"),
    ]
    with pytest.raises(ValueError, match="state"):
        account.oauth_url(PAGE, "not/allowed")


async def test_the_redirect_carries_a_code_that_names_the_worker_once(account: ServiceAccount, wechat):
    wechat.current_openid = "o-worker-1"
    async with httpx.AsyncClient() as browser:
        page = await browser.get(account.oauth_url(PAGE, "s1"))
    assert page.status_code == 302
    back = urlsplit(page.headers["location"])
    assert back._replace(query="").geturl() == PAGE.split("?")[0]
    query = parse_qs(back.query)
    assert query["state"] == ["s1"] and query["lang"] == ["zh"]
    code = query["code"][0]

    assert await account.openid_for_code(code) == "o-worker-1"
    with pytest.raises(InvalidCode) as replayed:
        await account.openid_for_code(code)
    assert replayed.value.errcode == 40163


async def test_outside_wechat_the_page_gets_no_code(account: ServiceAccount, wechat):
    async with httpx.AsyncClient() as browser:
        page = await browser.get(account.oauth_url(PAGE, "s1"))
    assert page.status_code == 403 and wechat.codes == {}


async def test_a_forged_code_is_refused(account: ServiceAccount, wechat):
    wechat.authorize("o-someone")
    for forged in ("0" * 32, "../../etc"):
        with pytest.raises(InvalidCode) as refused:
            await account.openid_for_code(forged)
        assert refused.value.errcode == 40029
    with pytest.raises(InvalidCode):
        await account.openid_for_code("")
    assert wechat.calls["/sns/oauth2/access_token"] == 2  # the empty one never left
