"""The real app served by uvicorn on 127.0.0.1 in a background thread, for browser tests.

The thread has its own event loop and its own application context (sharing the test run's
encoder, so no second model load); the tests talk to it over real HTTP only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot.app import create_app
from bot.context import AppContext, open_context
from bot.settings import Settings
from retrieval.encoder import Encoder
from tests.utils.auth import ADMIN_TOKEN
from tests.utils.net import free_port


class _ServerThread(threading.Thread):
    def __init__(self, settings: Settings, encoder: Encoder | None, port: int):
        super().__init__(name="live-server", daemon=True)
        self.settings, self.encoder, self.port = settings, encoder, port
        self.server: uvicorn.Server | None = None
        self.context: AppContext | None = None
        self.failure: BaseException | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread, which raises it
            self.failure = exc
        finally:
            self.ready.set()

    async def _serve(self) -> None:
        async with open_context(self.settings, encoder=self.encoder) as context:
            self.context = context
            config = uvicorn.Config(
                create_app(self.settings, context),
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                ws="none",
                lifespan="on",
            )
            self.server = uvicorn.Server(config)
            serving = asyncio.create_task(self.server.serve())
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.05)
            self.ready.set()
            await serving


@contextmanager
def live_server(settings: Settings, encoder: Encoder | None, port: int) -> Iterator[AppContext]:
    """Serve ``settings`` (whose public_url should be this port's address) until the block ends."""
    thread = _ServerThread(settings, encoder, port)
    thread.start()
    thread.ready.wait(timeout=120)
    if thread.failure is not None or thread.context is None or thread.server is None:
        raise RuntimeError(f"the live server did not start: {thread.failure!r}")
    try:
        yield thread.context
    finally:
        thread.server.should_exit = True
        thread.join(timeout=30)


@dataclass
class LiveServer:
    url: str
    context: AppContext


@contextmanager
def demo_server(
    encoder: Encoder | None, demo_index_dir: Path, folder: Path, **settings: Any
) -> Iterator[LiveServer]:
    """A live server on the demo knowledge (SQLite in ``folder``, the demo index copied in, the
    test admin token), none of the caller's CRAFTDESK_ variables; ``settings`` added."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("CRAFTDESK_"):
                patch.delenv(name)
        served = Settings(
            env="test",
            data_dir=folder / "var",
            public_url=url,
            import_demo_when_empty=True,
            admin_token=ADMIN_TOKEN,
            database_url=f"sqlite+aiosqlite:///{folder / 'var' / 'craftdesk.db'}",
            **settings,
        )
    shutil.copytree(demo_index_dir, served.index_dir, symlinks=True)
    with live_server(served, encoder, port) as context:
        yield LiveServer(url, context)
