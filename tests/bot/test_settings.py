from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import PLACEHOLDER_ADMIN_TOKEN, Settings


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("CRAFTDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRAFTDESK_ADMIN_TOKEN", "s3cret-admin-token-0123")
    monkeypatch.setenv("CRAFTDESK_PUBLIC_URL", "https://help.example.org/")
    monkeypatch.setenv("CRAFTDESK_RETRIEVAL__SUGGEST_THRESHOLD", "0.8")
    settings = Settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.admin_token.get_secret_value() == "s3cret-admin-token-0123"
    assert "s3cret" not in repr(settings)
    assert settings.public_url == "https://help.example.org"
    assert settings.retrieval.suggest_threshold == 0.8
    assert settings.db_url == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'craftdesk.db').resolve()}"


def test_database_url_overrides_the_sqlite_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1/craftdesk")
    assert Settings().db_url == "postgresql+asyncpg://u:p@127.0.0.1/craftdesk"


@pytest.mark.parametrize("env", ["development", "test", "production"])
@pytest.mark.parametrize("token", [PLACEHOLDER_ADMIN_TOKEN, "too-short-0123"])
def test_weak_admin_token_is_refused_everywhere(monkeypatch: pytest.MonkeyPatch, env: str, token: str):
    monkeypatch.setenv("CRAFTDESK_ENV", env)
    monkeypatch.setenv("CRAFTDESK_ADMIN_TOKEN", token)
    with pytest.raises(ValidationError, match="(?s)admin_token.*at least 16 characters"):
        Settings()


def test_admin_token_is_optional(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CRAFTDESK_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("CRAFTDESK_ENV", "production")
    assert Settings().admin_token is None  # generated at start: see test_admin_token.py


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_RATE_LIMIT__TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16,fd00::/8")
    assert Settings().rate_limit.trusted_proxies == ["10.0.0.1/32", "192.168.0.0/16", "fd00::/8"]
    monkeypatch.setenv("CRAFTDESK_RATE_LIMIT__TRUSTED_PROXIES", '["10.0.0.1"]')
    assert Settings().rate_limit.trusted_proxies == ["10.0.0.1/32"]
    monkeypatch.setenv("CRAFTDESK_RATE_LIMIT__TRUSTED_PROXIES", "10.0.0.1,proxy.local")
    with pytest.raises(ValidationError, match="not an IP address or network.*proxy.local"):
        Settings()


def test_bad_value_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRAFTDESK_RETRIEVAL__SUGGEST_THRESHOLD", "2")
    with pytest.raises(ValidationError, match="suggest_threshold"):
        Settings()


@pytest.mark.parametrize(
    "given, kept",
    [("@craftdesk_bot", "craftdesk_bot"), (" craftdesk_bot ", "craftdesk_bot"), ("@", None), ("", None)],
)
def test_the_bot_username_is_kept_bare(given: str, kept: str | None):
    """One place drops the "@" people paste with the name; links and QR codes use the bare name."""
    from bot.settings import TelegramSettings

    assert TelegramSettings(bot_username=given).bot_username == kept
