"""The WeChat and WeCom settings: read from the environment, off until complete, a half-set
app refused at start."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from bot.settings import Settings, WeChatSettings, WeComSettings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("CRAFTDESK_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_both_are_off_by_default(env):
    settings = Settings(env="test", database_url="sqlite+aiosqlite:///:memory:")
    assert not settings.wechat.enabled and not settings.wecom.enabled and not settings.wecom.callback_enabled
    assert settings.wechat.api_base == "https://api.weixin.qq.com"
    assert settings.wecom.api_base == "https://qyapi.weixin.qq.com"


def test_read_from_the_environment(env):
    env.setenv("CRAFTDESK_WECHAT__APP_ID", "wx123")
    env.setenv("CRAFTDESK_WECHAT__APP_SECRET", "mp-secret")
    env.setenv("CRAFTDESK_WECHAT__API_BASE", "http://127.0.0.1:9/")
    env.setenv("CRAFTDESK_WECHAT__ANSWER_TEMPLATE_ID", "tpl-a")
    env.setenv("CRAFTDESK_WECOM__CORP_ID", "ww123")
    env.setenv("CRAFTDESK_WECOM__AGENT_ID", "1000002")
    env.setenv("CRAFTDESK_WECOM__SECRET", "wecom-secret")
    settings = Settings(env="test", database_url="sqlite+aiosqlite:///:memory:")
    assert settings.wechat.enabled and settings.wechat.app_secret is not None
    assert settings.wechat.app_secret.get_secret_value() == "mp-secret"
    assert "mp-secret" not in repr(settings.wechat)
    assert settings.wechat.api_base == "http://127.0.0.1:9" and settings.wechat.answer_template_id == "tpl-a"
    assert settings.wecom.enabled and settings.wecom.agent_id == 1000002
    assert not settings.wecom.callback_enabled


def test_a_half_configured_app_is_refused():
    with pytest.raises(ValidationError, match="app secret"):
        WeChatSettings(app_id="wx123")
    with pytest.raises(ValidationError, match="together"):
        WeComSettings(corp_id="ww123", agent_id=1000002)
