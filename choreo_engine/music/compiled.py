"""librosa's numba code, compiled (or loaded from the cache) once per process, one process at a time.

librosa's beat tracker is a numba ``guvectorize`` function with ``cache=True``. Two processes
compiling it at once can leave its two cache files out of step, and every process that loads
them afterwards crashes with a segmentation fault (numba issue #10128, "Race condition in
GUFunc caching"; seen here when both workers of a fresh pool analysed their first song). So
the first analysis in a process runs under an exclusive file lock beside numba's cache: one
process compiles and writes the cache, the others wait, then load it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np

_compiled = False


def _lock_path() -> Path:
    cache = Path(os.environ.get("NUMBA_CACHE_DIR") or Path.home() / ".cache" / "choreo" / "numba").expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    return cache / "choreo-compile.lock"


def ensure_compiled() -> None:
    """Run the numba code of song analysis once in this process, under the cross-process lock."""
    global _compiled
    if _compiled:
        return
    _compiled = True  # set first: the warm-up below calls back into analyze/describe
    from . import audio, features

    sr = audio.SAMPLE_RATE
    t = np.arange(int(sr * 6)) / sr
    clicks = (np.sin(2 * np.pi * 440 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
    with open(_lock_path(), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            features.describe_segments(clicks, audio.analyze(clicks).segments)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
