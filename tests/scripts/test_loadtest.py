"""scripts/loadtest.py as a process: a short load with a server kill, then its database checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODEL_CACHE, REPO


@pytest.mark.slow
def test_load_with_a_server_kill_loses_no_acknowledged_ticket(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    report = tmp_path / "report.md"
    # --allow-slow: the test asserts behaviour (answers, tickets, database), not wall time
    done = subprocess.run(
        [
            sys.executable,
            "scripts/loadtest.py",
            "--clients",
            "60",
            "--seconds",
            "20",
            "--kill-at",
            "8",
            "--encoder-seconds",
            "2",
            "--allow-slow",
            "--model-cache",
            str(MODEL_CACHE),
            "--data-dir",
            str(tmp_path / "var"),
            "--out",
            str(report),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    text = report.read_text(encoding="utf-8")
    assert text.strip() in done.stdout
    verified = re.search(r"^- tickets verified: (\d+)", text, re.MULTILINE)
    assert verified is not None and int(verified.group(1)) > 0
    assert re.search(r"^- tickets lost: 0$", text, re.MULTILINE)
    assert re.search(r"^- outage: SIGKILL at 8\.\d s, healthy again at", text, re.MULTILINE)
    assert text.rstrip().endswith("PASS")
