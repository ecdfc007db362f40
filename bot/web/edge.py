"""The ASGI edge: what every request passes before any route reads it.

- A body larger than its limit is refused with 413 as soon as that is known (from
  Content-Length, or while it streams in), never read whole first: a small limit for JSON, the
  photo limit (10 MB) for uploads: photos and roster spreadsheets.
- A path holding a control character or an undecodable byte is refused with 422 before a
  route passes it to the database (PostgreSQL refuses NUL; lone surrogates break the drivers).
- Every response carries ``X-Content-Type-Options: nosniff``: browsers then never run an
  uploaded file as something other than the type it is served as.
- At most ``max_in_flight`` requests are worked on at once; the others wait their turn in
  arrival order. Under a shift-start rush (200 phones at once) the event loop then serves a
  few dozen requests quickly instead of all of them slowly: a write that holds the SQLite
  gate is not kept waiting behind hundreds of other requests' steps, throughput stays where it
  is at moderate load, and waits are shared fairly (first come, first served).
- Live-update streams (``GET /api/.../events``, server-sent events) take no turn: each stays
  open for minutes and would hold one all that time. Their own cap is
  ``CRAFTDESK_MAX_EVENT_STREAMS`` (``bot/web/routes/events.py``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from bot.service.photos import MAX_PHOTO_BYTES
from bot.service.validation import text_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_JSON_BYTES = 64 * 1024  # a 2000-character question, all escaped as \uXXXX, is ~12 KB
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, headers and a caption beside the photo
UPLOAD_PATHS = ("/photos", "/admin/import")  # the routes that take multipart uploads end so
STREAM_PATH = re.compile(r"^/api/.+/events$")  # the event streams (as nginx's location says)


def body_limit(scope: Scope) -> int:
    """The most bytes this request may carry."""
    if scope["path"].endswith(UPLOAD_PATHS):
        return MAX_PHOTO_BYTES + MULTIPART_OVERHEAD
    return MAX_JSON_BYTES


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {limit} bytes")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, max_in_flight: int = 32):
        self.app = app
        self.turns = asyncio.Semaphore(max_in_flight)  # FIFO: waiters are woken in order

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = text_problem(scope["path"], allow_line_breaks=False)
        if problem is None and "\ufffd" in scope["path"]:
            problem = "holds bytes that are not UTF-8"
        if problem is not None:
            await _reply(send, 422, f"path: {problem}")
            return
        limit = body_limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reply(send, 413, too_large(limit).detail)
            return
        send = _with_nosniff(send)
        if scope["method"] == "GET" and STREAM_PATH.match(scope["path"]):
            await self.app(scope, receive, send)  # open for minutes: no turn (see the docstring)
            return
        if limit > MAX_JSON_BYTES:
            # an upload streams through, counted, without a turn: a slow phone sending a photo
            # must not hold one; the photo routes check the caller before they read it
            await self._upload(scope, receive, send, limit)
            return
        # a small body is read whole before the turn is taken, so a slow sender never holds one
        body = await _read_body(receive, limit)
        if body is None:
            await _reply(send, 413, too_large(limit).detail)
            return
        async with self.turns:
            await self.app(scope, _replay(body, receive), send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def receive_counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        async def send_marking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_counting, send_marking)
        except HTTPException as exc:  # raised while the body streamed in, outside any route
            if exc.status_code != 413 or started:
                raise
            await _reply(send, 413, exc.detail)


def _with_nosniff(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                headers.append((b"x-content-type-options", b"nosniff"))
            message["headers"] = headers
        await send(message)

    return sending


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None past ``limit`` bytes (reading stops there)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, then the connection's own messages (a disconnect, for instance)."""
    sent = False

    async def receiving() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receiving


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
