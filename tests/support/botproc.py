"""The bot as a real ``choreo bot`` subprocess against the Bot API emulator, for the restart and
kill -9 tests: started in a process group of its own, so one SIGKILL ends it and its workers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.data import PROJECT_ROOT


def start_bot_process(emu, data_dir: Path, log: Path, cwd: Path | None = None, **env: str) -> subprocess.Popen:
    """``cwd``: the bot's own working directory (the project stays importable through PYTHONPATH)."""
    full_env = {"PYTHONPATH": str(PROJECT_ROOT), **os.environ, "TELEGRAM_BOT_TOKEN": emu.token,
                "TELEGRAM_API_BASE_URL": emu.base_url, "TELEGRAM_API_FILE_URL": emu.base_file_url, "CHOREO_DATA_DIR": str(data_dir), "CHOREO_WORKERS": "2",
                **env}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "bot"], env=full_env, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, cwd=cwd or PROJECT_ROOT, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the bot's whole process group (the bot and its engine workers) at once."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    """Running (a zombie, waiting to be reaped by init, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def query(data_dir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """A read of the bot's database from outside (the bot may be writing: WAL lets us read)."""
    con = sqlite3.connect(f"file:{data_dir / 'choreo.db'}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


async def until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` (for conditions outside the emulator, such as the bot's database)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met in {timeout} s")
        await asyncio.sleep(interval)
