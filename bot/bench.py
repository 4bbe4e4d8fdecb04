"""Benchmarks that need the stored library or the bot (``choreo bench library|plan|bot``); each returns a JSON-ready dict."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from choreo_engine import ffmpeg
from choreo_engine.music import audio, features
from choreo_engine.plan import metrics
from choreo_engine.dance import pose
from choreo_engine.bench.common import DANCER, VIBE_ACE, shared_tracks, summarize
from choreo_engine.errors import ChoreoError
from choreo_engine.music.index import MusicIndex
from choreo_engine.dance.library import Library, LibrarySegment, load_poses
from choreo_engine.plan.planner import Planner
from choreo_engine.settings import Settings, shared_data_dir

from . import choreography
from .admin import library as library_admin, starter_library



def _pose_fps(frames: list[np.ndarray]) -> float:
    with pose.PoseEstimator(video=True) as estimator:
        estimator.estimate(frames[0])  # warm up the graph
        t0 = time.perf_counter()
        for frame in frames:
            estimator.estimate(frame)
        return len(frames) / (time.perf_counter() - t0)


def bench_library(runs: int = 3, songs: int = 40, build: bool = True) -> dict:
    import cv2

    dancer = shared_data_dir().joinpath(*DANCER)
    frames_iter, fps, _, size = pose.read_frames(dancer)
    frames = [f for _, f in zip(range(300), frames_iter)]
    h = 360
    small = [cv2.resize(f, (round(f.shape[1] * h / f.shape[0]), h), interpolation=cv2.INTER_AREA) for f in frames]
    result: dict = {
        "benchmark": "library",
        "pose_frames_per_second": {
            "360p": summarize([_pose_fps(small) for _ in range(runs)]),
            f"own_size_{size[0]}x{size[1]}": summarize([_pose_fps(frames) for _ in range(runs)]),
        },
    }
    if not songs:  # no timed build: sizes of the library in CHOREO_DATA_DIR
        stats = asyncio.run(library_admin.library_stats())
        minutes = stats["dance_minutes"] or 1.0
        result.update({
            "library_segments": stats["segments"], "dance_minutes": minutes,
            "database_kb_per_dance_minute": round(stats["database_bytes"] / 1024 / minutes, 1),
            "npz_kb_per_dance_minute": round(stats["pose_files_bytes"] / 1024 / minutes, 1),
            "video_kb_per_dance_minute": round(stats["video_files_bytes"] / 1024 / minutes, 1),
        })
    elif build:
        with tempfile.TemporaryDirectory() as tmp:
            settings = dataclasses.replace(Settings.from_env(), data_dir=Path(tmp) / "data")
            t0 = time.perf_counter()
            summary = asyncio.run(starter_library.build(n_songs=songs, workers=2, settings=settings))
            build_seconds = time.perf_counter() - t0
            asyncio.run(library_admin.add_videos([dancer], settings=settings))
            stats = asyncio.run(library_admin.library_stats(settings))
        minutes = stats["dance_minutes"]
        result.update({
            "demo_library_build_seconds": round(build_seconds, 1),
            "demo_library_songs": songs,
            "demo_library_segments": summary["segments"],
            "pose_sources": summary["pose_sources"],
            "dance_minutes": minutes,
            "database_kb_per_dance_minute": round(stats["database_bytes"] / 1024 / minutes, 1),
            "npz_kb_per_dance_minute": round(stats["pose_files_bytes"] / 1024 / minutes, 1),
            "video_kb_per_dance_minute": round(stats["video_files_bytes"] / 1024 / minutes, 1),
        })
    return result


def replicate_library(library: Library, n: int, seed: int = 0, noise: float = 0.05) -> Library:
    """A library of ``n`` segments made from copies of ``library`` with noise on every vector."""
    rng = np.random.default_rng(seed)
    take = np.resize(np.arange(len(library)), n)

    def jitter(a: np.ndarray) -> np.ndarray:
        a = a[take]
        scale = a.std(axis=0, keepdims=True) + 1e-6
        return (a + rng.standard_normal(a.shape) * scale * noise).astype(np.float32)

    segments = []
    for i, row in enumerate(take):
        s = library.segments[row]
        copy = dataclasses.replace(s, id=i + 1, clip_id=s.clip_id * 100_000 + i // len(library),
                                   tempo=float(s.tempo * (1 + rng.normal(0, 0.02))))
        segments.append(copy)
    return Library(segments, jitter(library.descriptors), jitter(library.start_poses),
                   jitter(library.start_velocities), jitter(library.end_poses), jitter(library.end_velocities))


def _three_minute_song(tmp: Path) -> Path:
    y = audio.decode(shared_data_dir().joinpath(*VIBE_ACE))
    y = np.tile(y, int(np.ceil(180 * audio.SAMPLE_RATE / len(y))))[: 180 * audio.SAMPLE_RATE]
    path = tmp / "three_minutes.wav"
    sf.write(path, y, audio.SAMPLE_RATE)
    return path


def _plan_time(library: Library, song: choreography.AnalysedSong, runs: int) -> dict:
    index = MusicIndex(seed=0).fit(library.descriptors)
    planner = Planner(library, index)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        ctx = planner.prepare(song.analysis, song.descriptors)
        path = planner.auto_path(ctx)
        for i in range(len(path)):  # the six candidates of every segment, as a user sees them
            planner.candidates(ctx, i, path[i - 1] if i else None, history=path[:i])
        times.append(time.perf_counter() - t0)
    return {"library_segments": len(library), "seconds": summarize(times)}


def bench_plan(runs: int = 3, random_paths: int = 5, timing: bool = True) -> dict:
    """Planning time on large libraries (``timing``) and the choreography metrics over every shared
    track: auto path, random paths, the old planner (:mod:`choreo_engine.bench.plan_quality`)."""
    from choreo_engine.bench import plan_quality

    settings = Settings.from_env()
    if asyncio.run(starter_library.ensure_library(settings)) is not None:
        asyncio.run(library_admin.add_videos([shared_data_dir().joinpath(*DANCER)], settings=settings))
    loaded = choreography.loaded_library(settings)
    result: dict = {"benchmark": "plan", "base_library_segments": len(loaded.library)}
    if timing:
        with tempfile.TemporaryDirectory() as tmp:
            song = choreography.analyse_song(_three_minute_song(Path(tmp)), settings)
        result.update({
            "song_seconds": 180,
            "song_segments": len(song.analysis.segments),
            "planning": [_plan_time(replicate_library(loaded.library, n), song, runs if n < 50_000 else max(1, runs - 1))
                         for n in (3_000, 100_000)],
        })

    rng = np.random.default_rng(0)
    cache: dict = {}
    per_track, skipped = {}, []
    for track in shared_tracks():
        try:
            y, analysis = audio.load_and_analyze(track, settings.max_song_seconds, settings.beats_per_segment)
        except ChoreoError:  # e.g. too short for one segment: listed in the output
            skipped.append(track.name)
            continue
        descriptors = features.describe_segments(y, analysis.segments, kind=settings.descriptor)
        found = plan_quality.track_metrics(y, analysis, descriptors, loaded.library, loaded.index,
                                           loaded.planner.weights, rng, random_paths, cache)
        if not found:
            skipped.append(track.name)
            continue
        per_track[track.name] = {"tempo": round(analysis.tempo, 1), "meter": analysis.meter,
                                 "sections": " ".join(f"{s.label}{s.group}" for s in analysis.sections),
                                 **{v: {k: None if x is None else round(x, 4) for k, x in m.items()}
                                    for v, m in found.items()}}
    result["choreography"] = plan_quality.summarize_tracks(per_track)
    result["per_track"] = per_track
    own = []
    by_clip: dict[int, list[LibrarySegment]] = {}
    for seg in loaded.library.segments:
        by_clip.setdefault(seg.clip_id, []).append(seg)
    for segs in by_clip.values():
        poses, clip_fps = load_poses(segs[0].poses_path)
        norm = pose.normalize(poses, segs[0].aspect)
        beats = np.concatenate([s.beats for s in segs])
        kin = metrics.dance_beats(norm, clip_fps)
        own.append((metrics.bas_music_to_dance(beats, kin), metrics.bas_dance_to_music(beats, kin)))

    def table(values: list[tuple[float, float]]) -> dict:
        a = np.array(values)
        return {"music_to_dance": round(float(a[:, 0].mean()), 4), "dance_to_music": round(float(a[:, 1].mean()), 4),
                "n": len(values)}

    result["beat_alignment"] = {"library_original_pairs": table(own), "sigma_seconds": metrics.SIGMA_SECONDS,
                                "speed_smoothing_seconds": metrics.SPEED_SMOOTHING_SECONDS}
    result["tracks_skipped"] = skipped
    return result


# the steps of a song's first answer and of its final video, in the order they happen
FIRST_ANSWER_STEPS = ("download", "decode", "beats", "downbeats", "features", "head_analysis", "planning",
                      "preview_render", "upload", "rate_limiter_wait", "progress_edit_wait")
FINAL_STEPS = ("planning", "render", "final_upload", "rate_limiter_wait", "progress_edit_wait")
WHOLE_SONG = ("decode", "beats", "downbeats", "features")
PART_ONE = ("head_analysis", "planning", "preview_render")  # beside WHOLE_SONG when head_analysis is there


def _critical(r: dict[str, float]) -> float:
    """Seconds of a run's steps on its critical path: part 1's steps run beside the whole song's
    analysis when the preview was made from the song's start (``head_analysis``)."""
    if "head_analysis" not in r:
        return sum(r.values())
    whole = sum(r.get(k, 0.0) for k in WHOLE_SONG)
    part_one = sum(r.get(k, 0.0) for k in PART_ONE)
    return sum(v for k, v in r.items() if k not in WHOLE_SONG + PART_ONE) + max(whole, part_one)


def _breakdown(runs: list[dict[str, float]], total: list[float], steps: tuple[str, ...]) -> dict:
    """Median seconds per step over the runs; "other" is what the steps do not cover (the job
    queue, the process pool's hand-over, the database). A step the bot does not have yet is None."""
    out: dict = {}
    for step in steps:
        values = [r[step] for r in runs if step in r]
        out[step] = round(statistics.median(values), 3) if values else None
    out["other"] = round(statistics.median(
        [t - _critical({k: v for k, v in r.items() if k in steps}) for r, t in zip(runs, total)]), 3)
    return out


def _settled(chat_id: int, step: str, timeout: float = 10.0) -> dict[str, float]:
    """The chat's figures once ``step`` is in (the send that the emulator already shows is
    recorded when its reply reaches the bot), taken."""
    from . import stopwatch

    deadline = time.monotonic() + timeout
    while step not in stopwatch.peek(chat_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    return stopwatch.take(chat_id)


def _pick_each_part(emu, chat: dict, user: dict, think: float) -> float:
    """Tap "1" on every part's preview as it arrives (``think`` seconds after it, a person
    watching it); the seconds from the last tap to the final video."""
    from . import stopwatch

    def videos(e):
        return [m for m in e.bot_messages(chat["id"]) if m["kind"] == "video"]

    seen = 0
    while True:
        emu.wait_for(lambda e: len(videos(e)) > seen, timeout=300)
        message = videos(emu)[seen]
        seen += 1
        buttons = [b["callback_data"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                   for b in row if b["text"].strip() == "1"]
        if not buttons:  # the final video: the parts are done
            raise RuntimeError("the final video came before the last pick")
        time.sleep(think)
        stopwatch.take(chat["id"])  # the breakdown is of what follows the last pick only
        t0 = time.perf_counter()
        emu.press_button(chat, user, message["message_id"], buttons[0])
        emu.wait_for(lambda e: len(videos(e)) > seen, timeout=600)
        latest = videos(emu)[seen]
        if not any(b["text"].strip() == "1" for row in (latest.get("reply_markup") or {}).get(
                "inline_keyboard", []) for b in row):
            return time.perf_counter() - t0


def bench_bot(runs: int = 3, pick_each: bool = False, think: float = 2.0, auto_after: float = 0.0) -> dict:
    """Through the real bot and the Bot API emulator, with a copy of the library, one song at a
    time: seconds from a 3-minute song's arrival to its first preview (the first run, right
    after the bot started, reported on its own), and from the tap on
    "Auto-pick the rest" on that preview (the last pick) to the final video, each with where
    the time went (``bot.stopwatch``). With ``pick_each``, also a song whose every part is
    picked by hand (``think`` seconds after its preview): seconds from the last pick to the
    final video, the pieces of the earlier parts made meanwhile. ``auto_after``: seconds between
    the first preview and the tap on "Auto-pick the rest" (a person watching part 1 first; the
    auto-picked dance's video is made ahead meanwhile)."""
    import shutil

    from .config import BotSettings
    from .sandbox.emulator import TelegramEmulator
    from .sandbox.web import BotRunner

    settings = BotSettings.from_env()
    if asyncio.run(starter_library.ensure_library(settings.engine)) is not None:
        asyncio.run(library_admin.add_videos([shared_data_dir().joinpath(*DANCER)], settings=settings.engine))
    first, final, first_steps, final_steps, each, each_steps = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        shutil.copytree(settings.engine.data_dir, data, ignore=shutil.ignore_patterns("sessions", "index", "demo", "sandbox"))
        song = tmp / "three-minutes.mp3"
        ffmpeg.run(["-v", "error", "-i", str(_three_minute_song(tmp)), "-c:a", "libmp3lame", str(song)],
                   timeout=ffmpeg.timeout_for(180, ffmpeg.AUDIO_SECONDS_PER_SECOND), check=True)
        with TelegramEmulator() as emu:
            bot_settings = dataclasses.replace(settings, token=emu.token, api_base_url=emu.base_url,
                                               api_file_url=emu.base_file_url,
                                               engine=dataclasses.replace(settings.engine, data_dir=data))
            runner = BotRunner(bot_settings)
            runner.start()
            try:
                for i in range(runs):
                    user = emu.make_user(f"Bench{i}", f"bench{i}")
                    chat = emu.make_private_chat(user)

                    def videos(e):
                        return [m for m in e.bot_messages(chat["id"]) if m["kind"] == "video"]

                    t0 = time.perf_counter()
                    emu.send_file(chat, user, song, kind="audio", mime_type="audio/mpeg")
                    emu.wait_for(videos, timeout=300)
                    first.append(time.perf_counter() - t0)
                    first_steps.append(_settled(chat["id"], "upload"))
                    preview = videos(emu)[0]
                    auto = next(b["callback_data"] for row in preview["reply_markup"]["inline_keyboard"] for b in row
                                if b["text"].startswith("✨"))
                    time.sleep(auto_after)
                    t0 = time.perf_counter()
                    emu.press_button(chat, user, preview["message_id"], auto)
                    emu.wait_for(lambda e: len(videos(e)) >= 2, timeout=600)
                    final.append(time.perf_counter() - t0)
                    final_steps.append(_settled(chat["id"], "final_upload"))
                    emu.wait_for(lambda e: any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])), timeout=60)
                for i in range(runs if pick_each else 0):
                    user = emu.make_user(f"Picker{i}", f"picker{i}")
                    chat = emu.make_private_chat(user)
                    emu.send_file(chat, user, song, kind="audio", mime_type="audio/mpeg")
                    each.append(_pick_each_part(emu, chat, user, think))
                    each_steps.append(_settled(chat["id"], "final_upload"))
            finally:
                runner.stop()
    # the first song meets the engine workers still warming up (numba, the library) right after the
    # bot started; a bot that has been up a few seconds answers as the later runs do
    warm = slice(1, None) if runs > 1 else slice(None)
    result = {"benchmark": "bot", "song_seconds": 180, "workers": settings.workers,
              "seconds_to_first_preview": summarize(first[warm]),
              "first_preview_breakdown_seconds": _breakdown(first_steps[warm], first[warm], FIRST_ANSWER_STEPS),
              "seconds_to_first_preview_right_after_start": round(first[0], 3) if first else None,
              "auto_tap_seconds_after_first_preview": auto_after,
              "seconds_last_pick_to_final_video": summarize(final),
              "final_video_breakdown_seconds": _breakdown(final_steps, final, FINAL_STEPS)}
    if pick_each:
        result["picking_each_part"] = {
            "think_seconds": think, "seconds_last_pick_to_final_video": summarize(each),
            "final_video_breakdown_seconds": _breakdown(each_steps, each, FINAL_STEPS)}
    return result
