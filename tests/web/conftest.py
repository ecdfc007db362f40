"""Fixtures of the web tests: the live app on the demo knowledge, and headless Chromium.

Browser tests are plain (sync) tests driving Playwright's sync API; they run only where
Debian's Chromium is installed (``apt-get install chromium``) and are skipped, with that
reason, elsewhere. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete

from bot.settings import RateLimitSettings
from knowledge.db import make_engine, make_sessionmaker
from knowledge.models import Expert, Site
from tests.utils.auth import ADMIN_TOKEN
from tests.utils.live_server import LiveServer, demo_server
from tests.utils.wait import until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The web tests run on SQLite only: the database layer is tested on both elsewhere."""
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture(scope="session")
def live(encoder, demo_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the web tests: demo knowledge, SQLite, its own data dir, no rate limits."""
    with demo_server(
        encoder,
        demo_index_dir,
        tmp_path_factory.mktemp("live"),
        public_url_intranet=True,  # 127.0.0.1 on purpose: QR downloads need no confirmation
        rate_limit=RateLimitSettings(
            ask_per_minute=100_000, tickets_per_minute=100_000, messages_per_minute=100_000
        ),
    ) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A fresh phone-sized browser context (its own localStorage), Chinese locale."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def desktop(browser) -> Iterator[object]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context
    context.close()


def on_db(db_url: str, change: Callable[..., Awaitable[None]]) -> None:
    """Run ``change(session)`` on the live server's database, from a thread of its own
    (Playwright's sync API holds this thread's event loop)."""

    async def run() -> None:
        engine = make_engine(db_url)
        try:
            async with make_sessionmaker(engine)() as session:
                await change(session)
                await session.commit()
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def forget(live: LiveServer, experts: tuple[str, ...] = (), sites: tuple[str, ...] = ()) -> None:
    """The live server is shared: experts and sites a test added are removed again and the index
    rebuilt without them, so later tests (and the screenshots) see the demo roster."""

    async def remove(session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(delete(Expert).where(Expert.id.in_(experts)))
        await session.execute(delete(Site).where(Site.code.in_(sites)))

    on_db(live.context.settings.db_url, remove)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    httpx.post(f"{live.url}/api/admin/reindex", headers=admin).raise_for_status()
    state = lambda: httpx.get(f"{live.url}/api/admin/reindex", headers=admin).json()["state"]  # noqa: E731
    until(lambda: state() == "done", 120, "the rebuild")


def report_tiles(page: Page) -> dict[str, int]:
    """The headline figures of the 报告 tab, fetched anew by opening it, once the page shows them."""
    with page.expect_response(lambda r: "/api/admin/report?" in r.url) as fetched:
        page.click("#tabs [data-tab=report]")
    totals = fetched.value.json()["totals"]
    shown = {}
    for figure in ("help_sessions", "solved_onsite", "training_attendances", "workers_reached"):
        expect(page.locator(f"#report-tiles [data-figure={figure}] .tile-value")).to_have_text(
            str(totals[figure])
        )
        shown[figure] = totals[figure]
    return shown
