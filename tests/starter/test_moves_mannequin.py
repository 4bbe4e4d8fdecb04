"""Procedural moves (choreo_engine.starter.moves) and the mannequin renderer (choreo_engine.starter.mannequin)."""

from __future__ import annotations

import subprocess
import wave

import cv2
import numpy as np
import pytest

from choreo_engine.starter import mannequin as mq
from tests.support import dancer as mv

AMPS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _bone_lengths(world: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(world[:, i] - world[:, j], axis=-1) for i, j in mv.BONES], axis=1)


def _speed(world: np.ndarray) -> np.ndarray:
    """Mean joint displacement per step, ``(T-1,)``."""
    return np.linalg.norm(np.diff(world, axis=0), axis=-1).mean(axis=1)


REST_BONES = _bone_lengths(mv.forward_kinematics(np.array([[mv.rest_params()[k] for k in mv.PARAM_NAMES]])))[0]


def test_vocabulary_has_at_least_15_moves_with_styles_and_lengths():
    assert len(mv.MOVES) >= 15
    for name, m in mv.MOVES.items():
        assert m.name == name
        assert m.n_beats in (2, 3, 4, 6, 8)
        assert m.styles and set(m.styles) <= set(mv.STYLES), name
        assert 0.0 <= m.energy <= 1.0
    for style in mv.STYLES:
        assert len(mv.moves_for_style(style)) >= 4, style
    # anything else dances like pop
    assert [m.name for m in mv.moves_for_style("polka")] == [m.name for m in mv.moves_for_style("pop")]


@pytest.mark.parametrize("name", sorted(mv.MOVES))
def test_move_is_finite_with_constant_bone_lengths(name):
    m = mv.MOVES[name]
    ph = np.linspace(-0.5, 2 * m.n_beats + 0.5, 240)
    for a in (0.0, 0.5, 1.0):
        world = m.skeleton(ph, a)
        assert world.shape == (len(ph), 33, 3)
        assert np.isfinite(world).all()
        bones = _bone_lengths(world)
        np.testing.assert_allclose(bones, np.broadcast_to(REST_BONES, bones.shape), atol=1e-6)
        # the feet stay on (or above) the floor, give or take a tiptoe
        assert world[:, 27:33, 1].min() > mv.FLOOR_Y - 0.03


@pytest.mark.parametrize("name", sorted(mv.MOVES))
def test_amplitude_scales_motion_monotonically(name):
    m = mv.MOVES[name]
    ph = np.arange(0, 2 * m.n_beats, 1 / 24)
    size = [_speed(m.skeleton(ph, a)).mean() for a in AMPS]
    assert all(b >= a - 1e-9 for a, b in zip(size, size[1:])), size
    assert size[-1] > 0.0
    assert size[0] < 0.25 * size[-1], "amplitude 0 should be almost still"


@pytest.mark.parametrize("name", sorted(mv.MOVES))
def test_motion_speed_peaks_near_the_beats(name):
    m = mv.MOVES[name]
    ph = np.arange(0, 3 * m.n_beats, 1 / 48)
    v = _speed(m.skeleton(ph, 1.0))
    mid = 0.5 * (ph[1:] + ph[:-1])
    d = np.abs(mid - np.round(mid))          # distance to the nearest onset, in beats
    near, far = v[d <= 0.2].mean(), v[d >= 0.3].mean()
    assert near > 1.3 * far, (near, far)


def _song(n_beats=96, period=0.5, t0=0.3, seed=0):
    rng = np.random.default_rng(seed)
    beats = t0 + period * np.arange(n_beats)
    # loud and quiet passages of 4 beats, with a little per-beat variation
    energy = np.repeat(rng.integers(0, 11, n_beats // 4 + 1), 4)[:n_beats] + rng.random(n_beats)
    return beats, energy


def test_choreograph_frames_moves_and_rigidity():
    beats, energy = _song()
    duration, fps = 50.0, 25.0
    take = mv.choreograph(beats, duration, fps, "house", energy, seed=3)
    assert take.world.shape == (round(duration * fps), 33, 3)
    assert take.world.dtype == np.float32
    assert np.isfinite(take.world).all()
    bones = _bone_lengths(take.world.astype(np.float64))
    np.testing.assert_allclose(bones, np.broadcast_to(REST_BONES, bones.shape), atol=1e-4)
    names = {n for n, _, _ in take.moves}
    assert len(names) >= 3
    assert names <= set(mv.MOVES)
    house = {m.name for m in mv.moves_for_style("house")}
    assert names <= house
    # blocks tile the beats in order
    ends = [s + n for _, s, n in take.moves]
    assert [s for _, s, _ in take.moves][1:] == ends[:-1]
    assert take.moves[0][1] == 0


@pytest.mark.parametrize("style", list(mv.STYLES) + ["reggaeton-ish"])
def test_choreograph_blends_without_teleports(style):
    beats, energy = _song(n_beats=64, period=0.45)

    def max_step(fps):
        take = mv.choreograph(beats, 30.0, fps, style, energy, seed=1)
        return float(np.linalg.norm(np.diff(take.world, axis=0), axis=-1).max())

    coarse, fine = max_step(100.0), max_step(400.0)
    # continuous motion: 4x the frame rate -> ~1/4 the largest step; a jump would not shrink
    assert fine * 4 < 1.5 * coarse, (coarse, fine)
    assert coarse < 0.16, f"a joint moved {coarse:.3f} m in 10 ms"


@pytest.mark.parametrize("name", sorted(mv.MOVES))
def test_moves_are_fast_but_humanly_so(name):
    m = mv.MOVES[name]
    fps, bpm = 400.0, 120.0
    world = m.skeleton(np.arange(0, 2 * m.n_beats, bpm / 60.0 / fps), 1.0)
    speed = np.linalg.norm(np.diff(world, axis=0), axis=-1) * fps
    assert speed.max() < 11.0, f"{speed.max():.1f} m/s"


def test_choreograph_motion_follows_beat_energy():
    beats, energy = _song(n_beats=160, seed=5)
    fps = 25.0
    take = mv.choreograph(beats, beats[-1] + 0.5, fps, "pop", energy, seed=2)
    t = np.arange(len(take.world)) / fps
    v = np.r_[0.0, _speed(take.world)]
    per_beat = np.array([v[(t >= a) & (t < b)].mean() for a, b in zip(beats[:-1], beats[1:])])
    r = np.corrcoef(per_beat, energy[:-1])[0, 1]
    assert r > 0.4, r


def test_choreograph_hits_land_on_the_song_beats():
    """The body arrives at its key poses on the beats: speed dips there (kinematic beats) and
    peaks between them."""
    beats, energy = _song(n_beats=120, period=0.5)
    fps = 50.0
    take = mv.choreograph(beats, 60.0, fps, "pop", energy, seed=4)
    v = _speed(take.world)
    ph = 0.5 * (take.beat_phase[1:] + take.beat_phase[:-1])
    d = np.abs(ph - np.round(ph))
    assert v[d >= 0.3].mean() > 1.3 * v[d <= 0.2].mean()


def test_choreograph_is_deterministic_given_the_seed():
    beats, energy = _song()
    a = mv.choreograph(beats, 40.0, 25.0, "pop", energy, seed=7)
    b = mv.choreograph(beats, 40.0, 25.0, "pop", energy, seed=7)
    c = mv.choreograph(beats, 40.0, 25.0, "pop", energy, seed=8)
    np.testing.assert_array_equal(a.world, b.world)
    assert a.moves == b.moves
    assert a.moves != c.moves or not np.array_equal(a.world, c.world)


def test_choreograph_dances_fast_songs_at_half_time():
    beats = 0.2 + (60.0 / 174.0) * np.arange(120)
    take = mv.choreograph(beats, 40.0, 25.0, "dnb", np.ones(len(beats)), seed=0)
    assert all(s % 2 == 0 and n % 2 == 0 for _, s, n in take.moves)


def test_project_frames_the_figure():
    rest = mv.forward_kinematics(np.array([[mv.rest_params()[k] for k in mv.PARAM_NAMES]]))
    lm = mv.project(rest, 640, 360)
    assert lm.shape == (1, 33, 4) and lm.dtype == np.float32
    y = lm[0, :, 1] * 360
    head_top = y[0] - 0.2 * (y[27] - y[11])  # above the nose
    assert y.max() - head_top >= 250
    assert y.max() < 360 * 0.97                      # feet above the bottom, with margin
    assert abs(lm[0, [23, 24], 0].mean() - 0.5) < 0.01  # centred
    # the dancer faces the camera: their left shoulder is on the image's right, and nearer than the back
    assert lm[0, 11, 0] > lm[0, 12, 0]
    assert lm[0, 0, 2] < lm[0, 7, 2]
    np.testing.assert_allclose(lm[0, :, 3], 1.0)


def test_project_lowers_visibility_facing_away_in_a_turn():
    sk = mv.MOVES["turn"].skeleton(np.array([0.0, 1.0]), 1.0)   # front, then mid-turn (back)
    lm = mv.project(sk)
    assert lm[0, 0, 3] == 1.0
    assert lm[1, 0, 3] < 0.5
    assert lm[1, 11, 0] < lm[1, 12, 0]   # seen from behind, left is on the image's left


def test_draw_mannequin_draws_in_place_with_every_palette():
    lm = mv.project(mv.MOVES["point_up"].skeleton(np.array([0.5])))[0]
    for name in mq.PALETTES:
        bg = mq.render_background(640, 360, name)
        img = bg.copy()
        mq.draw_mannequin(img, lm, name)
        changed = np.any(img != bg, axis=2)
        assert 0.04 < changed.mean() < 0.4, name
        ys, xs = np.nonzero(changed)
        assert ys.max() - ys.min() > 250 and abs(xs.mean() - 320) < 60
    with pytest.raises(ValueError):
        mq.get_palette("no-such-palette")


def test_render_video_frames_yields_bgr_frames():
    take = mv.choreograph(np.arange(0, 4, 0.5), 2.0, 10.0, "pop", np.ones(8), seed=0)
    frames = [f.copy() for f in mq.render_video_frames(take.landmarks(320, 180), 320, 180, "mint")]
    assert len(frames) == 20
    assert all(f.shape == (180, 320, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[10])


def test_mediapipe_detects_the_mannequin_without_swapping_left_and_right():
    beats = 0.2 + 0.5 * np.arange(12)
    take = mv.choreograph(beats, 3.0, 10.0, "pop", np.linspace(2, 8, 12), seed=11)
    rep = mq.mediapipe_check(take.landmarks(640, 360), 640, 360)
    assert rep.detection_rate == 1.0
    assert rep.n_swapped == 0
    assert rep.mean_error_px < 8.0, rep.joint_error_px
    assert max(rep.joint_error_px.values()) < 14.0, rep.joint_error_px


def _tone_wav(path, seconds=1.5, sr=22050):
    t = np.arange(int(seconds * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(y.tobytes())


def test_write_video_makes_a_playable_h264_mp4_with_audio(tmp_path):
    import imageio_ffmpeg

    wav = tmp_path / "tone.wav"
    _tone_wav(wav)
    take = mv.choreograph(np.arange(0, 2, 0.5), 1.0, 20.0, "pop", np.ones(4), seed=0)
    out = tmp_path / "dance.mp4"
    n = mq.write_video(out, mq.render_video_frames(take.landmarks(320, 180), 320, 180), 20.0, 320, 180,
                       audio_path=wav)
    assert n == 20
    cap = cv2.VideoCapture(str(out))
    try:
        count = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            assert frame.shape == (180, 320, 3)
            count += 1
    finally:
        cap.release()
    assert count == 20
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                           capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "yuv420p" in probe.stderr
    assert "Audio: aac" in probe.stderr


def test_write_video_rejects_a_wrong_frame_size(tmp_path):
    with pytest.raises(ValueError):
        mq.write_video(tmp_path / "bad.mp4", iter([np.zeros((10, 10, 3), np.uint8)]), 10.0, 20, 20)
