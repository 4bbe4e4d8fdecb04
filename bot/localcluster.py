"""Choreo past one machine, on this one, for the tests and ``choreo bench scale``: a throw-away
Redis (Debian's ``redis-server`` on 127.0.0.1, a free port, a given directory, no persistence) and
``choreo worker`` processes, each in a working directory of its own. Never used in production,
where Redis is a service of its own and workers run under their own supervisor (``deploy/``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REDIS_SERVER = "/usr/bin/redis-server"


class RedisMissing(RuntimeError):
    """No ``redis-server`` binary on this machine."""


def redis_binary() -> str | None:
    return REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalRedis:
    port: int
    process: subprocess.Popen
    folder: Path

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(folder: Path, timeout: float = 10.0) -> LocalRedis:
    """``redis-server`` serving from ``folder``; RedisMissing without the binary, RuntimeError
    (with the end of its log) when it does not answer within ``timeout`` seconds."""
    binary = redis_binary()
    if not binary:
        raise RedisMissing(f"{REDIS_SERVER} not found (Debian package redis-server)")
    port = free_port()
    log = folder / "redis.log"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = LocalRedis(port, process, folder)
    deadline = time.monotonic() + timeout
    while not server.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"redis-server did not start on port {port}: {tail}")
        time.sleep(0.05)
    return server


PROJECT_ROOT = Path(__file__).resolve().parents[1]


def start_worker(folder: Path, name: str, env: dict[str, str], concurrency: int = 1) -> subprocess.Popen:
    """``choreo worker --name NAME`` in ``folder`` (its working and data directory; its log is
    ``folder/worker.log``), in a process group of its own so one signal ends it and its pool."""
    folder.mkdir(parents=True, exist_ok=True)
    full_env = {"PYTHONPATH": str(PROJECT_ROOT), **os.environ, **env, "CHOREO_DATA_DIR": str(folder / "data")}
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        full_env.setdefault("C_FORCE_ROOT", "1")  # Celery refuses pickle as root without it (CI containers)
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--concurrency", str(concurrency),
                             "--name", name], env=full_env, cwd=folder, stdout=open(folder / "worker.log", "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def worker_ready(folder: Path) -> bool:
    """The worker in ``folder`` consumes tasks and a pool process of it has loaded the library."""
    log = folder / "worker.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return " ready." in text and "library segments loaded" in text


def wait_worker_ready(proc: subprocess.Popen, folder: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not worker_ready(folder):
        if proc.poll() is not None:
            raise RuntimeError(f"the worker in {folder} ended: {(folder / 'worker.log').read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker in {folder} was not ready in {timeout} s")
        time.sleep(0.2)
