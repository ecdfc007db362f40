"""Real servers for the several-instances tests and scripts/bench_instances.py: app instances as
processes (``python -m bot`` on 127.0.0.1, each its own data dir, sharing one PostgreSQL and one
Redis) and Debian's nginx in front, running deploy/nginx/craftdesk.conf with the ports filled in.

nginx runs as the caller's own process (``daemon off``, ``-p <folder>``, its pid file and logs in
that folder), never as the system service.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.telegram.webhook import WEBHOOK_PATH
from tests.utils.net import free_port

REPO = Path(__file__).resolve().parent.parent.parent
SITE_CONF = REPO / "deploy" / "nginx" / "craftdesk.conf"
UPSTREAM_HEADER = "X-Craftdesk-Upstream"  # added by the test wrapper only: which instance answered


class ClusterError(RuntimeError):
    pass


def nginx_binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which a user's PATH may lack); None when not installed."""
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")


# ---- nginx --------------------------------------------------------------------------------------


SERVER_LINE = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+((?: [^;]*)?);$")


def render_site(conf: str, listen_port: int, upstream_ports: Sequence[int]) -> str:
    """deploy/nginx/craftdesk.conf on 127.0.0.1:``listen_port`` in front of these instances:
    the upstream's ``server`` lines become one per port, with the options of the first one."""
    lines: list[str] = []
    filled = False
    for line in conf.splitlines():
        match = SERVER_LINE.match(line)
        if match is None:
            lines.append(line.replace("listen 80;", f"listen 127.0.0.1:{listen_port};"))
        elif not filled:
            indent, options = match.groups()
            lines += [f"{indent}server 127.0.0.1:{port}{options};" for port in upstream_ports]
            filled = True
    if not filled or "listen 80;" not in conf:
        raise ClusterError(f"{SITE_CONF}: no upstream server lines or no `listen 80;` to fill in")
    return "\n".join(lines) + "\n"


def main_conf(folder: Path, site: Path) -> str:
    """A whole nginx.conf around the site: everything nginx writes stays in ``folder``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers then write the temp dirs here
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder / "access.log"};
{temp}
    add_header {UPSTREAM_HEADER} $upstream_addr always;
    include {site};
}}
"""


def write_nginx_conf(folder: Path, listen_port: int, upstream_ports: Sequence[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "craftdesk.conf"
    site.write_text(render_site(SITE_CONF.read_text(encoding="utf-8"), listen_port, upstream_ports))
    conf = folder / "nginx.conf"
    conf.write_text(main_conf(folder, site))
    return conf


def nginx_command(binary: str, folder: Path, conf: Path, *extra: str) -> list[str]:
    return [binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf), *extra]


class Nginx:
    """nginx on 127.0.0.1:``port`` in front of ``upstream_ports``, as a child process."""

    def __init__(self, folder: Path, upstream_ports: Sequence[int], binary: str | None = None):
        found = binary or nginx_binary()
        if found is None:
            raise ClusterError("no nginx installed (apt-get install nginx)")
        self.binary, self.folder = found, folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = write_nginx_conf(folder, self.port, upstream_ports)
        self.process: subprocess.Popen[bytes] | None = None

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            nginx_command(self.binary, self.folder, self.conf, "-t"),
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self, seconds: float = 20) -> None:
        log = (self.folder / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            nginx_command(self.binary, self.folder, self.conf), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise ClusterError(f"nginx exited with {self.process.returncode}: {self.error_log()[-800:]}")
            try:
                httpx.get(f"{self.url}/nginx-is-up", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise ClusterError("nginx did not start listening") from None
                time.sleep(0.05)

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: workers finish their requests
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---- app instances ------------------------------------------------------------------------------


def instance_env(
    name: str,
    data_dir: Path,
    database_url: str,
    redis_url: str,
    model_cache: Path,
    admin_token: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """An instance's environment: what all share (database, Redis, admin token, settings) and its
    own name and data dir. Nginx on 127.0.0.1 is the only trusted proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env |= {
        "CRAFTDESK_ENV": "test",
        "CRAFTDESK_INSTANCE_ID": name,
        "CRAFTDESK_DATA_DIR": str(data_dir),
        "CRAFTDESK_DATABASE_URL": database_url,
        "CRAFTDESK_REDIS_URL": redis_url,
        "CRAFTDESK_MODEL_CACHE": str(model_cache),
        "CRAFTDESK_ADMIN_TOKEN": admin_token,
        "CRAFTDESK_RATE_LIMIT__TRUSTED_PROXIES": "127.0.0.1",
        "CRAFTDESK_LOG_LEVEL": "INFO",
        # no shared disk: the index versions and the photos are in PostgreSQL
        "CRAFTDESK_INDEX_STORE": "database",
        "CRAFTDESK_PHOTO_STORE": "database",
    }
    return env | (extra or {})


class Instance:
    """``python -m bot`` on 127.0.0.1, its output in ``<data dir>/server.log``."""

    def __init__(self, name: str, env: dict[str, str], data_dir: Path):
        self.name, self.env, self.data_dir = name, env, data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def healthy(self) -> bool:
        if self.exited() is not None:
            raise ClusterError(f"{self.name} exited with {self.exited()}: {self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).json().get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease released, connections cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far (Linux /proc)."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_all_healthy(instances: Sequence[Instance], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    waiting = list(instances)
    while waiting:
        waiting = [i for i in waiting if not i.healthy()]
        if waiting and time.monotonic() > deadline:
            raise ClusterError(f"not healthy after {seconds:.0f} s: {', '.join(i.name for i in waiting)}")
        if waiting:
            time.sleep(0.3)


@dataclass(frozen=True)
class WebhookBot:
    """The Telegram bot of the instances, in webhook mode: ``api_base`` is the Bot API (the
    emulator), which posts updates to nginx's /telegram/webhook."""

    api_base: str
    token: str


class Cluster:
    """``count`` instances and nginx. The first instance starts alone: it migrates the
    database, imports the demo knowledge (``demo``) into it when empty, and builds the index and
    stores its version in PostgreSQL unless one is stored already. The others then start
    together and fetch the newest version."""

    def __init__(
        self,
        folder: Path,
        count: int,
        database_url: str,
        redis_url: str,
        model_cache: Path,
        settings: dict[str, str] | None = None,
        demo: bool = True,
        bot: WebhookBot | None = None,
    ):
        self.folder, self.database_url = folder, database_url
        self.admin_token = secrets.token_urlsafe(24)
        self.instances = []
        for n in range(1, count + 1):
            name = f"instance-{n}"
            extra = dict(settings or {})
            if n == 1 and demo:
                extra["CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY"] = "true"
            data_dir = folder / name
            env = instance_env(name, data_dir, database_url, redis_url, model_cache, self.admin_token, extra)
            self.instances.append(Instance(name, env, data_dir))
        self.nginx = Nginx(folder / "nginx", [i.port for i in self.instances])
        if bot is not None:
            for instance in self.instances:
                instance.env |= {
                    "CRAFTDESK_TELEGRAM__BOT_TOKEN": bot.token,
                    "CRAFTDESK_TELEGRAM__API_BASE": bot.api_base,
                    "CRAFTDESK_TELEGRAM__WEBHOOK_URL": f"{self.nginx.url}{WEBHOOK_PATH}",
                }

    @property
    def url(self) -> str:
        return self.nginx.url

    def by_name(self, name: str) -> Instance:
        return next(i for i in self.instances if i.name == name)

    def instance_at(self, upstream: str) -> Instance | None:
        """The instance an ``$upstream_addr`` (``127.0.0.1:PORT``) names."""
        return next((i for i in self.instances if upstream.endswith(f":{i.port}")), None)

    def start(self, seconds: float = 240) -> None:
        first, *others = self.instances
        first.start()
        wait_all_healthy([first], seconds)
        for instance in others:
            instance.start()
        wait_all_healthy(others, seconds)
        self.nginx.start()

    def stop(self) -> None:
        self.nginx.stop()
        for instance in self.instances:
            instance.stop()

    def error_lines(self) -> list[str]:
        return [
            f"{i.name}: {line}"
            for i in self.instances
            if i.log_path.exists()
            for line in i.log_path.read_text(errors="replace").splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]
