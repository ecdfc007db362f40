"""The ASGI edge: what every request passes before any route reads it.

- A body larger than its limit is refused with 413 as soon as that is known (from
  Content-Length, or while it streams in), never read whole first: a small limit for JSON, the
  photo limit for uploads.
- A path holding a control character or an undecodable byte is refused with 422 before a
  route passes it to the database (PostgreSQL refuses NUL; lone surrogates break the drivers).
- Every response carries ``X-Content-Type-Options: nosniff``: browsers then never run an
  uploaded file as something other than the type it is served as.
"""

from __future__ import annotations

import json
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
UPLOAD_PATHS = ("/photos",)  # the routes that take multipart uploads end so


def body_limit(scope: Scope) -> int:
    """The most bytes this request may carry."""
    if scope["path"].endswith(UPLOAD_PATHS):
        return MAX_PHOTO_BYTES + MULTIPART_OVERHEAD
    return MAX_JSON_BYTES


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {limit} bytes")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

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
        started = False

        async def send_marking_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        received = 0

        async def receive_counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        try:
            await self.app(scope, receive_counting, send_marking_start)
        except HTTPException as exc:  # raised while a body streamed in, outside any route
            if exc.status_code != 413 or started:
                raise
            await _reply(send, 413, exc.detail)


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
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
