"""The dance library: real dancer, starter library, storage rules (issue: dance library)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import numpy as np
import pytest
from scipy.stats import spearmanr
from sqlalchemy.exc import IntegrityError

from bot.admin import library as library_admin
from choreo_engine.dance import library as engine_library
from storage import Database
from bot.admin.library import StoredLibrary
from tests.support.data import settings_for, ffmpeg, shared

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


def _rows(data_dir, sql):
    con = sqlite3.connect(data_dir / "choreo.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _files(data_dir):
    return sorted(p.name for d in ("poses", "videos") if (data_dir / d).exists() for p in (data_dir / d).iterdir())


def test_real_dancer_is_ingested(library_dir):
    """The real dancer video becomes one clip per stretch of dancing (its still moments left out)."""
    clips = _rows(
        library_dir,
        "SELECT c.id, c.detection_rate, c.poses_file, COUNT(s.id), c.duration, c.origin_start, c.origin_end "
        "FROM clips c JOIN library_segments s ON s.clip_id = c.id WHERE c.source = 'dancer.avi' "
        "GROUP BY c.id ORDER BY c.origin_start")
    assert len(clips) >= 1
    assert sum(c[3] for c in clips) >= 10
    kept = sum(c[4] for c in clips)
    assert 0.6 * 62.9 <= kept <= 62.9
    # added without a style: each clip's style is guessed from the starter music nearest its own
    starter_styles = {r[0] for r in _rows(library_dir, "SELECT style FROM clips WHERE kind = 'demo'")}
    guesses = _rows(library_dir, "SELECT style, style_guessed FROM clips WHERE source = 'dancer.avi'")
    assert all(style in starter_styles and guessed == 1 for style, guessed in guesses), guesses
    for clip_id, rate, poses_file, n_segments, duration, start, end in clips:
        assert rate >= 0.9
        poses, fps = engine_library.load_poses(library_dir / poses_file)
        assert fps == 25.0 and poses.shape[1:] == (33, 4)
        assert len(poses) == pytest.approx(duration * fps, abs=2)
        assert start is None or abs((end - start) - duration) < 0.1
        posed = ~np.isnan(poses[:, 0, 0])
        ankles = poses[posed][:, [27, 28], 1].mean(axis=1)
        hips = poses[posed][:, [23, 24], 1].mean(axis=1)
        assert np.mean(ankles > hips) >= 0.95
        segs = _rows(library_dir, f"SELECT start, end, beats, motion_levels, loudness_levels FROM library_segments "
                                  f"WHERE clip_id = {clip_id} ORDER BY idx")
        for seg_start, seg_end, beats, motion, loud in segs:
            beats = json.loads(beats)
            assert seg_start < seg_end <= duration + 0.05 and len(beats) >= 8
            assert len(json.loads(motion)) == len(beats) == len(json.loads(loud))
            assert all(0 <= v <= 10 for v in json.loads(motion))


def test_starter_library_motion_follows_loudness(library_dir):
    rows = _rows(library_dir, "SELECT s.motion_levels, s.loudness_levels, c.style, c.pose_source FROM library_segments s "
                              "JOIN clips c ON c.id = s.clip_id WHERE c.kind = 'demo'")
    motion = np.concatenate([json.loads(r[0]) for r in rows])
    loud = np.concatenate([json.loads(r[1]) for r in rows])
    rho = spearmanr(motion, loud).statistic
    assert rho > 0.2, rho
    styles = {r[2] for r in rows}
    assert len(styles) >= 5
    # library-wide quantiles spread the levels over the whole 0..10 range
    assert motion.min() <= 1 and motion.max() >= 9


def test_stats_and_export(library_settings, tmp_path):
    stats = asyncio.run(library_admin.library_stats(library_settings))
    n_clips = _rows(library_settings.data_dir, "SELECT COUNT(*) FROM clips")[0][0]
    assert stats["clips"] == n_clips > 8  # the starter clips and the real dancer's
    assert stats["segments"] == sum(c["segments"] for c in stats["clip_list"])
    assert set(stats["clips_by_pose_source"]) <= {"mediapipe", "generator"}
    assert sum(stats["clips_by_pose_source"].values()) == n_clips
    out = tmp_path / "library.csv"
    n = asyncio.run(library_admin.export_csv(out, library_settings))
    import pandas as pd

    table = pd.read_csv(out)
    assert len(table) == n == stats["segments"]
    assert {"clip", "tempo", "loudness_level_1", "motion_level_8", "f00"} <= set(table.columns)


def test_same_file_twice_adds_nothing(library_settings):
    before = asyncio.run(library_admin.library_stats(library_settings))
    results = asyncio.run(library_admin.add_videos([shared("dance", "video_mgt", "dancer.avi")], settings=library_settings))
    assert results[0].status == "already there"
    after = asyncio.run(library_admin.library_stats(library_settings))
    assert after["segments"] == before["segments"]


@pytest.fixture
def empty_settings(tmp_path):
    return settings_for(tmp_path / "data")


def test_bad_videos_leave_nothing_behind(empty_settings, tmp_path):
    song = shared(*VIBE_ACE)
    no_person = tmp_path / "no_person.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=25", "-i", str(song), "-t", "12", "-shortest",
           "-c:v", "libx264", "-c:a", "aac", str(no_person))
    corrupt = tmp_path / "corrupt.mp4"
    data = bytearray(no_person.read_bytes())
    corrupt.write_bytes(bytes(data[:64]) + bytes(len(data) - 64))  # header kept, body zeroed
    mute = tmp_path / "mute.mp4"
    ffmpeg("-i", str(shared("dance", "video_mgt", "dancer.avi")), "-t", "8", "-an", "-c:v", "libx264", str(mute))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    results = asyncio.run(library_admin.add_videos([corrupt, no_person, mute, text], settings=empty_settings))
    assert [r.status for r in results] == ["failed"] * 4
    assert "person" in results[1].message
    assert "no sound" in results[2].message
    assert all(r.message and "Traceback" not in r.message for r in results)
    assert _rows(empty_settings.data_dir, "SELECT COUNT(*) FROM clips")[0][0] == 0
    assert _rows(empty_settings.data_dir, "SELECT COUNT(*) FROM library_segments")[0][0] == 0
    assert _files(empty_settings.data_dir) == []


def test_failed_write_rolls_back_everything(library_settings, empty_settings, tmp_path):
    """A clip whose rows cannot all be written (a duplicate segment index) leaves no trace."""
    async def scenario():
        db = await Database.open(library_settings.db_path)
        try:
            clip = await StoredLibrary(db).load()
        finally:
            await db.close()
        # a real clip's arrays, from the library
        first = clip.segments[0]
        poses, fps = engine_library.load_poses(first.poses_path)
        seg = engine_library.SegmentRecord(0, 0.0, 1.0, np.arange(8) * 0.1, 120.0, clip.descriptors[0], np.zeros(8, int),
                                           np.ones(8), clip.start_poses[0], clip.start_velocities[0],
                                           clip.end_poses[0], clip.end_velocities[0])
        video = tmp_path / "v.mp4"
        video.write_bytes(b"x")
        ingested = engine_library.IngestedClip("f" * 64, "broken", 10.0, fps, 640, 360, 120.0, poses * 0.5,
                                               "mediapipe", 1.0, [seg, seg], video_path=video)
        db = await Database.open(empty_settings.db_path)
        try:
            repo = StoredLibrary(db)
            with pytest.raises(IntegrityError):
                await repo.add_clip(ingested)
            assert await repo.count_segments() == 0
            assert not await repo.has_clip("f" * 64)
        finally:
            await db.close()

    asyncio.run(scenario())
    assert [p for p in _files(empty_settings.data_dir) if p.endswith(".npz")] == []


def test_remove_clip_leaves_planning_and_keeps_its_files(library_settings, tmp_path):
    """A soft delete: the clip is no longer counted or planned with, but its rows and files stay
    (sessions that were offered it still render it; its segment ids are never reused)."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(library_settings.data_dir, copy)
    settings = settings_for(copy)
    stats = asyncio.run(library_admin.library_stats(settings))
    victim = stats["clip_list"][0]
    assert asyncio.run(library_admin.remove_clip(str(victim["id"]), settings))
    after = asyncio.run(library_admin.library_stats(settings))
    assert after["clips"] == stats["clips"] - 1
    assert after["segments"] == stats["segments"] - victim["segments"]
    assert len(_files(copy)) == 2 * stats["clips"]
    assert not asyncio.run(library_admin.remove_clip(str(victim["id"]), settings))  # removed once
    assert not asyncio.run(library_admin.remove_clip("no-such-clip", settings))


def test_descriptors_made_another_way_are_described_again(library_settings, tmp_path):
    """After the descriptor changes, stored descriptors are computed again from the clips' videos;
    a clip stored without sound (as early versions did) is left out and reported instead."""
    import shutil

    from bot import choreography
    from choreo_engine.music import features

    fresh = choreography.loaded_library(library_settings).library.descriptors
    copy = tmp_path / "copy"
    shutil.copytree(library_settings.data_dir, copy)
    con = sqlite3.connect(copy / "choreo.db")
    with con:  # as a library described by the first revision would look, but with zeros
        con.execute("UPDATE clips SET descriptor_tag = 'default-r1'")
        con.execute("UPDATE library_segments SET music_start = NULL, descriptor = ?",
                    (np.zeros(fresh.shape[1], np.float32).tobytes(),))
        version = int(con.execute("SELECT value FROM meta WHERE key = 'library_version'").fetchone()[0])
        silent_id, silent_name, silent_video, silent_segments = con.execute(
            """SELECT c.id, c.name, c.video_file, COUNT(s.id) FROM clips c JOIN library_segments s ON s.clip_id = c.id
               WHERE c.kind = 'demo' GROUP BY c.id ORDER BY c.id LIMIT 1""").fetchone()
    con.close()
    video = copy / silent_video
    ffmpeg("-i", str(video), "-an", "-c:v", "copy", str(video.with_suffix(".silent.mp4")))
    video.with_suffix(".silent.mp4").replace(video)

    loaded = choreography.loaded_library(settings_for(copy))
    redone = loaded.library.descriptors
    kept = np.array([s.clip_id != silent_id for s in choreography.loaded_library(library_settings).library.segments])
    assert len(redone) == len(fresh) - silent_segments and loaded.version > version
    # from the stored video's (re-encoded) audio, not the source's: close, not identical
    before = fresh[kept]
    cosine = np.sum(redone * before, axis=1) / (np.linalg.norm(redone, axis=1) * np.linalg.norm(before, axis=1))
    assert np.median(cosine) > 0.99 and cosine.min() > 0.95, cosine.min()
    tags = dict(_rows(copy, "SELECT id, descriptor_tag FROM clips"))
    assert tags.pop(silent_id) == features.descriptor_tag("default") + "-unavailable"  # not tried again
    assert set(tags.values()) == {features.descriptor_tag("default")}

    stats = asyncio.run(library_admin.library_stats(settings_for(copy)))
    assert stats["stale_clips"] == [silent_name]

    async def refresh_again():
        db = await Database.open(copy / "choreo.db")
        try:
            return await StoredLibrary(db).refresh_descriptors("default")
        finally:
            await db.close()

    assert asyncio.run(refresh_again()) == 0
