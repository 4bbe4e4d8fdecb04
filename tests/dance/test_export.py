"""Pose export: a BVH read back by an independent reader (tests/support/bvh.py) lands every joint
within 2 cm of the exported keypoints on the real dancer, and the keypoint tables carry time,
beat and count per frame."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from choreo_engine.dance import export
from choreo_engine.video.stage import FIGURE_HEIGHT, stage_poses
from tests.support.bvh import forward_kinematics, read_bvh
from tests.video.test_practice import dancer_dance

# BVH joint -> the landmarks it stands on
JOINT_LANDMARKS = {
    "Hips": (23, 24), "LeftUpLeg": (23,), "LeftLeg": (25,), "LeftFoot": (27,), "LeftToeBase": (31,),
    "RightUpLeg": (24,), "RightLeg": (26,), "RightFoot": (28,), "RightToeBase": (32,), "Chest": (11, 12),
    "Head": (7, 8), "LeftArm": (11,), "LeftForeArm": (13,), "LeftHand": (15,), "RightArm": (12,),
    "RightForeArm": (14,), "RightHand": (16,),
}


@pytest.fixture(scope="module")
def exported(loaded, tmp_path_factory):
    shots, analysis = dancer_dance(loaded, 5)
    keypoints = export.choreography_keypoints(shots, analysis)
    d = tmp_path_factory.mktemp("export")
    files = {fmt: writer(keypoints, d / f"dance.{fmt}") for fmt, writer in
             (("bvh", export.write_bvh), ("json", export.write_json), ("csv", export.write_csv))}
    return shots, analysis, keypoints, files


def test_bvh_round_trip_within_2_cm_per_joint(exported):
    shots, analysis, keypoints, files = exported
    bvh = read_bvh(files["bvh"])
    assert bvh.frame_time == pytest.approx(1 / 25)
    assert len(bvh.motion) == len(keypoints.times) == round(analysis.segments[-1].end * 25)
    assert bvh.joints[0].name == "Hips" and bvh.joints[0].channels[:3] == ["Xposition", "Yposition", "Zposition"]
    fk = forward_kinematics(bvh)
    doc = json.loads(files["json"].read_text())
    landmarks = np.array([f["keypoints"] for f in doc["frames"]])[..., :3]
    for name, lms in JOINT_LANDMARKS.items():
        error = np.linalg.norm(fk[:, bvh.index(name)] - landmarks[:, list(lms)].mean(axis=1), axis=1)
        assert error.max() < 0.02, f"{name}: {error.max() * 100:.1f} cm"
    # a body: feet on the floor, head at a person's height, the dancer's left on +X when facing the camera
    assert np.median(fk[:, bvh.index("LeftFoot"), 1]) < 0.2
    assert 1.3 < np.median(fk[:, bvh.index("Head"), 1]) < 1.9
    assert np.median(fk[:, bvh.index("LeftArm"), 0] - fk[:, bvh.index("RightArm"), 0]) > 0.2


def test_rigid_skeleton_stays_close_to_the_landmarks(exported):
    """The exported points are MediaPipe's with each bone at its median length: close, not invented."""
    shots, analysis, keypoints, _ = exported
    metres = export.BODY_HEIGHT_M / FIGURE_HEIGHT  # the staged body is FIGURE_HEIGHT frames tall
    raw = stage_poses(shots, keypoints.times, 1, 1)[..., :2] * metres  # the same staging, x-y
    ours = keypoints.xyz[..., :2] * [1, -1]  # Y up -> image y down

    def centred(p: np.ndarray, lms: tuple[int, ...]) -> np.ndarray:
        return p[:, list(lms)].mean(axis=1) - p[:, [23, 24]].mean(axis=1)

    gaps = {name: np.median(np.linalg.norm(centred(raw, lms) - centred(ours, lms), axis=1))
            for name, lms in JOINT_LANDMARKS.items()}
    assert max(gaps.values()) < 0.06, gaps  # the median gap of every joint is under 6 cm
    assert gaps["Chest"] < 0.02


def test_keypoint_tables_have_time_beat_and_count(exported):
    _, analysis, keypoints, files = exported
    table = pd.read_csv(files["csv"])
    assert table.shape == (len(keypoints.times), 4 + 33 * 4)
    assert list(table.columns[:4]) == ["time", "beat", "count", "part"]
    assert "left_wrist_x" in table.columns and "right_foot_index_visibility" in table.columns
    beats = np.concatenate([s.beats for s in analysis.segments])
    for seg in analysis.segments:  # each part's first beat is a 1, then 2, 3 ... 8, 1 ... on its beats
        for j, beat in enumerate(seg.beats):
            if beat + 0.03 > table["time"].iloc[-1]:
                continue  # a beat in the dance's last frame time
            row = table.iloc[int(np.searchsorted(table["time"].to_numpy(), beat + 0.03))]
            assert row["count"] == j % 8 + 1 and row["part"] == seg.index + 1
            assert beats[int(row["beat"])] == pytest.approx(beat, abs=1e-3)
    assert np.all(np.diff(table["beat"].to_numpy()) >= 0)
    doc = json.loads(files["json"].read_text())
    assert len(doc["landmarks"]) == 33 and len(doc["frames"]) == len(table)
    frame = doc["frames"][len(table) // 2]
    assert np.array(frame["keypoints"]).shape == (33, 4)
    assert frame["count"] == table["count"].iloc[len(table) // 2]
