"""Progress of long command-line work: a live bar on a terminal, plain lines anywhere else.

tqdm redraws its bar with carriage returns, which fill a log file or a service's journal with
hundreds of half-lines; when stderr is not a terminal we print one line per tenth instead.
"""

from __future__ import annotations

import sys
from typing import TextIO


class PlainProgress:
    """tqdm's ``update``/``close``/``n`` for a log: one line each time another tenth is done."""

    def __init__(self, total: float | None, desc: str, unit: str, stream: TextIO | None = None) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0.0
        self._stream = stream or sys.stderr
        self._reported_tenths = 0

    def update(self, n: float = 1) -> None:
        self.n += n
        if not self.total:
            return
        tenths = min(10, int(10 * self.n / self.total))
        if tenths > self._reported_tenths:
            self._reported_tenths = tenths
            print(f"{self.desc}: {tenths * 10}% ({self.n:g}/{self.total:g} {self.unit})", file=self._stream, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(total: float | None, desc: str, unit: str, leave: bool = True, stream: TextIO | None = None):
    """A tqdm bar when ``stream`` (stderr) is a terminal, else a :class:`PlainProgress`."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=leave, file=stream)
    return PlainProgress(total, desc, unit, stream)
