"""The admin token: generated into the data dir when not set, the same for every part of a
process; wrong bearer tokens are throttled per address so it cannot be guessed online."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from bot.admin_token import admin_token_path, resolve_admin_token
from bot.settings import PLACEHOLDER_ADMIN_TOKEN, Settings
from knowledge.errors import InvalidInputError
from tests.utils.auth import ADMIN, ADMIN_TOKEN
from tests.utils.http import FakeTime, budget, client_from, limits_on


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_first_start_writes_a_private_token_file(settings: Settings, caplog: pytest.LogCaptureFixture):
    unset = settings.model_copy(update={"admin_token": None})
    path = admin_token_path(unset)
    with caplog.at_level(logging.WARNING, logger="bot.admin_token"):
        token = resolve_admin_token(unset).get_secret_value()
    assert len(token) >= 43 and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert str(path.resolve()) in caplog.text and token not in caplog.text
    assert list(path.parent.glob(".admin-token*")) == []  # no temporary file left behind

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="bot.admin_token"):
        assert resolve_admin_token(unset).get_secret_value() == token  # later starts read it
    assert caplog.records == []


def test_a_set_token_wins_and_no_file_is_written(settings: Settings):
    assert resolve_admin_token(settings).get_secret_value() == ADMIN_TOKEN
    assert not admin_token_path(settings).exists()


@pytest.mark.parametrize("content", [PLACEHOLDER_ADMIN_TOKEN, "short", ""])
def test_a_weak_token_file_is_refused(settings: Settings, content: str):
    unset = settings.model_copy(update={"admin_token": None})
    admin_token_path(unset).parent.mkdir(parents=True)
    admin_token_path(unset).write_text(content)
    with pytest.raises(InvalidInputError, match="admin-token: the admin token must be at least 16"):
        resolve_admin_token(unset)


class TestGeneratedTokenInTheApp:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"admin_token": None})

    async def test_the_app_takes_the_generated_token_only(self, context, client):
        token = admin_token_path(context.settings).read_text().strip()
        assert context.settings.admin_token.get_secret_value() == token
        assert (await client.get("/api/admin/stats", headers=bearer(token))).status_code == 200
        refused = await client.get("/api/admin/stats", headers=bearer(PLACEHOLDER_ADMIN_TOKEN))
        assert refused.status_code == 401


async def test_wrong_tokens_are_throttled_per_address(context, monkeypatch: pytest.MonkeyPatch):
    clock = FakeTime()
    limits_on(monkeypatch, clock)
    limits = context.limits | {"auth_failures": budget("auth_failures", 10, clock)}
    async with (
        client_from(context, "198.51.100.7", limits) as guesser,
        client_from(context, "203.0.113.9", limits) as admin,
    ):
        for _ in range(30):  # successful calls are not counted
            assert (await guesser.get("/api/admin/stats", headers=ADMIN)).status_code == 200
        codes = []
        for n, path in enumerate(["/api/admin/stats", "/api/expert/tickets"] * 5):
            codes.append((await guesser.get(path, headers=bearer(f"guess-{n:020d}"))).status_code)
            clock.advance(1)  # a guess a second
        assert codes == [401] * 10  # admin and expert guesses share one budget

        clock.advance(0.5)  # 10.5 s after the first guess
        throttled = await guesser.get("/api/admin/stats", headers=ADMIN)  # even the right one
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "50"
        assert "wrong tokens" in throttled.json()["detail"]
        assert (await admin.get("/api/admin/stats", headers=ADMIN)).status_code == 200

        clock.advance(49)
        assert (await guesser.get("/api/admin/stats", headers=ADMIN)).status_code == 429
        clock.advance(1)  # the first guess has left the minute: one failure forgiven
        assert (await guesser.get("/api/admin/stats", headers=ADMIN)).status_code == 200
        assert (await guesser.get("/api/admin/stats", headers=bearer("x" * 20))).status_code == 401
        assert (await guesser.get("/api/admin/stats", headers=ADMIN)).status_code == 429
