"""The admin calls for notifications given up on: list, retry one, retry all, the stats
figures, and the section of the admin page that shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from knowledge.models import OutboxEvent
from tests.utils.auth import ADMIN

WHEN = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def dead_rows(context, n: int) -> list[int]:
    async with context.sessions() as session:
        rows = [
            OutboxEvent(
                kind="assigned",
                ticket_id=f"T{i}",
                recipient="expert:E01",
                payload={},
                created_at=WHEN,
                attempts=35,
                dead_at=WHEN,
                last_error="TelegramNetworkError: HTTP Client says - timeout",
            )
            for i in range(n)
        ]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


async def test_dead_letters_listed_retried_and_delivered(client, context):
    first, second = await dead_rows(context, 2)
    listed = (await client.get("/api/admin/outbox/dead", headers=ADMIN)).json()
    assert listed[0] == {
        "id": first,
        "kind": "assigned",
        "ticket_id": "T0",
        "recipient": "expert:E01",
        "attempts": 35,
        "last_error": "TelegramNetworkError: HTTP Client says - timeout",
        "created_at": WHEN.isoformat(),
        "dead_at": WHEN.isoformat(),
    }
    assert [d["id"] for d in listed] == [first, second]
    stats = (await client.get("/api/admin/stats", headers=ADMIN)).json()
    assert stats["outbox"]["dead"] == 2

    retried = await client.post(f"/api/admin/outbox/{first}/retry", headers=ADMIN)
    assert retried.status_code == 200 and retried.json() == {"retried": 1}
    again = await client.post(f"/api/admin/outbox/{first}/retry", headers=ADMIN)
    assert again.status_code == 409 and "not a dead letter" in again.json()["detail"]
    missing = await client.post("/api/admin/outbox/999999/retry", headers=ADMIN)
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    assert [d["id"] for d in (await client.get("/api/admin/outbox/dead", headers=ADMIN)).json()] == [second]

    await context.outbox.deliver_pending()  # the next pass sends it (no channel: done at once)
    async with context.sessions() as session:
        event = await session.get(OutboxEvent, first)
        assert event.delivered_at is not None and event.dead_at is None and event.attempts == 0

    everything = await client.post("/api/admin/outbox/retry-dead", headers=ADMIN)
    assert everything.json() == {"retried": 1}
    assert (await client.get("/api/admin/outbox/dead", headers=ADMIN)).json() == []


async def test_only_admins(client, context):
    [eid] = await dead_rows(context, 1)
    for method, path in (
        ("GET", "/api/admin/outbox/dead"),
        ("POST", f"/api/admin/outbox/{eid}/retry"),
        ("POST", "/api/admin/outbox/retry-dead"),
    ):
        assert (await client.request(method, path)).status_code == 401
    async with context.sessions() as session:
        assert (await session.get(OutboxEvent, eid)).dead_at is not None


async def test_the_admin_page_has_the_section(client):
    page = (await client.get("/admin")).text
    assert 'id="dead-letters"' in page and "未送达通知" in page and "全部重试" in page
