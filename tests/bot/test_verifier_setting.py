"""``use_verifier`` at start: off, the policy decides even with a verifier installed; on, the
installed verifier decides; on without a usable one, the service starts, says so in the log and
the policy decides. Over the real app, model, demo knowledge and the verifier trained once per
run (its thresholds rewritten so that it never suggests nor confirms: where it decides, a
question the policy suggests is routed)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.app import create_app
from bot.context import AppContext, open_context
from bot.settings import Settings
from retrieval.policy import RetrievalSettings
from retrieval.verifier import DIRNAME, MANIFEST_FILE, NEVER, VerifierManifest, save_verifier

QUESTION = "数控车床一开机就报SV0401，急停松开了复位也没用"  # the policy suggests K001

pytestmark = pytest.mark.slow


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


@pytest.fixture
def never_deciding(trained_verifier, tmp_path: Path) -> Path:
    """The trained verifier with thresholds above any probability."""
    folder = tmp_path / "never-deciding"
    shutil.copytree(trained_verifier.folder, folder)
    manifest = VerifierManifest.read(folder / MANIFEST_FILE)
    replace(manifest, suggest_threshold=NEVER, confirm_threshold=NEVER).write(folder / MANIFEST_FILE)
    return folder


@asynccontextmanager
async def serving(
    settings: Settings,
    encoder,
    demo_index_dir: Path,  # type: ignore[no-untyped-def]
    use_verifier: bool,
) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
    shutil.copytree(demo_index_dir, settings.index_dir, symlinks=True)
    settings = settings.model_copy(
        update={"import_demo_when_empty": True, "retrieval": RetrievalSettings(use_verifier=use_verifier)}
    )
    async with open_context(settings, encoder=encoder) as context:
        transport = httpx.ASGITransport(app=create_app(context.settings, context))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield context, client


async def decision(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/ask", json={"text": QUESTION})
    assert response.status_code == 200
    return response.json()["decision"]


@pytest.mark.parametrize(("use_verifier", "expected"), [(False, "suggest"), (True, "route")])
async def test_an_installed_verifier_decides_only_when_the_setting_is_on(
    settings: Settings,
    encoder,
    demo_index_dir: Path,
    never_deciding: Path,
    caplog: pytest.LogCaptureFixture,
    use_verifier: bool,
    expected: str,
):
    installed = save_verifier(never_deciding, settings.data_dir / DIRNAME)
    with caplog.at_level(logging.INFO, logger="bot.context"):
        async with serving(settings, encoder, demo_index_dir, use_verifier) as (context, client):
            assert await decision(client) == expected
            if use_verifier:
                assert context.retriever.verifier is not None
                assert context.retriever.verifier.version == installed.name
            else:
                assert context.retriever.verifier is None
    in_use = [r for r in caplog.records if r.getMessage() == "verifier decides suggest and confirm"]
    assert [getattr(r, "version", None) for r in in_use] == ([installed.name] if use_verifier else [])


async def test_without_an_installed_verifier_the_setting_on_leaves_the_policy_deciding(
    settings: Settings, encoder, demo_index_dir: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger="bot.context"):
        async with serving(settings, encoder, demo_index_dir, use_verifier=True) as (context, client):
            assert context.retriever.verifier is None
            assert await decision(client) == "suggest"
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "no usable verifier: the policy decides" in error.getMessage()
    assert error.path == str(settings.data_dir / DIRNAME)
    assert "incomplete" in error.error
