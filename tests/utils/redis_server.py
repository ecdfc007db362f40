"""A throw-away Redis server for the tests (Debian's ``redis-server``), on 127.0.0.1 only.

Started once per test session in a temporary folder, with no persistence; each test that uses
it starts from an empty database (``flush``). When no server is installed, ``RedisUnavailable``
says why and the tests that need it are skipped with that reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.utils.net import free_port


class RedisUnavailable(RuntimeError):
    pass


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """Yield ``redis://127.0.0.1:PORT/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable("no Redis server installed (apt-get install redis-server)")
    base = Path(tempfile.mkdtemp(prefix="craftdesk-redis-"))
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(base), "--logfile", str(base / "log")]
    process = subprocess.Popen(command, cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not _ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (base / "log").read_text() if (base / "log").exists() else ""
                raise RedisUnavailable(f"redis-server did not start: {log.strip()[-500:]}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(base, ignore_errors=True)


def flush(url: str) -> None:
    """Empty the database of ``url`` (each test starts from nothing)."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        if not sock.recv(16).startswith(b"+OK"):
            raise RedisUnavailable("FLUSHALL failed")
