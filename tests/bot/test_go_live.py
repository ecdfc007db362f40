"""Going live: no demo knowledge unless asked for, QR codes refused while the public URL is one
phones cannot open (unless confirmed as an intranet's), and the tab icon."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.context import EMPTY_HINT, open_context, prepare_knowledge
from bot.service.qr import check_printable, local_address
from bot.settings import Settings
from knowledge.errors import ConflictError
from knowledge.models import Expert, Site
from tests.utils.auth import ADMIN
from tests.utils.demo import DEMO_EXPERTS, DEMO_SITES
from tests.utils.http import client_from


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


async def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# ---- the demo knowledge ---------------------------------------------------------------------


def test_the_demo_is_opt_in(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY", raising=False)
    assert Settings().import_demo_when_empty is False
    monkeypatch.setenv("CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY", "true")
    assert Settings().import_demo_when_empty is True


@pytest.mark.parametrize("env", ["development", "production"])
async def test_an_empty_database_stays_empty_and_says_how_to_fill_it(
    settings: Settings, sessions, env: str, caplog: pytest.LogCaptureFixture
):
    production = settings.model_copy(update={"env": env, "import_demo_when_empty": False})
    with caplog.at_level(logging.WARNING, logger="bot.context"):
        assert await prepare_knowledge(production, sessions) is False
    assert await count(sessions, Expert) == 0 and await count(sessions, Site) == 0
    assert EMPTY_HINT in caplog.text
    assert (
        "scripts/import_knowledge.py" in EMPTY_HINT and "CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY=true" in EMPTY_HINT
    )


async def test_the_demo_when_asked_for_and_only_into_an_empty_database(
    settings: Settings, sessions, caplog: pytest.LogCaptureFixture
):
    asked = settings.model_copy(update={"env": "production", "import_demo_when_empty": True})
    with caplog.at_level(logging.WARNING, logger="bot.context"):
        assert await prepare_knowledge(asked, sessions) is True
    assert await count(sessions, Expert) == DEMO_EXPERTS and await count(sessions, Site) == DEMO_SITES
    assert "made-up experts" in caplog.text  # production was told what it asked for
    caplog.clear()
    assert await prepare_knowledge(asked, sessions) is False  # not empty: nothing imported again
    off = settings.model_copy(update={"import_demo_when_empty": False})
    with caplog.at_level(logging.WARNING, logger="bot.context"):
        assert await prepare_knowledge(off, sessions) is False
    assert EMPTY_HINT not in caplog.text  # a filled database is not warned about


async def test_a_started_service_without_the_setting_has_no_demo(
    settings: Settings, encoder, caplog: pytest.LogCaptureFixture
):
    """The whole start (as `python -m bot` in production): no experts, so no ticket goes to a
    demo expert; the log says how to import the real knowledge."""
    production = settings.model_copy(update={"env": "production", "import_demo_when_empty": False})
    with caplog.at_level(logging.WARNING, logger="bot.context"):
        async with open_context(production, encoder=encoder) as context:
            assert await count(context.sessions, Expert) == 0
    assert "scripts/import_knowledge.py" in caplog.text


# ---- QR codes and the public URL --------------------------------------------------------------


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://127.0.0.1:8000", "loopback"),
        ("http://localhost:8000", "localhost"),
        ("http://LOCALHOST.", "localhost"),
        ("http://[::1]:8000", "loopback"),
        ("http://[::ffff:127.0.0.1]", "loopback"),
        ("http://10.2.3.4", "private"),
        ("http://172.16.0.9", "private"),
        ("http://192.168.1.20:8080", "private"),
        ("http://169.254.10.1", "link-local"),
        ("http://[fe80::1]", "link-local"),
        ("http://[fd00::5]", "private"),
        ("http://0.0.0.0:8000", "unspecified"),
        ("http://100.64.0.1", "not a public"),  # carrier-grade NAT: not private, not global
        ("https://help.example.org", None),
        ("https://craftdesk", None),  # a hostname: its DNS is the operator's business
        ("https://8.8.8.8", None),
        ("https://[2001:4860:4860::8888]", None),
    ],
)
def test_which_public_urls_phones_cannot_open(url: str, problem: str | None):
    found = local_address(url)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_check_printable_says_how_to_confirm():
    check_printable("https://help.example.org", intranet=False)
    check_printable("http://127.0.0.1:8000", intranet=True)
    with pytest.raises(ConflictError, match="CRAFTDESK_PUBLIC_URL.*--intranet") as refused:
        check_printable("http://192.168.1.20", intranet=False, confirm_with="--intranet")
    assert "二维码地址 http://192.168.1.20" in str(refused.value)  # Chinese first, then English


QR_PATHS = [
    "/api/admin/qr-sheet.pdf",
    "/api/admin/sites/xcmg-hv-3/qr.png",
    "/api/admin/sites/xcmg-hv-3/qr.svg",
]


async def test_qr_codes_of_a_loopback_url_are_refused_unless_confirmed(context):
    assert context.settings.public_url == "http://127.0.0.1:8000"  # the default, as never set
    async with client_from(context, "127.0.0.1") as client:
        for path in QR_PATHS:
            refused = await client.get(path, headers=ADMIN)
            assert refused.status_code == 409, path
            detail = refused.json()["detail"]
            assert "http://127.0.0.1:8000" in detail and "工人的手机" in detail
            assert "a loopback address" in detail and "intranet=true" in detail
            confirmed = await client.get(path, headers=ADMIN, params={"intranet": "true"})
            assert confirmed.status_code == 200, path
        # an unknown site is still a 404, not a question about the address
        unknown = await client.get("/api/admin/sites/nope/qr.png", headers=ADMIN)
        assert unknown.status_code == 404
        sheet = await client.get("/api/admin/qr-sheet.pdf", headers=ADMIN, params={"site": "nope"})
        assert sheet.status_code == 404
        state = (await client.get("/api/admin/public-url", headers=ADMIN)).json()
        assert state["local"] is True and state["intranet"] is False and "intranet=true" in state["detail"]
        assert (await client.get("/api/admin/public-url")).status_code == 401


async def test_a_public_url_or_a_declared_intranet_prints_without_asking(context):
    public = context.settings.model_copy(update={"public_url": "https://help.example.org"})
    async with client_from(context, "127.0.0.1", settings=public) as client:
        for path in QR_PATHS:
            assert (await client.get(path, headers=ADMIN)).status_code == 200, path
        state = (await client.get("/api/admin/public-url", headers=ADMIN)).json()
        assert state == {
            "public_url": "https://help.example.org",
            "local": False,
            "intranet": False,
            "detail": None,
        }
        sheet = await client.get(
            "/api/admin/qr-sheet.pdf", headers=ADMIN, params={"site": ["xk-qishan-belt", "xcmg-hv-3"]}
        )
        assert sheet.status_code == 200 and b"/Count 1" in sheet.content  # the chosen sites only
    intranet = context.settings.model_copy(
        update={"public_url": "http://192.168.10.5:8000", "public_url_intranet": True}
    )
    async with client_from(context, "127.0.0.1", settings=intranet) as client:
        for path in QR_PATHS:
            assert (await client.get(path, headers=ADMIN)).status_code == 200, path
        state = (await client.get("/api/admin/public-url", headers=ADMIN)).json()
        assert state["local"] is True and state["intranet"] is True and state["detail"] is None


# ---- the tab icon -----------------------------------------------------------------------------


async def test_the_favicon_is_served_and_linked(client):
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.lstrip().startswith(b"<svg") and "max-age" in icon.headers["cache-control"]
    for path in ("/", "/admin", "/expert", "/c/xcmg-hv-3"):
        page = (await client.get(path)).text
        assert 'rel="icon" href="/static/favicon.svg?v=' in page, path
    linked = await client.get("/static/favicon.svg")
    assert linked.status_code == 200 and linked.content == icon.content
