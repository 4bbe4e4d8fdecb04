"""MediaPipe pose on real people (issue: dance library)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from choreo_engine.dance import motion, pose
from tests.support.data import shared


def _detect_image(path) -> np.ndarray | None:
    with pose.PoseEstimator(video=False) as estimator:
        return estimator.estimate(cv2.imread(str(path)))


def test_full_body_found_in_bus_photo():
    p = _detect_image(shared("people", "images", "bus.jpg"))
    assert p is not None
    assert p.shape == (33, 4)
    assert pose.has_full_body(p)
    # the ankles are below the hips and the head above the shoulders (y grows downwards)
    assert p[[27, 28], 1].mean() > p[[23, 24], 1].mean() > p[[11, 12], 1].mean() > p[0, 1]


def test_no_full_body_where_there_is_none():
    """The astronaut is photographed from the chest up: no legs, so no full body."""
    p = _detect_image(shared("people", "images", "astronaut.png"))
    assert p is None or not pose.has_full_body(p)


# sports2d: two people walking outdoors, sometimes at the frame's edge, so fewer full bodies.
@pytest.mark.parametrize("video, min_rate, min_full", [(("sports2d", "demo.mp4"), 0.9, 0.6),
                                                        (("pose2sim", "single_cam01.mp4"), 0.9, 0.8)])
def test_people_found_in_videos(video, min_rate, min_full):
    track = pose.estimate_video(shared("people", *video))
    assert track.poses.shape[1:] == (33, 4)
    assert track.detection_rate >= min_rate
    posed = track.poses[track.detected]
    full = np.mean([pose.has_full_body(p) for p in posed])
    assert full >= min_full


def test_interpolate_short_gaps_only():
    t = np.linspace(0, 1, 50)
    poses = np.repeat(t[:, None, None], 33, axis=1).repeat(4, axis=2).astype(np.float32)
    poses[10:13] = np.nan  # 3 frames at 25 fps: filled
    poses[20:40] = np.nan  # 20 frames (0.8 s): left missing
    out = pose.interpolate_gaps(poses, fps=25.0, max_gap_seconds=0.5)
    assert np.allclose(out[10:13, 0, 0], t[10:13], atol=1e-6)
    assert np.isnan(out[20:40]).all()


def test_normalize_puts_hips_at_origin_in_torso_lengths():
    track = pose.estimate_video(shared("people", "pose2sim", "single_cam01.mp4"))
    poses = pose.interpolate_gaps(track.poses, track.fps)
    norm = pose.normalize(poses, aspect=track.size[0] / track.size[1])
    ok = ~np.isnan(norm[:, 0, 0])
    hips = norm[ok][:, [23, 24], :2].mean(axis=1)
    assert np.allclose(hips, 0.0, atol=1e-5)
    torso = pose.torso_length(norm[ok])
    assert np.median(torso) == pytest.approx(1.0, rel=0.05)


def test_kinematic_beats_find_the_stops_of_a_periodic_motion():
    fps = 30.0
    t = np.arange(0, 8, 1 / fps)
    norm = np.zeros((len(t), 33, 3), dtype=np.float32)
    # arms swing with a stop every 0.5 s (|sin| speed minima at multiples of 0.5 s)
    norm[:, motion.BODY_JOINTS, 0] = (np.cos(2 * np.pi * t) * 0.8)[:, None]
    beats = motion.kinematic_beats(norm, fps)
    expected = np.arange(0.5, 7.6, 0.5)
    assert len(beats) == len(expected)
    assert np.max(np.abs(beats - expected)) < 1.5 / fps


def test_mediapipe_start_up_noise_is_silenced_and_other_stderr_kept():
    """MediaPipe/TFLite print absl warnings from C++ when a graph starts; nothing else is hidden."""
    import subprocess
    import sys

    script = (
        "import os, numpy as np\n"
        "from choreo_engine.dance import pose\n"
        "with pose.PoseEstimator(video=True) as e:\n"
        "    e.estimate(np.zeros((360, 640, 3), np.uint8))\n"
        "    e.estimate(np.zeros((360, 640, 3), np.uint8))\n"
        "with pose._native_noise_filtered():\n"
        "    os.write(2, b'a real error line\\n')\n"
    )
    err = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stderr
    assert "inference_feedback_manager" not in err and "XNNPACK" not in err and "absl::InitializeLog" not in err, err
    assert "a real error line" in err
