"""Command-line progress: a bar on a terminal, one plain line per tenth in a log."""

from __future__ import annotations

import io

from bot.progress import PlainProgress, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_is_one_line_per_tenth():
    log = io.StringIO()
    bar = progress_bar(total=200, desc="starter library", unit="song", stream=log)
    assert isinstance(bar, PlainProgress)
    with bar:
        for _ in range(200):
            bar.update(1)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 10
    assert lines[0] == "starter library: 10% (20/200 song)"
    assert lines[-1] == "starter library: 100% (200/200 song)"


def test_progress_on_a_terminal_is_a_live_bar():
    term = _Terminal()
    with progress_bar(total=4, desc="render", unit="%", stream=term) as bar:
        bar.update(4)
    assert not isinstance(bar, PlainProgress)
    assert "\r" in term.getvalue()  # tqdm redraws in place


def test_progress_without_a_total_prints_nothing():
    log = io.StringIO()
    with progress_bar(total=None, desc="frames", unit="frame", stream=log) as bar:
        bar.update(50)
    assert log.getvalue() == "" and bar.n == 50
