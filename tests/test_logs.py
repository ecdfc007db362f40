"""Log lines: user text cannot forge lines or fields, and bot tokens never reach the log."""

from __future__ import annotations

import io
import logging
import shlex
import traceback

import pytest

from bot.logs import KeyValueFormatter

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
SECRET = TOKEN.split(":")[1]


def emit(message: str, *args: object, exc: BaseException | None = None, **extra: object) -> str:
    """What one record looks like through the production formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    log = logging.Logger("craftdesk.test")  # standalone: nothing propagates to pytest's handlers
    log.addHandler(handler)
    log.error(message, *args, exc_info=exc, extra=extra)
    return stream.getvalue()


def fields(out: str, message: str) -> dict[str, str]:
    """The ``key=value`` pairs after ``message``, split the way a shell would split them."""
    pairs = out.rstrip("\n").split(f": {message} ", 1)[1]
    return dict(part.split("=", 1) for part in shlex.split(pairs))


@pytest.mark.parametrize(
    "path",
    [
        "/api/x\n2024-01-01 00:00:00,000 INFO bot: admin login user=root\r\x1b[2J\x85\u2028\u2029\x7f",
        "/api/x\nCRITICAL\x1cforged=1\x0bline\x85\u2028",  # no space: once written raw
    ],
)
def test_a_forged_path_stays_on_one_line_and_one_field(path: str):
    out = emit("unhandled error", path=path, status=500)
    assert len(out.splitlines()) == 1  # splitlines also breaks on \r, \x1c, \x85, \u2028...
    assert "/api/x\\n" in out and "\\u2028" in out
    assert fields(out, "unhandled error").keys() == {"path", "status"}
    assert fields(out, "unhandled error")["path"] == path.encode("unicode_escape").decode()


def test_values_that_could_split_are_quoted():
    out = emit("event", a="x y", b="k=v", c='say "hi"', d="", e=3, f="plain")
    assert ' a="x y" b="k=v" c="say \\"hi\\"" d="" e=3 f=plain' in out


def test_the_message_and_its_arguments_are_escaped_too():
    out = emit("GET %s", "/a\nERROR forged")
    assert out.count("\n") == 1 and "GET /a\\nERROR forged" in out


def test_a_traceback_keeps_its_own_lines():
    try:
        raise ValueError("boom")
    except ValueError as exc:
        out = emit("failed", exc=exc)
    assert "\nTraceback (most recent call last):\n" in out and "ValueError: boom" in out


def test_tokens_are_masked_in_message_fields_and_exceptions():
    url = f"https://api.telegram.org/file/bot{TOKEN}/photos/file_1.jpg"
    try:
        raise RuntimeError(f"404, message='Not Found', url='{url}'")
    except RuntimeError as exc:
        out = emit(
            "download of %s failed",
            url,
            exc=exc,
            error=f"token {TOKEN} rejected",
            url=url.replace(":", "%3A"),
        )
    assert SECRET not in out and "123456789" not in out
    assert "/file/bot<token>/photos/file_1.jpg" in out and "token <token> rejected" in out
    assert "RuntimeError: 404" in out


def test_ordinary_numbers_and_times_are_left_alone():
    out = emit("took %s", "12:30", ticket="1234567:short", count=10)
    assert "took 12:30" in out and "ticket=1234567:short" in out


async def test_a_failed_telegram_download_does_not_carry_the_token():
    """A real aiohttp failure (the file URL answers 404) surfaces without the URL at all."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiohttp import web

    from bot.telegram.photos import PhotoDownloadError, download_photo
    from tests.utils.telegram_updates import message

    async def get_file(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "result": {"file_id": "f1", "file_unique_id": "f1", "file_path": "photos/file_1.jpg"},
            }
        )

    app = web.Application()
    app.router.add_post("/bot{token}/getFile", get_file)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}")))
    try:
        with pytest.raises(PhotoDownloadError) as failed:
            await download_photo(bot, message(1, photo_id="f1").message)
    finally:
        await bot.session.close()
        await runner.cleanup()
    assert "HTTP 404" in str(failed.value)
    assert SECRET not in "".join(traceback.format_exception(failed.value))
