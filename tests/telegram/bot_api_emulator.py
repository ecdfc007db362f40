"""The Bot API emulator (npm ``telegram-test-api`` 4.2.1 behind ``emulator/launch.js``) as
a subprocess on a free loopback port, and people talking to the bot through its user side."""

from __future__ import annotations

import asyncio
import json
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx

EMULATOR_DIR = Path(__file__).resolve().parent / "emulator"
PACKAGE = EMULATOR_DIR / "node_modules" / "telegram-test-api" / "package.json"
VERSION = "4.2.1"
BOT_USERNAME = "CraftdeskTestBot"


def unavailable() -> str | None:
    """Why the emulator cannot run here, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are needed for the Bot API emulator (Node 20)"
    if not PACKAGE.is_file():
        return f"telegram-test-api is not installed: run `npm ci --prefix {EMULATOR_DIR}`"
    version = json.loads(PACKAGE.read_text())["version"]
    if version != VERSION:
        return f"telegram-test-api {version} is installed; the tests are written for {VERSION}"
    return None


class Emulator:
    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.log: IO[str] | None = None
        self.base_url = ""

    def start(self, timeout: float = 20) -> None:
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                "node",
                str(EMULATOR_DIR / "launch.js"),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--username",
                BOT_USERNAME,
            ],
            cwd=EMULATOR_DIR,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""  # one line once it listens
        if not line:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self.log_path.read_text()}")
        self.base_url = f"http://127.0.0.1:{json.loads(line)['port']}"

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self.log is not None:
            self.log.close()


class Person:
    """Someone in a Telegram client: writes to the bot, presses its buttons, reads its
    messages (each bot message is returned once, like a chat scrolling by)."""

    def __init__(self, http: httpx.AsyncClient, token: str, user_id: int):
        self.http = http
        self.token = token
        self.id = user_id
        self.inbox: list[dict[str, Any]] = []
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "bot",
            "username": BOT_USERNAME,
        }

    def _base(self) -> dict[str, Any]:
        return {
            "botToken": self.token,
            "date": int(time.time()),
            "from": {"id": self.id, "is_bot": False, "first_name": f"用户{self.id}"},
            "chat": {"id": self.id, "type": "private", "first_name": f"用户{self.id}"},
        }

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        response = await self.http.post(path, json=body)
        assert response.status_code == 200, response.text

    async def command(self, text: str) -> None:
        await self._post("/sendCommand", self._base() | {"text": text})

    async def send(
        self, text: str | None = None, *, reply_to: dict[str, Any] | None = None, photo_id: str | None = None
    ) -> None:
        body = self._base() | ({"text": text} if text is not None else {})
        if reply_to is not None:
            body["reply_to_message"] = self._bot_message(reply_to)
        if photo_id is not None:
            body["photo"] = [{"file_id": photo_id, "file_unique_id": photo_id, "width": 1, "height": 1}]
        await self._post("/sendMessage", body)

    async def press(self, message: dict[str, Any], data: str) -> None:
        """A button of ``message``; the press carries the bot message's id, as Telegram's does."""
        await self._post(
            "/sendCallback",
            {
                "botToken": self.token,
                "data": data,
                "from": self._base()["from"],
                "message": self._bot_message(message),
            },
        )

    def _bot_message(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "message_id": message["messageId"],
            "date": int(time.time()),
            "from": self.bot_user,
            "chat": {"id": self.id, "type": "private"},
            "text": message["message"].get("text", ""),
        }

    async def receive(self, match: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        """The first unread bot message that matches (waiting for it)."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.http.post(
                "/getUpdates", json={"token": self.token, "botToken": self.token, "chatId": self.id}
            )
            self.inbox += response.json()["result"]
            for item in self.inbox:
                if match(item["message"]):
                    self.inbox.remove(item)
                    return item
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"user {self.id} got nothing matching; unread: "
                    f"{[i['message'].get('text') for i in self.inbox]}"
                )
            await asyncio.sleep(0.05)

    async def receive_text(self, fragment: str, timeout: float = 20) -> dict[str, Any]:
        return await self.receive(lambda m: fragment in (m.get("text") or ""), timeout)


def buttons(item: dict[str, Any]) -> list[dict[str, str]]:
    markup = item["message"].get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]
