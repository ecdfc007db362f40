"""Several instances starting at once on one PostgreSQL: one migrates, the others wait for it
(an advisory lock around the upgrade, knowledge/db.py), then all find the schema at head.

The upgrades run in separate processes, as instances do: Alembic keeps its migration context in
module globals, so two upgrades in one process would trip over each other whatever the database
does."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from knowledge.db import alembic_config, make_engine
from knowledge.models import Base
from tests.conftest import REPO
from tests.utils.postgres import create_database

UPGRADE = "import asyncio, sys; from knowledge.db import make_engine, migrate; " + (
    "engine = make_engine(sys.argv[1]); asyncio.run(migrate(engine)); print('migrated')"
)


@pytest.mark.postgres
async def test_concurrent_upgrades_of_an_empty_database_all_return_at_head(postgres_base_url: str) -> None:
    url = await create_database(postgres_base_url, f"t_{uuid.uuid4().hex[:12]}")
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in upgrades]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(upgrades, outputs, strict=True)] == [
        (0, "migrated")
    ] * 3, [err.strip().splitlines()[-1:] for _, err in outputs]

    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            revision, drift = await connection.run_sync(
                lambda sync: (
                    MigrationContext.configure(sync).get_current_revision(),
                    compare_metadata(MigrationContext.configure(sync), Base.metadata),
                )
            )
    finally:
        await engine.dispose()
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert drift == [], f"models and migrated schema differ: {drift}"
