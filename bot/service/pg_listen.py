"""``LISTEN`` on a PostgreSQL channel, on a connection of its own (asyncpg), for the announcements
other instances make with ``NOTIFY`` (``pg_notify``) in the transaction of a change: a new index
version (``bot.service.index_store``), a changed ticket (``bot.service.ticket_events``).

A notification sent while the connection is down is lost: every user of a listener also polls
(its safety net), calls ``connect`` again now and then (a no-op while connected), and is told by
``on_connect`` when a connection (re)opens, to look at once for what it missed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def listen_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://...``) as asyncpg's own DSN."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """``LISTEN channel``, calling ``on_payload(payload)`` for each notification and
    ``on_connect()`` each time a connection opens; ``what`` names the announcements in the log."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_payload: Callable[[str], None],
        on_connect: Callable[[], None],
        what: str,
    ):
        self.dsn = dsn
        self.channel = channel
        self.on_payload = on_payload
        self.on_connect = on_connect
        self.what = what
        self.connection: Any = None
        self.down = False  # logged once per outage

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.is_closed()

    async def connect(self) -> None:
        """Open the connection unless it is open; a failure is logged once and left for the next
        call (the caller's polling covers the gap)."""
        if self.connected:
            return
        import asyncpg  # only here: a deployment on SQLite never loads it

        try:
            connection = await asyncpg.connect(self.dsn, timeout=5)
            await connection.add_listener(self.channel, self._notified)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            if not self.down:
                self.down = True
                log.warning("cannot LISTEN for %s; polling only", self.what, extra={"error": str(exc)})
            return
        self.connection, self.down = connection, False
        self.on_connect()  # announcements made while it was down: look now

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.on_payload(payload)

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close(timeout=5)
            self.connection = None
