"""``choreo health`` as a container or systemd would run it: a real SQLite database, real
directories, a real closed port and (when installed) a real Redis (issue 13, item 5)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.data import PROJECT_ROOT
from tests.support.net import free_port

# a directory nobody may write, root included (sysfs refuses new files)
UNWRITABLE = Path("/sys")


def health(tmp_path: Path, **env: str) -> tuple[int, dict[str, dict]]:
    """Run ``choreo health`` in a clean working directory (no .env): (exit code, checks by name)."""
    full_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "CHOREO_DATA_DIR": str(tmp_path / "data"),
                "CHOREO_DATABASE_URL": "", "CHOREO_BROKER_URL": "", "CHOREO_MEDIA_DIR": str(tmp_path / "media"), **env}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "health", "--timeout", "3"], env=full_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, {line["check"]: line for line in lines}


@pytest.fixture
def media(tmp_path) -> Path:
    (tmp_path / "media").mkdir()
    return tmp_path / "media"


def test_healthy_sqlite_and_media_exit_0(tmp_path, media):
    code, checks = health(tmp_path)
    assert code == 0
    assert list(checks) == ["database", "broker", "media"] and all(c["ok"] for c in checks.values())
    assert checks["database"]["target"] == str(tmp_path / "data" / "choreo.db")
    assert "schema" in checks["database"]["detail"]
    assert checks["broker"]["detail"].startswith("not configured")
    assert list(media.iterdir()) == []  # the probe file is gone


def test_unreachable_broker_exits_1_without_showing_its_password(tmp_path, media):
    code, checks = health(tmp_path, CHOREO_BROKER_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert code == 1
    assert not checks["broker"]["ok"] and "refused" in checks["broker"]["detail"].lower()
    assert checks["database"]["ok"] and checks["media"]["ok"]
    assert "hunter2" not in json.dumps(checks) and ":***@" in checks["broker"]["target"]


@pytest.mark.parametrize("root, error", [("missing", "does not exist"), (str(UNWRITABLE), "Error")])
def test_missing_or_unwritable_media_root_exits_1(tmp_path, root, error):
    target = tmp_path / root if root == "missing" else Path(root)
    code, checks = health(tmp_path, CHOREO_MEDIA_DIR=str(target))
    assert code == 1
    assert not checks["media"]["ok"] and error in checks["media"]["detail"]
    assert checks["database"]["ok"] and checks["broker"]["ok"]


def test_unreachable_database_exits_1(tmp_path, media):
    code, checks = health(tmp_path, CHOREO_DATA_DIR=str(UNWRITABLE / "choreo"))
    assert code == 1
    assert not checks["database"]["ok"] and checks["media"]["ok"]


def test_reachable_redis_exits_0(tmp_path, media):
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(server).exists():
        pytest.skip("redis-server is not installed (the services set-up installs it)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:  # until it listens
            code, checks = health(tmp_path, CHOREO_BROKER_URL=f"redis://127.0.0.1:{port}/0")
            if checks["broker"]["ok"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
    assert code == 0 and checks["broker"]["ok"] and checks["broker"]["detail"].startswith("connected")
