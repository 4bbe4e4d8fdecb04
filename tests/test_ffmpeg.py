"""The ffmpeg module: runs past their timeout are killed and raise the typed error; probes of real files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from choreo_engine import ffmpeg
from choreo_engine.errors import ChoreoError, EncodeError, FFmpegError, FFmpegTimeoutError, NotVideoError
from tests.support.data import shared

# a source that never ends: ffmpeg runs until it is stopped
ENDLESS = ["-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-f", "null", "-"]


def _ffmpeg_children() -> list[int]:
    """Process ids of this process's live (not zombie) children running ffmpeg."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == os.getpid() and "ffmpeg" in name and state != "Z":
            found.append(int(entry.name))
    return found


def test_a_run_over_its_timeout_is_killed_and_raises_the_typed_error():
    t0 = time.monotonic()
    with pytest.raises(FFmpegTimeoutError) as err:
        ffmpeg.run(ENDLESS, timeout=1.0)
    assert time.monotonic() - t0 < 10.0
    assert isinstance(err.value, FFmpegError) and isinstance(err.value, ChoreoError)
    assert err.value.code == "ffmpeg_timeout" and "1 s" in err.value.message
    assert _ffmpeg_children() == []


def test_a_run_within_its_timeout_returns_and_check_raises_on_failure(tmp_path):
    proc = ffmpeg.run(["-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25:duration=0.2",
                       "-f", "null", "-"], timeout=60.0)
    assert proc.returncode == 0
    with pytest.raises(FFmpegError) as err:
        ffmpeg.run(["-nostdin", "-v", "error", "-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"],
                   timeout=60.0, check=True)
    assert not isinstance(err.value, FFmpegTimeoutError)
    assert "missing.mp4" in err.value.message


def _frames(n: int | None = None):
    frame = np.zeros((64, 64, 3), np.uint8)
    k = 0
    while n is None or k < n:
        frame[:] = k % 256
        yield frame
        k += 1


def _to_bytes(frame: np.ndarray) -> memoryview:
    return np.ascontiguousarray(frame).data


RAW_IN = ["-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "64x64", "-framerate", "25",
          "-i", "pipe:0"]


def test_the_frame_pipe_encodes_every_frame(tmp_path):
    out = tmp_path / "ten.mp4"
    n = ffmpeg.pipe_frames([*RAW_IN, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], _frames(10), _to_bytes,
                           10, timeout=60.0)
    assert n == 10
    info = ffmpeg.probe_video(out)
    assert (info.width, info.height, info.frames) == (64, 64, 10)
    assert info.duration == pytest.approx(0.4)


def test_the_frame_pipe_is_killed_at_its_deadline_while_frames_keep_coming():
    # endless frames, -re reads them at 25 fps: the run can only end by its deadline
    t0 = time.monotonic()
    with pytest.raises(FFmpegTimeoutError):
        ffmpeg.pipe_frames(["-re", *RAW_IN, "-f", "null", "-"], _frames(), _to_bytes, timeout=1.0)
    assert time.monotonic() - t0 < 10.0
    assert _ffmpeg_children() == []


def test_the_frame_pipe_is_killed_at_its_deadline_while_a_write_blocks():
    # this ffmpeg never reads its stdin: the pipe fills and a write blocks until the watchdog kills it
    t0 = time.monotonic()
    with pytest.raises(FFmpegTimeoutError):
        ffmpeg.pipe_frames(ENDLESS, _frames(), _to_bytes, timeout=1.0)
    assert time.monotonic() - t0 < 10.0
    assert _ffmpeg_children() == []


def test_a_failing_encode_raises_encode_error():
    with pytest.raises(EncodeError):
        ffmpeg.pipe_frames([*RAW_IN, "-c:v", "no-such-codec", "-f", "null", "-"], _frames(5), _to_bytes, 5,
                           timeout=60.0)


def test_probing_a_real_video_gives_its_size_rate_and_length():
    dancer = shared("dance", "video_mgt", "dancer.avi")
    info = ffmpeg.probe_video(dancer)
    # ffmpeg's header: 518x496 [SAR 1:1], 25 fps, Duration 00:01:02.90 (1572 frames)
    assert (info.width, info.height, info.fps, info.sar) == (518, 496, 25.0, 1.0)
    assert info.frames == 1572 and info.duration == pytest.approx(1572 / 25)
    assert info.aspect == pytest.approx(518 / 496)
    assert ffmpeg.probe_duration(dancer) == pytest.approx(62.90)
    assert ffmpeg.has_video_stream(dancer)


def test_probing_a_real_song_gives_its_exact_length():
    song = shared("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
    assert ffmpeg.probe_duration(song) == pytest.approx(2710336 / 44100)


def test_probing_what_is_not_media(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert ffmpeg.probe_duration(text) is None
    assert not ffmpeg.has_video_stream(text)
    with pytest.raises(NotVideoError):
        ffmpeg.probe_video(text)


def test_timeouts_grow_with_the_media_length():
    assert ffmpeg.timeout_for(0) == ffmpeg.BASE_TIMEOUT
    assert ffmpeg.timeout_for(600) > ffmpeg.timeout_for(60) > ffmpeg.timeout_for(0)
    assert ffmpeg.timeout_for(None) == ffmpeg.timeout_for(ffmpeg.UNKNOWN_MEDIA_SECONDS)
    assert ffmpeg.timeout_for(60, ffmpeg.AUDIO_SECONDS_PER_SECOND) < ffmpeg.timeout_for(60)


# --------------------------------------------------------------------------- media from outside


def test_sniffing_names_the_container_by_its_first_bytes(tmp_path, hostile_corpus):
    made = {ext: tmp_path / f"tone.{ext}" for ext in ("wav", "flac", "mp3", "m4a", "webm", "aac")}
    for ext, path in made.items():
        ffmpeg_run_quietly("-f", "lavfi", "-i", "sine=d=0.5", str(path))
    assert {ext: ffmpeg.sniff_demuxer(p) for ext, p in made.items()} == {
        "wav": "wav", "flac": "flac", "mp3": "mp3", "m4a": "mov", "webm": "matroska", "aac": "aac"}
    assert ffmpeg.sniff_demuxer(shared("music", "xmoto", "foxrun.ogg")) == "ogg"
    assert ffmpeg.sniff_demuxer(shared("dance", "video_mgt", "dancer.avi")) == "avi"
    by_name = {f.name: ffmpeg.sniff_demuxer(f.path) for f in hostile_corpus}
    assert by_name["12 MB id3 tag + 2 s song"] == "mp3"  # past the tag
    for name in ("playlist.m3u8 as mp3", "dash manifest as ogg", "concat list as mp3", "sdp (rtp) as wav",
                 "png as mp3", "jpg as audio", "zip as mp3", "gz as ogg", "text as ogg", "random bytes"):
        assert by_name[name] is None, name


def ffmpeg_run_quietly(*args: str) -> None:
    ffmpeg.run(["-nostdin", "-v", "error", "-y", *args], timeout=60.0, check=True)


def test_a_playlist_reaches_other_files_unless_the_input_is_restricted(tmp_path):
    song = tmp_path / "elsewhere.mp3"
    ffmpeg_run_quietly("-f", "lavfi", "-i", "sine=d=2", str(song))
    # an HLS playlist sent as audio, saved under Telegram's extension as songs were before
    playlist = tmp_path / "song.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{song}\n#EXT-X-ENDLIST\n")
    concat = tmp_path / "song.ogg"
    concat.write_text(f"ffconcat version 1.0\nfile '{song.name}'\n")
    for listing in (playlist, concat):
        # ffmpeg's defaults follow the list to the other file...
        assert ffmpeg.run(["-v", "error", "-i", str(listing), "-f", "null", "-"], timeout=60.0).returncode == 0
        # ... the engine's input options do not open the list at all
        assert ffmpeg.sniff_demuxer(listing) is None
        proc = ffmpeg.run(["-v", "error", *ffmpeg.media_input(listing), "-f", "null", "-"], timeout=60.0)
        assert proc.returncode != 0
        assert ffmpeg.probe_media(listing) == ffmpeg.MediaProbe(None)


def test_decoded_sound_is_counted_and_stops_at_the_cap(hostile_corpus):
    files = {f.name: f.path for f in hostile_corpus}
    two_hours = ffmpeg.decode_sound(files["2 h mp3, 8 kbps"], 22050, 30.0, demuxer="mp3", timeout=60.0)
    assert two_hours.cut and len(two_hours.samples) == 30 * 22050
    # a header claiming 1 s does not end the count: 12 minutes are there
    lying = ffmpeg.decode_sound(files["flac header 1 s, 12 min of tone"], 22050, 60.0, demuxer="flac", timeout=60.0)
    assert ffmpeg.probe_media(files["flac header 1 s, 12 min of tone"]).duration == pytest.approx(1.0, abs=0.05)
    assert lying.cut and len(lying.samples) == 60 * 22050
    whole = ffmpeg.decode_sound(files["steady tone, no beat"], 22050, None, demuxer="mov", timeout=60.0)
    assert not whole.cut and whole.returncode == 0 and len(whole.samples) == pytest.approx(30 * 22050, abs=2048)


def test_probing_tells_the_streams_of_what_opens(hostile_corpus):
    files = {f.name: f.path for f in hostile_corpus}
    mute = ffmpeg.probe_media(files["video without sound"])
    assert (mute.demuxer, mute.opened, mute.audio, mute.video) == ("mov", True, False, True)
    subtitles = ffmpeg.probe_media(files["mp4, subtitles only"])
    assert subtitles.opened and not subtitles.audio and not subtitles.video
    assert not ffmpeg.probe_media(files["truncated m4a, no moov"]).opened
    tagged = ffmpeg.probe_media(files["12 MB id3 tag + 2 s song"])
    assert tagged.audio and tagged.video  # (its "video": the tag's picture)
