"""Real dance videos into clips: only the dancing is kept, the lead dancer is followed (issue: real dancers)."""

from __future__ import annotations

import numpy as np
import pytest

from choreo_engine import ffmpeg as engine_ffmpeg
from choreo_engine.dance import ingest, pose, tracking
from tests.support.data import ffmpeg, shared

DANCER = ("dance", "video_mgt", "dancer.avi")
TWO_PEOPLE = ("people", "sports2d", "demo.mp4")
INTRO_SECONDS = 5.0


def test_still_intro_is_cut(tmp_path):
    """The real dancer (22-40 s, dancing) after a 5 s still intro (its first frame frozen, no music)."""
    video = tmp_path / "with-intro.mp4"
    ffmpeg("-ss", "22", "-t", "18", "-i", str(shared(*DANCER)),
           "-vf", f"tpad=start_mode=clone:start_duration={INTRO_SECONDS:g}",
           "-af", f"adelay={int(INTRO_SECONDS * 1000)}:all=1", "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "aac", str(video))
    result = ingest.ingest_dancing(video, tmp_path / "videos")
    assert result.clips, result.refused
    starts = [c.origin_start if c.origin_start is not None else 0.0 for c in result.clips]
    # nothing of the still intro is kept, and the dancing after it is (most of its 18 s)
    assert min(starts) >= INTRO_SECONDS - 0.2, starts
    assert min(starts) <= INTRO_SECONDS + 2.0, starts
    assert 0.5 <= result.kept_share <= 18 / (18 + INTRO_SECONDS), result.kept_share
    for clip in result.clips:
        # each stretch is its own clip with its own music and video, cut where it was found
        assert clip.origin_sha256 == result.source_sha256 != clip.source_sha256
        assert clip.segments and all(s.end <= clip.duration + 0.05 for s in clip.segments)
        assert clip.credit.source == "with-intro.mp4"
        assert abs(engine_ffmpeg.probe_duration(clip.video_path) - clip.duration) < 0.3
        assert len(clip.poses) == pytest.approx(clip.duration * clip.fps, abs=2)
        assert clip.detection_rate >= 0.9


def test_lead_dancer_is_followed_on_two_people(tmp_path):
    path = shared(*TWO_PEOPLE)
    lead = tracking.find_lead(path)
    assert lead.people == 2
    other = next(tr for tr in lead.tracks if tr is not lead.lead)
    lead_box, other_box = np.median(lead.lead.boxes, axis=0), np.median(other.boxes, axis=0)
    # the lead is the larger one, seen for longer: the person walking in the foreground
    assert lead_box[3] - lead_box[1] > other_box[3] - other_box[1]
    assert len(lead.lead.times) >= len(other.times)
    # one fixed crop around the lead that leaves the other person out
    crop = lead.crop
    assert crop is not None
    assert all(crop[0] <= b[0] + 0.02 and b[2] - 0.02 <= crop[2] for b in lead.lead.boxes)
    centre = (other_box[:2] + other_box[2:]) / 2
    assert not (crop[0] <= centre[0] <= crop[2] and crop[1] <= centre[1] <= crop[3])

    frames, fps, _, size = pose.read_frames(path)
    track = pose.estimate_frames(tracking.crop_frames(frames, crop), fps, size)
    poses = tracking.uncrop_poses(track.poses, crop)
    assert track.detection_rate >= 0.6
    assert tracking.check_follows_lead(poses, fps, lead) >= 0.8
    # the same poses claimed to be the other person's: the tracked person switched, refused
    switched = tracking.LeadDancer(lead.tracks, other, crop)
    with pytest.raises(tracking.LeadSwitchError) as refused:
        tracking.check_follows_lead(poses, fps, switched)
    assert "another person" in refused.value.message
