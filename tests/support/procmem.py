"""Resident memory of a process tree (the bot and its pool's workers), sampled from /proc while a test runs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:  # the process or thread is gone
            pass
    return found


def rss(pid: int) -> int:
    """Resident bytes of one process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (summed: pages they share count twice)."""
    return rss(pid) + sum(tree_rss(child) for child in children(pid))


@dataclass(frozen=True)
class Sample:
    time: float  # time.monotonic()
    total: int  # the root's whole tree
    worker: int  # the largest tree under one child of the root (a pool worker and its ffmpeg)


class TreeSampler:
    """Samples a process tree every ``interval`` seconds in a thread, between start() and stop()."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = [tree_rss(child) for child in children(self.root)]
            self.samples.append(Sample(time.monotonic(), rss(self.root) + sum(workers), max(workers, default=0)))
            self._stop.wait(self.interval)

    def start(self) -> "TreeSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = float("inf")) -> Sample:
        """The largest total and the largest worker tree seen between ``start`` and ``end``."""
        window = [s for s in self.samples if start <= s.time <= end] or self.samples[-1:]
        return Sample(end, max(s.total for s in window), max(s.worker for s in window))
