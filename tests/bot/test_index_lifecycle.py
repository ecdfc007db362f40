"""How the service lives with its index: first build, degraded start, swaps under load."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

import httpx
import pytest

from bot.app import create_app
from bot.context import open_context
from bot.settings import Settings
from retrieval.index import current_version
from retrieval.rebuild import rebuild_index
from tests.utils.demo import DEMO_CASES
from tests.utils.wait import eventually


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
def demo_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"import_demo_when_empty": True, "index_poll_seconds": 0.1})


def client_for(context) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(context.settings, context))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_fresh_install_builds_the_index_before_serving(demo_settings, encoder, caplog):
    caplog.set_level(logging.INFO)
    assert current_version(demo_settings.index_dir) is None
    async with open_context(demo_settings, encoder=encoder) as context:
        async with client_for(context) as client:
            health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["cases"] == DEMO_CASES
    assert health["index_version"] == current_version(demo_settings.index_dir)
    assert "no index yet" in caplog.text and "encoding knowledge" in caplog.text


def corrupt(index_dir: Path) -> None:
    (index_dir / "current" / "cases.faiss").write_bytes(b"\x00broken")


def rewrite_manifest(index_dir: Path, **changes: object) -> None:
    manifest = index_dir / "current" / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | changes))


def copy_index(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    for folder in (target / "versions").iterdir():  # do not damage the shared copy through a link
        assert not folder.is_symlink()


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"model_id": "BAAI/bge-small-zh@torch"}, "built with BAAI/bge-small-zh@torch"),
        ({"format": 1}, "format 1"),
    ],
)
async def test_index_of_another_model_or_format_is_rebuilt_at_start(
    demo_settings, encoder, demo_index_dir, changes, reason, caplog
):
    """Made by an older version of the code or for another model: rebuilt from the knowledge
    store before serving, instead of leaving every question routed."""
    caplog.set_level(logging.INFO)
    copy_index(demo_index_dir, demo_settings.index_dir)
    old = current_version(demo_settings.index_dir)
    rewrite_manifest(demo_settings.index_dir, **changes)
    async with open_context(demo_settings, encoder=encoder) as context:
        async with client_for(context) as client:
            health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["cases"] == DEMO_CASES
    assert health["index_version"] == current_version(demo_settings.index_dir) != old
    assert f"the index on disk is outdated: {reason}" in caplog.text


async def test_unusable_index_starts_degraded_and_routes(demo_settings, encoder, demo_index_dir, caplog):
    copy_index(demo_index_dir, demo_settings.index_dir)
    corrupt(demo_settings.index_dir)
    async with open_context(demo_settings, encoder=encoder) as context:
        async with client_for(context) as client:
            health = (await client.get("/healthz")).json()
            answer = await client.post(
                "/api/ask", json={"text": "挖掘机动臂自己往下掉", "site": "xcmg-exc-asm"}
            )
    assert health["status"] == "degraded" and health["index_version"] is None
    assert answer.status_code == 200
    body = answer.json()
    assert body["decision"] == "route" and body["suggestions"] == []
    assert len(body["experts"]) == 3
    assert "scripts/rebuild_index.py" in caplog.text


async def test_queries_never_fail_while_indexes_are_swapped(demo_settings, encoder, demo_index_dir):
    shutil.copytree(demo_index_dir, demo_settings.index_dir, symlinks=True)
    async with open_context(demo_settings, encoder=encoder) as context, client_for(context) as client:
        first = context.index.current.version
        seen: list[str] = []
        failures: list[str] = []
        stop = asyncio.Event()

        async def keep_asking() -> None:
            while not stop.is_set():
                response = await client.post("/api/ask", json={"text": "皮带机跑偏怎么调"})
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    seen.append(response.json()["index_version"])

        askers = [asyncio.create_task(keep_asking()) for _ in range(4)]
        built = []
        for _ in range(3):  # as the rebuild script would: another writer, the server follows
            built.append((await rebuild_index(context.sessions, encoder, demo_settings.index_dir)).version)

            async def swapped() -> bool:
                return context.index.current.version == built[-1]

            await eventually(swapped, timeout=5, what="the server followed the rebuild")

        async def answered_from_the_last() -> bool:
            # questions already being examined when the swap landed answer from the index they
            # started with; wait for one that started after it
            return bool(seen) and seen[-1] == built[-1]

        await eventually(answered_from_the_last, timeout=5, what="an answer from the last index")
        stop.set()
        await asyncio.gather(*askers)
    assert failures == []
    assert context.index.current.version == built[-1]
    assert seen[0] == first and seen[-1] == built[-1]
    assert set(seen) <= {first, *built}
