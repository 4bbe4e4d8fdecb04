"""``choreo bench scale``: how engine work scales over Celery workers on this machine (JSON).

The same dances three ways, through the two engine dispatchers the bot uses: the in-process pool
with one process, then Celery over a throw-away Redis with one ``choreo worker`` and with two
(each of concurrency 1, in its own directory, only the media root shared, the database file in
it). A dance is what the bot asks of the engine for a song in ``/mode auto``: analysis, the auto
path, the final render. All songs are queued at once; dances per hour = songs / wall time.
The broker's cost per job is the round trip of a job that does next to nothing (``warm_up`` on a
loaded library: one look at the library version in the database) through each dispatcher.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from choreo_engine import ffmpeg
from choreo_engine.bench.common import DANCER, shared_tracks, summarize
from choreo_engine.settings import Settings, shared_data_dir

from . import worker
from .admin import library as library_admin, starter_library
from .config import BotSettings
from .localcluster import start_redis, start_worker, wait_worker_ready
from .service.jobs import EnginePool
from .tasks import CeleryEnginePool


def _cut_songs(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` songs of ``seconds`` from the shared tracks (from 20 s in, past the intros)."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks = shared_tracks()
    out = []
    for i in range(n):
        path = folder / f"song-{i}.mp3"
        ffmpeg.run(["-v", "error", "-y", "-ss", "20", "-t", str(seconds), "-i", str(tracks[i % len(tracks)]),
                    "-map_metadata", "-1", "-c:a", "libmp3lame", str(path)],
                   timeout=ffmpeg.timeout_for(seconds, ffmpeg.AUDIO_SECONDS_PER_SECOND), check=True)
        out.append(path)
    return out


async def _dance(pool, song: Path, out_dir: Path, engine: Settings, name: str) -> None:
    analysis, descriptors, _ = await pool.run(worker.analyse, str(song), engine)
    path = await pool.run(worker.auto_rest, analysis, descriptors, 0, [], [], engine)
    await pool.run(worker.render_result, analysis, [seg_id for _, _, seg_id in path], str(song), str(out_dir),
                   "clips", engine, None, name)


async def _measure(pool, songs: list[Path], out: Path, engine: Settings, label: str, calls: int) -> dict:
    """Round trips of a near-empty job (one at a time), then every song's dance at once."""
    await pool.run(worker.warm_up, engine)  # the first call may wait for the warm-up
    trips = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await pool.run(worker.warm_up, engine)
        trips.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    await asyncio.gather(*(_dance(pool, song, out / f"{label}-{i}", engine, f"dance-{label}.mp4")
                           for i, song in enumerate(songs)))
    wall = time.perf_counter() - t0
    return {"wall_seconds": round(wall, 2), "dances_per_hour": round(len(songs) / wall * 3600, 1),
            "round_trip_ms": summarize(trips), "load_average_after": round(os.getloadavg()[0], 2)}


def _library(settings: BotSettings) -> None:
    if asyncio.run(starter_library.ensure_library(settings.engine)) is not None:
        asyncio.run(library_admin.add_videos([shared_data_dir().joinpath(*DANCER)], settings=settings.engine))


def bench_scale(songs: int = 6, song_seconds: float = 30.0, calls: int = 20) -> dict:
    settings = BotSettings.from_env()
    _library(settings)
    with tempfile.TemporaryDirectory(prefix="choreo-scale-") as tmp:
        tmp = Path(tmp)
        media = tmp / "media"
        shutil.copytree(settings.engine.data_dir, media, ignore=shutil.ignore_patterns("sessions", "index", "demo", "sandbox"))
        engine = dataclasses.replace(settings.engine, data_dir=tmp / "bot", media_root=media,
                                     database_url=str(media / "choreo.db"))
        cut = _cut_songs(media / "songs", songs, song_seconds)
        out = media / "sessions"
        result: dict = {"benchmark": "scale", "songs": songs, "song_seconds": song_seconds, "cpus": os.cpu_count(),
                        "load_average_before": round(os.getloadavg()[0], 2)}

        pool = EnginePool(1)
        pool.start(engine)
        try:
            result["in_process_1"] = asyncio.run(_measure(pool, cut, out, engine, "inproc", calls))
        finally:
            pool.shutdown()

        redis = start_redis(tmp)
        env = {"CHOREO_BROKER_URL": redis.url(0), "CHOREO_MEDIA_DIR": str(media),
               "CHOREO_DATABASE_URL": engine.database_url}
        workers = []
        try:
            celery = CeleryEnginePool(dataclasses.replace(settings, broker_url=redis.url(0), engine=engine))
            for n in (1, 2):
                folder = tmp / f"worker-{n}"
                workers.append(start_worker(folder, f"w{n}", env))
                wait_worker_ready(workers[-1], folder)
                result[f"celery_{n}"] = asyncio.run(_measure(celery, cut, out, engine, f"celery{n}", calls))
            celery.shutdown()
        finally:
            for proc in workers:
                os.killpg(proc.pid, 9)
                proc.wait()
            redis.stop()

    one, two, local = result["celery_1"], result["celery_2"], result["in_process_1"]
    jobs = 3 * songs
    result["ratio_2_to_1_workers"] = round(two["dances_per_hour"] / one["dances_per_hour"], 2)
    result["broker_overhead_ms_per_job"] = round(
        statistics.median([one["round_trip_ms"]["median"], two["round_trip_ms"]["median"]])
        - local["round_trip_ms"]["median"], 2)
    result["celery_1_vs_in_process_seconds_per_job"] = round((one["wall_seconds"] - local["wall_seconds"]) / jobs, 3)
    return result
