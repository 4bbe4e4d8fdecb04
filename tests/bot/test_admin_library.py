"""Adding real dancers: by link and playlist (yt-dlp against a loopback server), by folder (resumable),
with credits in the export and on the sheet (issue: real dancers)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot import choreography
from bot.admin import adding, library as library_admin
from tests.support.data import PROJECT_ROOT, ffmpeg, settings_for, shared

DANCER = ("dance", "video_mgt", "dancer.avi")


def dancer_excerpt(path: Path, start: float, seconds: float = 10.0) -> Path:
    """A dancing part of the real dancer video as its own file (with its music)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-ss", str(start), "-t", str(seconds), "-i", str(shared(*DANCER)), "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "aac", str(path))
    return path


@contextlib.contextmanager
def serve(folder: Path):
    """``folder`` over HTTP on 127.0.0.1 (a free port), quietly."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _clips(data_dir: Path) -> list[tuple]:
    con = sqlite3.connect(data_dir / "choreo.db")
    try:
        return con.execute("SELECT name, source, performer, licence, source_date, style, style_guessed, origin_sha256 "
                           "FROM clips ORDER BY id").fetchall()
    finally:
        con.close()


def test_links_and_a_playlist_are_downloaded_and_credited(tmp_path):
    site = tmp_path / "site"
    dancer_excerpt(site / "spin.mp4", 29)
    dancer_excerpt(site / "sway.mp4", 50)
    settings = settings_for(tmp_path / "data")
    with serve(site) as base:
        (site / "class.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>A dance class</title>'
            f'<item><title>Spin</title><enclosure url="{base}/spin.mp4" type="video/mp4"/></item>'
            f'<item><title>Sway</title><enclosure url="{base}/sway.mp4" type="video/mp4"/></item>'
            '</channel></rss>')
        results = asyncio.run(adding.add_sources(
            [f"{base}/class.xml", f"{base}/spin.mp4", f"{base}/missing.mp4"], settings,
            style="contemporary", performer="MGT dancer", licence="GPL-3.0"))
    by_source = {r.path.rsplit("/", 1)[-1]: r for r in results if r.status != "already there"}
    # the playlist expanded into its two videos, each added; the direct link to one of them is the
    # same content (a duplicate); the missing one is refused with the server's reason
    assert by_source["spin.mp4"].status == by_source["sway.mp4"].status == "added"
    assert [r.status for r in results].count("already there") == 1
    assert by_source["missing.mp4"].status == "failed" and "404" in by_source["missing.mp4"].message
    clips = _clips(settings.data_dir)
    assert {Path(c[1]).name for c in clips} == {"spin.mp4", "sway.mp4"}
    assert list((settings.data_dir / "downloads").iterdir()) == []  # taken in, the downloads are gone
    for name, source, performer, licence, date, style, guessed, origin in clips:
        assert source.startswith("http://127.0.0.1:") and performer == "MGT dancer" and licence == "GPL-3.0"
        assert date and len(date) == 10  # from the server's Last-Modified
        assert (style, guessed) == ("contemporary", 0)
    out = tmp_path / "library.csv"
    n = asyncio.run(library_admin.export_csv(out, settings))
    table = pd.read_csv(out)
    assert len(table) == n > 0
    assert set(table["licence"]) == {"GPL-3.0"} and set(table["performer"]) == {"MGT dancer"}
    assert {Path(s).name for s in table["source"]} == {"spin.mp4", "sway.mp4"}


def _cli(data_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CHOREO_DATA_DIR": str(data_dir), "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "library", "add", *args], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_folder_resumes_after_an_interruption(tmp_path):
    folder = tmp_path / "classes"
    first = dancer_excerpt(folder / "a-spin.mp4", 29)
    dancer_excerpt(folder / "nested" / "b-sway.mp4", 50)
    (folder / "nested" / "deeper").mkdir()
    shutil.copy(first, folder / "nested" / "deeper" / "copy-of-spin.mp4")
    (folder / "notes.mp4").write_text("not a video")
    data_dir = tmp_path / "data"

    proc = _cli(data_dir, str(folder), "--style", "contemporary")
    try:
        for line in proc.stdout:  # stop the run as soon as the first video is in
            if line.startswith("added"):
                break
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert [Path(c[1]).name for c in _clips(data_dir)] == ["a-spin.mp4"]

    proc = _cli(data_dir, str(folder), "--style", "contemporary")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err  # a refused file makes the run's status 1
    # the run went on where it stopped: the first video and its copy skipped by content
    assert "1 added, 2 skipped as duplicates, 1 refused" in out, out
    assert "notes.mp4" in out and "couldn't read this video" in out
    assert sorted(Path(c[1]).name for c in _clips(data_dir)) == ["a-spin.mp4", "b-sway.mp4"]
    # one progress bar over the set (the two videos left), ending at 100%
    bar = [line for line in err.splitlines() if line.startswith("2 videos:")]
    assert bar and bar[-1].startswith("2 videos: 100%"), err


def _library(settings):
    """The stored library without its music index (no KMeans here: a process that ran OpenMP
    cannot fork the bot's engine workers safely, and later tests in this process do)."""
    from storage import Database

    async def load():
        db = await Database.open(settings.db_path)
        try:
            return await library_admin.StoredLibrary(db).load(settings.descriptor)
        finally:
            await db.close()

    return asyncio.run(load())


def test_credits_are_on_the_sheet(library_settings, tmp_path, output_dir):
    from choreo_engine import video
    from choreo_engine.music import audio

    song = tmp_path / "song.wav"
    ffmpeg("-ss", "30", "-t", "14", "-i", str(shared(*DANCER)), "-vn", str(song))
    _, analysis = audio.load_and_analyze(song, 600, 8)
    library = _library(library_settings)
    real = [s for s in library.segments if s.credit]
    assert real and all(s.credit == "dancer.avi" for s in real)  # the test library's dancer: its file name
    starter = [s for s in library.segments if not s.credit]
    picks = [real[0] if i % 2 == 0 else starter[0] for i in range(len(analysis.segments))]
    credits = choreography.credit_lines(picks)
    assert credits == ["dancer.avi"]
    shots = [video.Shot.from_segments(ls, seg) for ls, seg in zip(picks, analysis.segments)]
    with_credits = video.render_sheet(analysis, shots, output_dir / "sheet-credits.png", credits=credits)
    without = video.render_sheet(analysis, shots, tmp_path / "sheet-plain.png")
    import matplotlib.image as mpimg

    a, b = mpimg.imread(with_credits), mpimg.imread(without)
    band = slice(int(0.055 * a.shape[1]), int(0.08 * a.shape[1]))  # under the title, above the timeline
    assert np.abs(a[band] - b[band]).max() > 0.3  # the credits line is drawn there ...
    assert np.array_equal(a[int(0.3 * a.shape[0]):], b[int(0.3 * b.shape[0]):])  # ... and nothing else moves


def test_credits_card_ends_the_video(tmp_path):
    from choreo_engine import ffmpeg as engine_ffmpeg
    from choreo_engine.dance.pose import read_frames
    from choreo_engine.video.credits import CARD_SECONDS, append_credits_card

    clip = dancer_excerpt(tmp_path / "dance.mp4", 30, 4)
    before = engine_ffmpeg.probe_duration(clip)
    first_before = next(read_frames(clip)[0])
    append_credits_card(clip, ["MGT dancer · dancer.avi · GPL-3.0", "https://example.org/class · Ann · CC BY 4.0"])
    assert engine_ffmpeg.probe_duration(clip) == pytest.approx(before + CARD_SECONDS, abs=0.3)
    frames = list(read_frames(clip)[0])
    # the dance is unchanged at the start; the card (dark, with white text) at the end
    assert np.abs(frames[0].astype(int) - first_before.astype(int)).mean() < 8
    card = frames[-1]
    assert (card.max(axis=2) > 200).mean() > 0.003 and np.median(card) < 60
