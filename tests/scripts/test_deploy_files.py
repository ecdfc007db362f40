"""deploy/: the nginx site passes ``nginx -t`` and, run in front of two stub instances, does what
its comments say (X-Forwarded-For from nginx only, body limits, idempotent calls retried and
POSTs never repeated); the systemd units pass ``systemd-analyze verify``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bot.service.photos import MAX_PHOTO_BYTES
from bot.web.edge import MAX_JSON_BYTES, MULTIPART_OVERHEAD
from tests.conftest import REPO
from tests.integration.cluster import SITE_CONF, Nginx, nginx_binary

UNITS = REPO / "deploy" / "systemd"


def kib(size: str) -> int:
    return int(size.removesuffix("k")) * 1024


def test_nginx_body_limits_are_the_apps():
    limits = [kib(s) for s in re.findall(r"client_max_body_size (\d+k);", SITE_CONF.read_text())]
    assert limits == [MAX_JSON_BYTES, MAX_PHOTO_BYTES + MULTIPART_OVERHEAD]


@dataclass
class Stub:
    """A stand-in instance: answers ``status`` and records what reached it."""

    status: int
    seen: list[tuple[str, str, str | None, int]] = field(default_factory=list)  # method, path, XFF, bytes
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]


def serve(stub: Stub) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream connections are

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stub.seen.append((self.command, self.path, self.headers.get("X-Forwarded-For"), len(body)))
            reply = json.dumps({"forwarded_for": self.headers.get_all("X-Forwarded-For")}).encode()
            self.send_response(stub.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def stubs() -> Iterator[tuple[Stub, Stub]]:
    healthy, failing = Stub(200), Stub(503)
    for stub in (healthy, failing):
        stub.server = serve(stub)
    yield healthy, failing
    for stub in (healthy, failing):
        assert stub.server is not None
        stub.server.shutdown()
        stub.server.server_close()


@pytest.fixture
def nginx(tmp_path: Path, stubs: tuple[Stub, Stub]) -> Iterator[Nginx]:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (apt-get install nginx; `make system-deps` does it)")
    server = Nginx(tmp_path / "nginx", [stub.port for stub in stubs])
    checked = server.test_config()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    server.start()
    yield server
    server.stop()


def test_nginx_forwards_as_its_comments_say(nginx: Nginx, stubs: tuple[Stub, Stub]):
    healthy, failing = stubs
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        # POSTs first, while nginx counts no failure yet: round robin gives one to each stub,
        # and the one that reached the failing stub is answered 503, not sent again
        posted = [client.post("/api/ask", json={"text": "变频器报警"}).status_code for _ in range(2)]
        assert sorted(posted) == [200, 503]
        assert sum(1 for s in (healthy, failing) for m, *_ in s.seen if m == "POST") == 2

        # idempotent calls are passed on to the next instance: every one answered
        assert [client.get(f"/api/tickets/t{n}").status_code for n in range(4)] == [200] * 4
        assert any(m == "GET" for m, *_ in failing.seen), "no GET reached the failing stub"

        # X-Forwarded-For is nginx's peer, whatever the client sent
        answer = client.get("/healthz", headers={"X-Forwarded-For": "6.6.6.6"})
        assert answer.json() == {"forwarded_for": ["127.0.0.1"]}

        # body limits: a JSON body over 64 KiB stops at nginx, a photo of 1 MB goes through
        before = len(healthy.seen) + len(failing.seen)
        big_json = client.post("/api/ask", content=b"x" * (MAX_JSON_BYTES + 1))
        assert big_json.status_code == 413
        assert len(healthy.seen) + len(failing.seen) == before
        photo = client.post("/api/tickets/t1/photos", content=b"p" * 1_000_000)
        assert photo.status_code in (200, 503)
        assert any(p == "/api/tickets/t1/photos" and n == 1_000_000 for s in stubs for _, p, _, n in s.seen)


def test_systemd_units_verify(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # the units name the code's place on a server (/opt/craftdesk): here, this checkout
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/craftdesk", str(REPO)))
    names = ["craftdesk@8001.service", "craftdesk-rebuild.service", "craftdesk-rebuild.timer"]
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # unknown keys and bad values are only warned about: any output is a failure here
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
