"""The import/export scripts as an admin runs them: real processes, real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from knowledge.spreadsheet import read_spreadsheet
from tests.conftest import REPO
from tests.factories import case, expert, knowledge_folder, xlsx_bytes


def run_script(name: str, *args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env["CRAFTDESK_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )


def test_import_then_export_and_bad_file_exit_code(tmp_path: Path):
    data = tmp_path / "var"
    good = knowledge_folder(tmp_path / "good", experts=[expert("E01")], cases=[case("K001")])
    done = run_script("import_knowledge.py", str(good), data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "experts: 1 new" in done.stdout and "cases: 1 new" in done.stdout

    again = run_script("import_knowledge.py", str(good), data_dir=data)
    assert "experts: 0 new, 0 updated, 1 unchanged" in again.stdout

    bad = knowledge_folder(tmp_path / "bad", cases=[case("K002", expert_id="E404")])
    failed = run_script("import_knowledge.py", str(bad), data_dir=data)
    assert failed.returncode == 1
    assert "error: cases.jsonl:1: field 'expert_id': no expert with id 'E404'" in failed.stderr
    assert "Traceback" not in failed.stderr

    exported = run_script("export_knowledge.py", str(tmp_path / "out"), data_dir=data)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "cases.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_missing_folder_and_help(tmp_path: Path):
    missing = run_script("import_knowledge.py", str(tmp_path / "nope"), data_dir=tmp_path / "var")
    assert missing.returncode == 1 and "not a folder" in missing.stderr
    helped = run_script("import_knowledge.py", "--help", data_dir=tmp_path / "var")
    assert helped.returncode == 0 and "example:" in helped.stdout


def test_a_workbook_is_imported_and_the_knowledge_exported_as_one(tmp_path: Path):
    data = tmp_path / "var"
    roster = tmp_path / "roster.xlsx"
    roster.write_bytes(
        xlsx_bytes(
            {"专家": [["编号", "姓名", "专长"], ["E01", "王工", "焊接、切割"], ["E02", "李工", "钳工"]]}
        )
    )
    done = run_script("import_knowledge.py", str(roster), data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "experts: 2 new, 0 updated, 0 unchanged" in done.stdout
    assert "experts: 100%" in done.stderr  # the progress bar, as for a folder

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx_bytes({"专家": [["编号", "姓名", "专长", "在岗"], ["E03", "张工", "电工", "也许"]]}))
    failed = run_script("import_knowledge.py", str(bad), data_dir=data)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "error: bad.xlsx:专家:2:在岗 (active): not a yes/no value: '也许' (use 是 or 否)" in failed.stderr

    out = tmp_path / "out" / "knowledge.xlsx"
    exported = run_script("export_knowledge.py", "--format", "xlsx", str(out), data_dir=data)
    assert exported.returncode == 0, exported.stderr
    assert "experts: 2" in exported.stdout
    back = read_spreadsheet(out.read_bytes(), out.name)
    assert [record.skills for _, record in back.parsed["experts.jsonl"]] == [["焊接", "切割"], ["钳工"]]
    assert list(back.sheets) == [
        "teams.jsonl",
        "stations.jsonl",
        "experts.jsonl",
        "sites.jsonl",
        "cases.jsonl",
        "classes.jsonl",
    ]
