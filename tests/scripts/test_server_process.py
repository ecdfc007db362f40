"""The server as `make run` starts it, and the rebuild script beside it: real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODEL_CACHE, REPO
from tests.utils.demo import DEMO_CASES, DEMO_EXPERTS
from tests.utils.net import free_port


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = 240) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("server did not become healthy")


@pytest.mark.slow
def test_server_serves_demo_and_follows_the_rebuild_script(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env |= {
        "CRAFTDESK_DATA_DIR": str(tmp_path / "var"),
        "CRAFTDESK_MODEL_CACHE": str(MODEL_CACHE),
        "CRAFTDESK_INDEX_POLL_SECONDS": "0.2",
        "CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY": "true",  # as `make run` sets it
    }
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        health = wait_healthy(url, server)
        assert (
            health["status"] == "ok" and health["cases"] == DEMO_CASES and health["experts"] == DEMO_EXPERTS
        )
        assert "openapi" in httpx.get(f"{url}/openapi.json").json()
        asked = httpx.post(f"{url}/api/ask", json={"text": "变频器加速的时候报Err05"}, timeout=30).json()
        assert asked["suggestions"][0]["case_id"] == "K010"

        rebuilt = subprocess.run(
            [sys.executable, "scripts/rebuild_index.py"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        new_version = rebuilt.stdout.strip().splitlines()[-1].split()[1].rstrip(":")
        assert new_version != health["index_version"]
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/healthz").json()["index_version"] != new_version:
            assert time.monotonic() < deadline, "server did not pick up the new index"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "building the search index before serving: no index yet" in text and "serving index" in text
