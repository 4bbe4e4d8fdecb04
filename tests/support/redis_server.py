"""A throw-away Redis for the tests that need a broker: Debian's ``redis-server`` on 127.0.0.1, a
free port, a temporary directory, no persistence; stopped after.

CI installs the binary (``scripts/install-services.sh``); a developer without it gets a skip,
CI a failure.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.data import skip_or_fail

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
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


def start_redis(folder: Path) -> RedisServer:
    binary = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
    if not binary:
        skip_or_fail(f"{REDIS_SERVER} not found (Debian package redis-server; scripts/install-services.sh)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisServer(port, process, folder)
    deadline = time.monotonic() + 10
    while not server.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (folder / "redis.log").read_text(errors="replace")[-2000:] if (folder / "redis.log").exists() else ""
            pytest.fail(f"redis-server did not start on port {port}: {log}")
        time.sleep(0.05)
    return server


def stop_redis(server: RedisServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="choreo-redis-") as folder:
        server = start_redis(Path(folder))
        try:
            yield server
        finally:
            stop_redis(server)
