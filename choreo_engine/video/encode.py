"""Feeding raw frames to the ffmpeg of imageio-ffmpeg through a pipe (renders, mannequin videos)."""

from __future__ import annotations

import subprocess
import tempfile
from typing import Callable, Iterable

import numpy as np


class EncodeError(RuntimeError):
    """ffmpeg exited with an error or took fewer frames than it should have."""


def pipe_frames(cmd: list[str], frames: Iterable[np.ndarray], to_bytes: Callable[[np.ndarray], bytes | memoryview],
                n_frames: int | None = None, progress: Callable[[float], None] | None = None) -> int:
    """Write ``to_bytes(frame)`` for each frame (at most ``n_frames``) to ``cmd``'s stdin.

    Returns the number of frames written. Raises EncodeError when ffmpeg fails or, with
    ``n_frames``, when fewer frames came; an error while producing the frames kills ffmpeg
    and is raised as it is. A caller that must not leave a partial file behind writes to a
    temporary path and removes it on error (render._encode does).
    """
    written = 0
    step = max(1, (n_frames or 100) // 100)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        try:
            for frame in frames:
                if n_frames is not None and written >= n_frames:
                    break
                proc.stdin.write(to_bytes(frame))
                written += 1
                if progress is not None and n_frames and written % step == 0:
                    progress(min(written / n_frames, 1.0))
        except BrokenPipeError:
            pass  # ffmpeg stopped early; its exit code and message tell why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        rc = proc.wait()
        if rc != 0 or (n_frames is not None and written < n_frames):
            err.seek(0)
            msg = err.read().decode("utf-8", "replace").strip()
            expected = f"/{n_frames}" if n_frames is not None else ""
            raise EncodeError(f"ffmpeg failed ({rc}, {written}{expected} frames): {msg[-1500:]}")
    return written
