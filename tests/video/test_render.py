"""Rendering (pipeline step 7): retiming, previews, the final video in both modes, the sheet.

Material is real and built here, without the database: a 20 s "library clip" cut from the
shared dancer video (H.264, no audio, as the library keeps it) with its MediaPipe poses and
its own beats, a second copy of it with red and blue swapped (so a cut between the two is
measurable from the picture alone), and real songs from the shared music.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from choreo_engine import ffmpeg as ffmpeg_run
from choreo_engine.music import audio
from choreo_engine.dance import pose
from choreo_engine import video as render
from choreo_engine.dance.library import LibrarySegment
from choreo_engine.video import Shot
from tests.support.data import ffmpeg, shared

FPS = 25
CLIP_START, CLIP_SECONDS = 10.0, 20.0


@dataclass
class Material:
    clip_a: Path  # blue background
    clip_b: Path  # same footage, red and blue swapped
    poses: Path
    poses_small: Path  # the same dance framed differently: smaller and off-centre in its frame
    clip_segments: list[audio.Segment]  # 8-beat segments of the clip, clip seconds
    song: Path
    analysis: audio.SongAnalysis


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> Material:
    dancer = shared("dance", "video_mgt", "dancer.avi")
    song = shared("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
    d = tmp_path_factory.mktemp("render")
    clip_a, clip_b = d / "clip_a.mp4", d / "clip_b.mp4"
    common = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-g", "25", "-an"]
    ffmpeg("-ss", str(CLIP_START), "-t", str(CLIP_SECONDS), "-i", str(dancer), "-vf", "scale=-2:'min(480,ih)'",
           *common, str(clip_a))
    ffmpeg("-i", str(clip_a), "-vf", "colorchannelmixer=rr=0:rb=1:br=1:bb=0", *common, str(clip_b))
    track = pose.estimate_video(clip_a, stride=2)
    assert track.detection_rate > 0.8
    poses = pose.interpolate_gaps(track.poses, track.fps, 1.0).astype(np.float32)
    np.savez_compressed(d / "poses.npz", poses=poses, fps=np.float32(track.fps))
    small = poses.copy()
    small[..., 0] = 0.65 + 0.3 * (poses[..., 0] - 0.5)
    small[..., 1] = 0.30 + 0.5 * poses[..., 1]
    small[..., 2] = 0.5 * poses[..., 2]
    np.savez_compressed(d / "poses_small.npz", poses=small, fps=np.float32(track.fps))
    y = audio.decode(dancer, max_seconds=None)
    sr = audio.SAMPLE_RATE
    clip_audio = y[int(CLIP_START * sr) : int((CLIP_START + CLIP_SECONDS) * sr)]
    clip_segments = audio.analyze(clip_audio).segments
    _, analysis = audio.load_and_analyze(song)
    return Material(clip_a, clip_b, d / "poses.npz", d / "poses_small.npz", clip_segments, song, analysis)


def _shot(m: Material, seg: audio.Segment, k: int, video: Path | None = None, poses: Path | None = None) -> Shot:
    cs = m.clip_segments[k % len(m.clip_segments)]
    return Shot(str(video or m.clip_a), str(poses or m.poses), FPS, cs.beats, cs.end, seg.beats, seg.start, seg.end,
                label=f"clip {k}")


def _alternating(m: Material, poses_b: Path | None = None) -> list[Shot]:
    """A on even song segments, B on odd ones; clip segments in a shuffled order."""
    order = np.random.default_rng(1).permutation(len(m.clip_segments))
    return [_shot(m, seg, int(order[i % len(order)]), m.clip_a if i % 2 == 0 else m.clip_b,
                  m.poses if i % 2 == 0 or poses_b is None else poses_b)
            for i, seg in enumerate(m.analysis.segments)]


@dataclass
class Probe:
    duration: float
    video: str
    audio: str
    width: int
    height: int
    frames: int
    fps: float


def probe(path: Path) -> Probe:
    err = subprocess.run([ffmpeg_run.ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, mi, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err).groups()
    video = re.search(r"Stream #\S+.*Video: (.*)", err)
    aud = re.search(r"Stream #\S+.*Audio: (.*)", err)
    cap = cv2.VideoCapture(str(path))
    info = Probe(int(h) * 3600 + int(mi) * 60 + float(s), video.group(1) if video else "", aud.group(1) if aud else "",
                 int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                 int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS))
    cap.release()
    return info


def read_frames(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return np.stack(frames)


def assert_telegram_mp4(path: Path, p: Probe) -> None:
    assert p.video.startswith("h264") and "yuv420p" in p.video, p.video
    assert p.audio.startswith("aac"), p.audio
    head = path.read_bytes()[: 1 << 16]
    assert b"moov" in head and (b"mdat" not in head or head.index(b"moov") < head.index(b"mdat"))  # faststart


# --------------------------------------------------------------------------- retiming


def test_retime_lands_clip_beats_on_song_beats(material):
    seg = material.analysis.segments[2]
    shot = _shot(material, seg, 1)
    src = shot.source_times(seg.beats)
    k = min(len(seg.beats), len(shot.src_beats))
    assert np.allclose(src[:k], shot.src_beats[:k], atol=1e-9)
    # frames hold at the clip's ends instead of running off them
    frames = render.source_frame_times(shot, np.array([-100.0, seg.start, seg.end, 1e4]))
    duration = render.video_info(shot.video_path).duration
    assert frames[0] == 0.0 and frames[-1] <= duration
    assert np.all(np.diff(frames) >= 0)


def test_shot_from_library_and_song_segments(material):
    seg = material.analysis.segments[1]
    cs = material.clip_segments[2]
    lib = LibrarySegment(id=7, clip_id=1, clip_name="dancer.avi", index=2, start=float(cs.beats[0]), end=cs.end,
                         beats=cs.beats, tempo=120.0, loudness_levels=cs.loudness_levels,
                         motion_levels=np.zeros(8, int), video_path=str(material.clip_a),
                         poses_path=str(material.poses), fps=25.0)
    shot = Shot.from_segments(lib, seg)
    assert (shot.dst_start, shot.dst_end, shot.src_end, shot.label) == (seg.start, seg.end, cs.end, "dancer.avi")
    assert np.array_equal(shot.dst_beats, seg.beats) and np.array_equal(shot.src_beats, cs.beats)


# --------------------------------------------------------------------------- final video


def test_final_clips_cuts_on_the_beat(material, output_dir):
    """Duration = the song's; audio; each cut (A blue <-> B red) is centred on its song beat within a frame."""
    shots = _alternating(material)
    seen = []
    out = render.render_final(shots, material.song, output_dir / "render_final_clips_240.mp4", mode="clips",
                              height=240, fps=FPS, progress=seen.append)
    p = probe(out)
    song_seconds = ffmpeg_run.probe_duration(material.song)
    assert abs(p.duration - song_seconds) <= 1.0 / FPS
    assert abs(p.frames / p.fps - song_seconds) <= 1.0 / FPS
    assert_telegram_mp4(out, p)
    assert min(p.width, p.height) == 240
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))

    frames = read_frames(out).astype(np.float32)
    redness = frames[..., 2].mean(axis=(1, 2)) - frames[..., 0].mean(axis=(1, 2))
    t = np.arange(len(frames)) / FPS
    sched = render.schedule(shots, t)
    inner = np.ones(len(t), bool)
    for s in shots[1:]:
        inner &= np.abs(t - s.dst_start) > 0.2
    level_a = np.median(redness[inner & (sched % 2 == 0)])
    level_b = np.median(redness[inner & (sched % 2 == 1)])
    assert level_b - level_a > 40  # the two clips are told apart by colour
    frac = (redness - level_a) / (level_b - level_a)  # 0 = clip A shown, 1 = clip B
    errors = []
    for i, s in enumerate(shots[1:], start=1):
        b = s.dst_start
        g = frac if i % 2 == 1 else 1.0 - frac  # rises from 0 to 1 across this cut
        k = int(np.floor(b * FPS))
        window = range(max(k - 4, 0), min(k + 5, len(g) - 1))
        cross = [j for j in window if g[j] < 0.5 <= g[j + 1]]
        assert cross, f"no cut near {b:.2f} s"
        j = cross[0]
        tc = (j + (0.5 - g[j]) / (g[j + 1] - g[j])) / FPS
        errors.append(tc - b)
    assert np.max(np.abs(errors)) <= 1.0 / FPS, errors
    # the dissolve is short: 2 s after each cut only the new clip shows
    assert np.all(np.abs(frac[inner & (sched % 2 == 0)]) < 0.2)


def test_avatar_figure_is_normalised_and_flows_across_cuts(material):
    """Clips framed differently dance at one size on one spot; joints do not jump at the cuts."""
    shots = _alternating(material, poses_b=material.poses_small)
    W = H = 360
    t = np.arange(int(material.analysis.duration * FPS)) / FPS
    lm = render.stage_poses(shots, t, W, H)
    assert np.isfinite(lm).all()
    px = lm[..., :2] * (W, H)
    torso = np.linalg.norm(px[:, [11, 12]].mean(1) - px[:, [23, 24]].mean(1), axis=1)
    hip_x = px[:, [23, 24], 0].mean(1)
    feet = px[:, 27:33, 1].max(1)
    sched = render.schedule(shots, t)
    a, b = sched % 2 == 0, sched % 2 == 1
    assert abs(np.median(torso[a]) / np.median(torso[b]) - 1) < 0.1
    assert abs(np.median(hip_x[a]) - np.median(hip_x[b])) < 0.05 * W
    assert abs(np.median(feet[a]) - np.median(feet[b])) < 0.03 * H
    assert 0.3 * W < np.median(hip_x) < 0.7 * W
    # the figure fits the frame
    assert np.percentile(px[..., 1], 1) > 0 and np.percentile(feet, 99) <= H

    def jumps(poses: np.ndarray) -> tuple[float, float]:
        step = np.linalg.norm(np.diff(poses[..., :2] * (W, H), axis=0), axis=2)[:, 11:29].mean(1)
        near = np.zeros(len(step), bool)
        for s in shots[1:]:
            k = int(s.dst_start * FPS)
            near[max(k - 8, 0) : k + 8] = True
        return float(step[near].max()), float(np.percentile(step[~near], 99))

    at_cut, elsewhere = jumps(lm)
    hard_cut, _ = jumps(render.stage_poses(shots, t, W, H, crossfade=0.0))
    assert at_cut < hard_cut
    assert at_cut < 3.0 * elsewhere, (at_cut, elsewhere)


def test_final_avatar_video(material, output_dir):
    from choreo_engine.starter import mannequin

    shots = _alternating(material, poses_b=material.poses_small)[:6]
    end = shots[-1].dst_end
    song = output_dir / "render_song_part.m4a"
    ffmpeg("-i", str(material.song), "-t", f"{end:.4f}", "-vn", "-c:a", "aac", str(song))
    out = render.render_final(shots, song, output_dir / "render_final_avatar_240.mp4", mode="avatar", height=240)
    p = probe(out)
    assert abs(p.duration - ffmpeg_run.probe_duration(song)) <= 1.0 / FPS
    assert_telegram_mp4(out, p)
    frames = read_frames(out)
    bg = mannequin.render_background(p.width, p.height, "studio", floor_y=render.FLOOR_ROW * p.height)
    heights = []
    for f in frames[:: FPS // 2]:
        mask = np.abs(f.astype(int) - bg.astype(int)).max(axis=2) > 40
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        assert len(rows) and len(cols), "no figure drawn"
        heights.append(rows[-1] - rows[0])
        assert 0.25 * p.width < cols.mean() < 0.75 * p.width
    heights = np.array(heights) / p.height
    assert 0.45 < np.median(heights) < 0.95


def test_long_song_stays_under_50_mb(material, tmp_path):
    """The longest shared track, at 720p, keeps under Telegram's 50 MB."""
    song = shared("music", "xmoto", "batcave.ogg")
    _, analysis = audio.load_and_analyze(song)
    order = np.random.default_rng(2).permutation(len(material.clip_segments))
    shots = [_shot(material, seg, int(order[i % len(order)]), material.clip_a if i % 3 else material.clip_b)
             for i, seg in enumerate(analysis.segments)]
    out = render.render_final(shots, song, tmp_path / "long.mp4", mode="clips", height=720)
    p = probe(out)
    assert out.stat().st_size < 50_000_000
    assert min(p.width, p.height) == 720
    assert abs(p.duration - ffmpeg_run.probe_duration(song)) <= 1.0 / FPS
    assert_telegram_mp4(out, p)


def test_tight_size_budget_is_kept(material, tmp_path):
    shots = _alternating(material)
    budget = 1_000_000
    out = render.render_final(shots, material.song, tmp_path / "tight.mp4", mode="clips", height=360,
                              max_bytes=budget)
    p = probe(out)
    assert out.stat().st_size <= budget
    assert abs(p.duration - ffmpeg_run.probe_duration(material.song)) <= 1.0 / FPS
    # the budget left too few bits per pixel at 360p: the frame was made smaller
    assert min(p.width, p.height) < 360


def test_bitrate_budget_scales_with_duration():
    short = render.video_bitrate_budget(60, 50_000_000)
    long = render.video_bitrate_budget(240, 50_000_000)
    assert short > 3 * long
    # the budget, spent in full, fits
    for seconds in (60, 240, 600):
        kbps = render.video_bitrate_budget(seconds, 50_000_000)
        assert (kbps + render.AUDIO_KBPS) * (seconds + 1) * 1000 / 8 < 50_000_000


# --------------------------------------------------------------------------- previews


def _tiles(frame: np.ndarray, n: int, aspect: float) -> list[np.ndarray]:
    cols, rows, tw, th, W, H = render.preview_layout(n, aspect)
    assert frame.shape[:2] == (H, W)
    return [frame[r * (th + 4) : r * (th + 4) + th, c * (tw + 4) : c * (tw + 4) + tw]
            for r, c in (divmod(j, cols) for j in range(n))]


def test_preview_six_numbered_tiles(material, output_dir):
    seg = material.analysis.segments[4]
    shots = [_shot(material, seg, k) for k in range(6)]
    out = render.render_preview(shots, material.song, output_dir / "render_preview.mp4", start=seg.start,
                                end=seg.end)
    p = probe(out)
    assert out.stat().st_size <= 2_000_000
    assert p.height <= 480 and p.width <= 1280
    assert abs(p.duration - seg.duration) <= 1.0 / 20 + 0.03
    assert_telegram_mp4(out, p)
    frames = read_frames(out)
    mid = frames[len(frames) // 2]
    cv2.imwrite(str(output_dir / "render_preview_mid.png"), mid)
    aspect = shots[0].display_aspect()
    tiles = _tiles(mid, 6, render.snap_aspect(aspect))
    th, tw = tiles[0].shape[:2]
    badge = int(np.clip(round(0.15 * min(tw, th)), 14, 40))
    margin = max(4, int(round(0.035 * min(tw, th))))
    corners = [t[margin : margin + 2 * badge, margin : margin + 2 * badge].astype(int) for t in tiles]
    bodies = [t[:, 2 * badge + margin :].astype(int) for t in tiles]
    for c in corners:  # a yellow badge in each tile
        b, g, r = c[..., 0], c[..., 1], c[..., 2]
        yellow = (r > 190) & (g > 150) & (b < 120)
        assert yellow.mean() > 0.3
    for i in range(6):
        for j in range(i + 1, 6):
            assert np.abs(corners[i] - corners[j]).mean() > 3, "badges show the same number"
            assert np.abs(bodies[i] - bodies[j]).mean() > 1.0, "tiles show the same picture"


def test_preview_respects_a_small_size_limit(material, tmp_path):
    seg = material.analysis.segments[-1]  # the longest segment
    shots = [_shot(material, seg, k) for k in range(4)]
    out = render.render_preview(shots, material.song, tmp_path / "small.mp4", start=seg.start, end=seg.end,
                                numbers=[3, 4, 5, 6], max_bytes=250_000)
    p = probe(out)
    assert out.stat().st_size <= 250_000
    assert p.height <= 480
    _, _, tw, th, W, H = render.preview_layout(4, render.snap_aspect(shots[0].display_aspect()), p.height)
    assert p.width / p.height == pytest.approx(W / H, rel=0.03)  # 2 x 2 grid


def test_single_preview(material, output_dir):
    seg = material.analysis.segments[5]
    out = render.render_single_preview(_shot(material, seg, 3), material.song,
                                       output_dir / "render_single_preview.mp4", number=2)
    p = probe(out)
    assert p.height <= 480 and out.stat().st_size <= 2_000_000
    assert abs(p.duration - seg.duration) <= 0.1
    assert p.audio.startswith("aac")


# --------------------------------------------------------------------------- sheet


def test_sheet_png(material, output_dir):
    shots = _alternating(material, poses_b=material.poses_small)
    n = len(material.analysis.segments)
    out = render.render_sheet(material.analysis, shots, output_dir / "render_sheet.png", width_px=1200,
                              title="Vibe Ace")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imread(str(out))
    assert (img.shape[1], img.shape[0]) == render.sheet_size(1200, n)
    assert img.shape[0] > img.shape[1] * 0.4
    # mostly white paper, with drawing on it
    assert 200 < img.mean() < 250 and img.std() > 20
    # given levels are drawn instead of the ones measured from the poses; a wrong number of shots is refused
    levels = [np.arange(len(s.beats)) % 11 for s in material.analysis.segments]
    drawn = render.render_sheet(material.analysis, shots, output_dir / "render_sheet_levels.png", width_px=1200,
                                title="Vibe Ace", motion_levels=levels)
    with_levels = cv2.imread(str(drawn))
    assert with_levels.shape == img.shape and np.abs(with_levels.astype(int) - img).sum(axis=2).astype(bool).mean() > 0.005
    with pytest.raises(ValueError):
        render.render_sheet(material.analysis, shots[:-1], output_dir / "bad.png")


# --------------------------------------------------------------------------- the final in pieces


def _piece_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Piece file name -> (inode, mtime_ns)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("piece-*.mp4")}


@pytest.fixture(scope="module")
def short_dance(material, tmp_path_factory) -> tuple[Path, list[Shot]]:
    """The song's first 20 s and the alternating shots of the segments within them (the pieces
    tests render the final twice or three times)."""
    song = tmp_path_factory.mktemp("short") / "song.ogg"
    ffmpeg("-i", str(material.song), "-t", "20", "-c:a", "libvorbis", str(song))
    return song, [s for s in _alternating(material) if s.dst_end <= 19.5]


def _parts_of(name: str) -> str:
    """"piece-002-003-<hash>.mp4" -> "002-003": the parts a piece shows."""
    return "-".join(name.split("-")[1:-1])


def test_final_from_pieces_matches_the_whole_render(short_dance, tmp_path, output_dir):
    """Made from pieces (the first parts ahead of the rest, as the bot does after each pick), the
    final has the whole render's length, frame size and parts: each frame shows the same clip."""
    song, shots = short_dance
    starts, ends = [s.dst_start for s in shots], [s.dst_end for s in shots]
    pieces = tmp_path / "pieces"
    look = dict(height=240, fps=FPS)
    early = {i: shots[i] for i in range(3)}
    assert render.render_final_in_pieces(early, starts, ends, song, pieces, tmp_path / "x.mp4", **look) is None
    # parts 1-3 decide three bodies and the two cuts between them; nothing else is made yet
    assert sorted(_parts_of(n) for n in _piece_files(pieces)) == [
        "001", "001-002", "002", "002-003", "003"]
    # a piece lost on its own (its neighbours kept) is made again alone
    next(pieces.glob("piece-002-" + "?" * 20 + ".mp4")).unlink()
    whole = render.render_final(shots, song, tmp_path / "whole.mp4", mode="clips", **look)
    joined = render.render_final_in_pieces(dict(enumerate(shots)), starts, ends, song, pieces,
                                           output_dir / "render_final_pieces_240.mp4", **look)
    p, q = probe(joined), probe(whole)
    assert_telegram_mp4(joined, p)
    assert (p.frames, p.width, p.height) == (q.frames, q.width, q.height)
    assert abs(p.duration - q.duration) <= 1.0 / FPS
    a, b = read_frames(joined).astype(np.float32), read_frames(whole).astype(np.float32)
    redness_a = a[..., 2].mean(axis=(1, 2)) - a[..., 0].mean(axis=(1, 2))
    redness_b = b[..., 2].mean(axis=(1, 2)) - b[..., 0].mean(axis=(1, 2))
    assert np.max(np.abs(redness_a - redness_b)) < 3.0  # the same clip in every frame, dissolves included
    assert np.mean(np.abs(a - b)) < 2.0  # two encodes of the same pictures


def test_a_changed_part_remakes_only_its_pieces(material, short_dance, tmp_path):
    """Changing one part makes its body and its two cuts again; every other piece file is kept
    (same inode, same time), and the new final's frames away from that part are the old ones."""
    song, shots = short_dance
    starts, ends = [s.dst_start for s in shots], [s.dst_end for s in shots]
    pieces = tmp_path / "pieces"
    look = dict(height=240, fps=FPS)
    old = render.render_final_in_pieces(dict(enumerate(shots)), starts, ends, song, pieces,
                                        tmp_path / "v1.mp4", **look)
    before = _piece_files(pieces)
    k = 2
    changed = list(shots)
    changed[k] = _shot(material, material.analysis.segments[k], k + 3, material.clip_b if k % 2 == 0 else material.clip_a)
    new = render.render_final_in_pieces(dict(enumerate(changed)), starts, ends, song, pieces,
                                        tmp_path / "v2.mp4", **look)
    after = _piece_files(pieces)
    made = sorted(_parts_of(n) for n in set(after) - set(before))
    assert made == [f"{k:03d}-{k + 1:03d}", f"{k + 1:03d}", f"{k + 1:03d}-{k + 2:03d}"]
    assert all(after[n] == before[n] for n in before)  # nothing else rewritten
    a, b = read_frames(old), read_frames(new)
    assert len(a) == len(b)
    t = np.arange(len(a)) / FPS
    near = (t >= starts[k] - 0.2) & (t < ends[k] + 0.2)
    assert np.array_equal(a[~near], b[~near])  # the other parts: the very same pictures
    redness = lambda f: f[..., 2].astype(np.float32).mean(axis=(1, 2)) - f[..., 0].astype(np.float32).mean(axis=(1, 2))
    inside = (t >= starts[k] + 0.2) & (t < ends[k] - 0.2)
    assert np.all(np.abs(redness(a[inside]) - redness(b[inside])) > 40)  # the changed part shows the other clip
    # and the new pieces, made in another encoder run, decode as well as the rest: the new
    # final is the changed dance rendered whole, frame for frame
    whole = read_frames(render.render_final(changed, song, tmp_path / "whole.mp4", mode="clips", **look))
    assert len(whole) == len(b) and np.mean(np.abs(whole.astype(np.float32) - b.astype(np.float32))) < 2.0
