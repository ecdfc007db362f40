"""scripts/report.py as an admin runs it: a real process on a SQLite file holding the
hand-counted data set (tests/utils/report_data.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.runtime import database
from bot.settings import Settings
from tests.conftest import REPO
from tests.utils.report_data import seed_report

PERIOD = ("--from", "2026-10-01", "--to", "2026-12-31")


def run_script(name: str, *args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        env=clean | {"CRAFTDESK_DATA_DIR": str(data_dir)} | env,
        timeout=120,
        cwd=REPO,
    )


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    async with database(Settings(env="test", data_dir=folder)) as (_, sessions):
        async with sessions() as session:
            await seed_report(session)
    return folder


async def test_the_table_and_the_json(data_dir: Path):
    text = run_script("report.py", *PERIOD, "--by", "county", data_dir=data_dir)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "服务成效报告 Report  2026-10-01 至 2026-12-31（Asia/Shanghai 时间）"
    figures = {line.split()[0]: line.split()[-1] for line in lines[3:24] if line.strip()}
    assert figures["帮扶服务（次）"] == "6" and figures["现场解决技术难题（个）"] == "1"
    assert figures["培训（人次）"] == "3" and figures["覆盖职工（人）"] == "51"
    assert any(line.split()[:2] == ["邳州市", "3"] for line in lines)  # the county rows
    assert any(line.split()[:2] == ["1.", "王师傅"] for line in lines)

    as_json = run_script("report.py", *PERIOD, "--format", "json", "--station", "ST2", data_dir=data_dir)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["scope"] == {"station_ids": ["ST2"], "regions": [], "sites": 2}
    assert report["totals"]["help_sessions"] == 3 and report["totals"]["workers_reached"] == 9

    out = data_dir / "q4.xlsx"
    workbook = run_script("report.py", *PERIOD, "--format", "xlsx", "--out", str(out), data_dir=data_dir)
    assert workbook.returncode == 0, workbook.stderr
    assert load_workbook(out)["汇总"]["B6"].value == 6  # 帮扶服务, the first figure


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path):
    for args, message in [
        (
            ("--from", "2026-10-32", "--to", "2026-12-31"),
            "argument --from: not a date: '2026-10-32' (expected YYYY-MM-DD)",
        ),
        (
            ("--from", "2025-01-01", "--to", "2026-12-31"),
            "argument --to: the period is 730 days long; at most 400",
        ),
        ((*PERIOD, "--format", "pdf"), "argument --out: needed for --format pdf"),
    ]:
        done = run_script("report.py", *args, data_dir=tmp_path / "var")
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines()[-1].endswith(message) and "Traceback" not in done.stderr
    helped = run_script("report.py", "--help", data_dir=tmp_path / "var")
    assert helped.returncode == 0 and "example: python scripts/report.py" in helped.stdout


async def test_an_unknown_station_or_time_zone_is_one_line_and_exit_1(data_dir: Path):
    unknown = run_script("report.py", *PERIOD, "--station", "nope", data_dir=data_dir)
    assert (
        unknown.returncode == 1 and unknown.stderr.splitlines()[-1] == "error: --station: no station 'nope'"
    )
    zone = run_script("report.py", *PERIOD, data_dir=data_dir, CRAFTDESK_REPORT_TIMEZONE="Mars/Olympus")
    assert (
        zone.returncode == 1 and "CRAFTDESK_REPORT_TIMEZONE" in zone.stderr and "Mars/Olympus" in zone.stderr
    )
