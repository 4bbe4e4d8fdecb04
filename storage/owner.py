"""One owner per data directory: an exclusive lock file (``owner.lock``) held while a bot runs.

Two processes on one data dir (the bot and the sandbox) would re-queue and steal each other's
jobs. The lock is an fcntl (POSIX) lock on the file: the kernel drops it when the holder dies,
even by kill -9, and the engine's forked workers do not inherit it (so a dying bot's workers never
keep a new bot out). The file keeps the holder's pid and command line, for the next one's message.
Within one process the lock is re-entrant (``choreo bot`` takes it before building the starter
library, then the service takes it again).
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

LOCK_NAME = "owner.lock"

_held: dict[Path, list[int]] = {}  # lock path -> [fd, holders in this process]


class DataDirInUse(RuntimeError):
    def __init__(self, data_dir: Path, holder: str) -> None:
        super().__init__(f"the data directory {data_dir} is in use by another Choreo process ({holder}); "
                         f"stop it first or use another CHOREO_DATA_DIR")
        self.holder = holder


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = (Path(data_dir) / LOCK_NAME).resolve()
        self._taken = False

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirInUse` naming the process that holds it."""
        if self._taken:
            return
        if self.path in _held:
            _held[self.path][1] += 1
            self._taken = True
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise DataDirInUse(self.path.parent, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)}\n".encode(), 0)
        _held[self.path] = [fd, 1]
        self._taken = True

    def release(self) -> None:
        if not self._taken:
            return
        self._taken = False
        entry = _held[self.path]
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.path]
            os.ftruncate(entry[0], 0)
            fcntl.lockf(entry[0], fcntl.LOCK_UN)
            os.close(entry[0])
