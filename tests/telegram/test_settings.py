"""The Telegram section of the settings, and the short names of the deployment docs."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from bot.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CRAFTDESK_"):
            monkeypatch.delenv(name)


def test_off_without_a_token():
    telegram = Settings().telegram
    assert not telegram.enabled and telegram.api_base == "https://api.telegram.org"
    assert telegram.flood_per_minute == 20 and telegram.admin_ids == []


def test_the_short_names_of_the_issue(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_BOT_TOKEN", "123:secret-token")
    monkeypatch.setenv("CRAFTDESK_WEBHOOK_URL", "https://help.example.org/telegram/webhook")
    monkeypatch.setenv("CRAFTDESK_TELEGRAM_API_BASE", "http://127.0.0.1:8081")
    settings = Settings()
    telegram = settings.telegram
    assert telegram.enabled and telegram.bot_token.get_secret_value() == "123:secret-token"
    assert telegram.webhook_url == "https://help.example.org/telegram/webhook"
    assert telegram.api_base == "http://127.0.0.1:8081"
    assert "secret-token" not in repr(settings) and "secret-token" not in str(settings.model_dump())


def test_nested_names_win_and_lists_read_either_way(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_BOT_TOKEN", "1:flat")
    monkeypatch.setenv("CRAFTDESK_TELEGRAM__BOT_TOKEN", "2:nested")
    monkeypatch.setenv("CRAFTDESK_TELEGRAM__ADMIN_IDS", "11, 12")
    monkeypatch.setenv("CRAFTDESK_TELEGRAM__FLOOD_PER_MINUTE", "5")
    telegram = Settings().telegram
    assert telegram.bot_token.get_secret_value() == "2:nested"
    assert telegram.admin_ids == [11, 12] and telegram.flood_per_minute == 5
    monkeypatch.setenv("CRAFTDESK_TELEGRAM__ADMIN_IDS", "[13]")
    assert Settings().telegram.admin_ids == [13]


def test_the_webhook_secret_is_derived_the_same_way_everywhere(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_BOT_TOKEN", "1:abc")
    first, second = Settings().telegram.secret_token(), Settings().telegram.secret_token()
    assert first == second and "abc" not in first and len(first) == 64
    monkeypatch.setenv("CRAFTDESK_TELEGRAM__WEBHOOK_SECRET", "chosen-secret")
    assert Settings().telegram.secret_token() == "chosen-secret"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_TELEGRAM__ADMIN_IDS", "12,abc")
    with pytest.raises(ValidationError, match="admin_ids"):
        Settings()
