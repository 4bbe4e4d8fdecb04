"""A corpus of hostile files posing as songs, made in a few seconds for the tests (issue 12).

:func:`make_corpus` writes each file into a folder and says how it is sent (as what kind of
Telegram message, with which mime and file name) and which refusal it must get: an engine
error code (``choreo_engine.errors``, answered as ``error.<code>`` in the user's language) or
``unsupported`` (refused from the message itself, before any download).

Big media are made without encoding them sample by sample: the 8-channel 192 kHz FLAC is
written frame by frame here (constant subframes: a quiet square wave, ~0.4 MB a minute), the
two-hour MP3 repeats one minute of constant-bitrate frames, the two-hour Opus loops one minute
by stream copy.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.data import ffmpeg, shared

UNSUPPORTED = "unsupported"  # the handler's answer to what is no song at all
SONG = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@dataclass(frozen=True)
class HostileFile:
    name: str
    path: Path
    expected: str  # an engine error code, or UNSUPPORTED
    kind: str = "document"  # the Telegram message kind it is sent as
    mime: str = "audio/mpeg"
    file_name: str | None = None  # as the sender names it (default: the file's own name)

    @property
    def sent_name(self) -> str:
        return self.file_name or self.path.name


# --------------------------------------------------------------------------- FLAC, written directly


def _crc_table(poly: int, width: int) -> np.ndarray:
    top, mask = 1 << (width - 1), (1 << width) - 1
    table = []
    for byte in range(256):
        crc = byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
        table.append(crc)
    return np.array(table, dtype=np.uint32)


_CRC8, _CRC16 = _crc_table(0x07, 8), _crc_table(0x8005, 16)


def _crc_of_rows(rows: np.ndarray, table: np.ndarray, width: int) -> np.ndarray:
    """The FLAC CRC (8 or 16 bits, MSB first, init 0) of every row of bytes at once."""
    crc = np.zeros(len(rows), dtype=np.uint32)
    mask = (1 << width) - 1
    for col in range(rows.shape[1]):
        crc = ((crc << 8) & mask) ^ table[((crc >> (width - 8)) ^ rows[:, col]) & 0xFF]
    return crc


def _coded_number(n: int) -> bytes:
    """FLAC's UTF-8-like coding of a frame number."""
    if n < 0x80:
        return bytes([n])
    if n < 0x800:
        return bytes([0xC0 | n >> 6, 0x80 | n & 0x3F])
    if n < 0x10000:
        return bytes([0xE0 | n >> 12, 0x80 | (n >> 6) & 0x3F, 0x80 | n & 0x3F])
    return bytes([0xF0 | n >> 18, 0x80 | (n >> 12) & 0x3F, 0x80 | (n >> 6) & 0x3F, 0x80 | n & 0x3F])


def square_wave_flac(path: Path, seconds: float, channels: int = 8, rate: int = 192_000, amplitude: int = 300,
                     claimed_seconds: float | None = None) -> Path:
    """A 16-bit FLAC of a quiet square wave (rate / 2048 Hz: 93.75 Hz at 192 kHz), every channel alike.

    Each 1024-sample frame holds one constant subframe per channel, so minutes of 8 channels
    at 192 kHz take a few MB and a fraction of a second to write. ``claimed_seconds``: the
    length its header states instead of the true one.
    """
    block = 1024
    n_frames = int(seconds * rate) // block
    rate_code = {192_000: 0b0011, 96_000: 0b1011, 48_000: 0b1010, 44_100: 0b1001}[rate]
    # sync + fixed blocking, block size 1024 (0b1010) and rate, channels, 16 bits per sample
    head = bytes([0xFF, 0xF8, 0b1010 << 4 | rate_code, (channels - 1) << 4 | 0b100 << 1])
    bodies = np.stack([np.frombuffer((b"\x00" + int(v & 0xFFFF).to_bytes(2, "big")) * channels, dtype=np.uint8)
                       for v in (amplitude, -amplitude)])
    claimed = n_frames * block if claimed_seconds is None else int(claimed_seconds * rate)
    info = block.to_bytes(2, "big") * 2 + bytes(6)
    info += (rate << 44 | (channels - 1) << 41 | 15 << 36 | claimed).to_bytes(8, "big") + bytes(16)
    out = bytearray(b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info)
    # frames grouped by the length of their coded number, each group's CRCs computed at once
    for lo, hi in ((0, 0x80), (0x80, 0x800), (0x800, 0x10000), (0x10000, 1 << 21)):
        idx = np.arange(lo, min(hi, n_frames))
        if not len(idx):
            continue
        heads = np.frombuffer(b"".join(head + _coded_number(int(i)) for i in idx), dtype=np.uint8)
        heads = heads.reshape(len(idx), -1)
        frames = np.concatenate([heads, _crc_of_rows(heads, _CRC8, 8).astype(np.uint8)[:, None], bodies[idx % 2]],
                                axis=1)
        crc = _crc_of_rows(frames, _CRC16, 16)
        out += np.concatenate([frames, (crc >> 8).astype(np.uint8)[:, None], (crc & 0xFF).astype(np.uint8)[:, None]],
                              axis=1).tobytes()
    path.write_bytes(out)
    return path


# --------------------------------------------------------------------------- WAV with a chosen header


def wav_with_header(path: Path, data: bytes, claimed_bytes: int, rate: int = 8000) -> Path:
    """8-bit mono WAV whose RIFF and data sizes state ``claimed_bytes`` whatever ``data`` holds."""
    header = b"RIFF" + struct.pack("<I", min(claimed_bytes + 36, 0xFFFFFFFF)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate, 1, 8)
    header += b"data" + struct.pack("<I", claimed_bytes)
    path.write_bytes(header + data)
    return path


def _tone_u8(seconds: float, rate: int = 8000, freq: float = 250.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (128 + 20 * np.sin(2 * np.pi * freq * t)).astype(np.uint8).tobytes()


def _music_u8(wav: Path, seconds: float) -> bytes:
    """``seconds`` of the 8 kHz mono 8-bit music in ``wav`` (a plain PCM WAV), repeated as needed."""
    raw = wav.read_bytes()
    pcm = raw[raw.index(b"data") + 8 :]
    n = int(seconds * 8000)
    return (pcm * (n // len(pcm) + 1))[:n]


def id3_tag(size: int, seed: int = 7) -> bytes:
    """An ID3v2.3 tag of ``size`` bytes: one APIC frame of random 'picture' bytes."""
    body_size = size - 10
    frame_data = b"\x00image/jpeg\x00\x03\x00" + random.Random(seed).randbytes(body_size - 10 - 14)
    frame = b"APIC" + struct.pack(">I", len(frame_data)) + b"\x00\x00" + frame_data
    synchsafe = bytes([(body_size >> 21) & 0x7F, (body_size >> 14) & 0x7F, (body_size >> 7) & 0x7F, body_size & 0x7F])
    return b"ID3\x03\x00\x00" + synchsafe + frame


# --------------------------------------------------------------------------- the corpus

PLAYLIST = "#EXTM3U\n#EXTINF:10,local\n{local}\n#EXTINF:10,remote\nhttp://127.0.0.1:9/remote.mp3\n"
HLS_MEDIA = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
             "#EXTINF:10.0,\nhttp://127.0.0.1:9/seg0.ts\n#EXTINF:10.0,\n{local}\n#EXT-X-ENDLIST\n")
DASH = ('<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT10S"><Period><AdaptationSet mimeType="audio/mp4"><Representation id="a" '
        'bandwidth="64000"><BaseURL>http://127.0.0.1:9/a.m4a</BaseURL></Representation></AdaptationSet></Period></MPD>\n')
CONCAT = "ffconcat version 1.0\nfile '{local}'\nfile 'http://127.0.0.1:9/b.mp3'\n"
SDP = "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n"


def _ffmpeg_made(tmp: Path) -> dict[str, Path]:
    """What ffmpeg makes (in parallel: a few seconds in all)."""
    music = shared(*SONG)
    tmp.mkdir(parents=True, exist_ok=True)
    jobs = {
        "music.wav": ["-ss", "20", "-t", "12", "-i", str(music), "-vn", "-ac", "1", "-ar", "8000", "-c:a", "pcm_u8"],
        "music2s.mp3": ["-ss", "20", "-t", "2", "-i", str(music), "-vn", "-c:a", "libmp3lame", "-b:a", "128k"],
        "music2s.ogg": ["-ss", "20", "-t", "2", "-i", str(music), "-vn", "-c:a", "libvorbis"],
        "music2s.m4a": ["-ss", "20", "-t", "2", "-i", str(music), "-vn", "-c:a", "aac", "-movflags", "+faststart"],
        "music2s-moov-at-end.m4a": ["-ss", "20", "-t", "2", "-i", str(music), "-vn", "-c:a", "aac"],
        "minute8k.mp3": ["-f", "lavfi", "-i", "sine=f=220:r=8000:d=60", "-c:a", "libmp3lame", "-b:a", "8k",
                         "-write_xing", "0", "-id3v2_version", "0"],
        "minute.opus": ["-f", "lavfi", "-i", "sine=f=220:r=48000:d=60", "-c:a", "libopus", "-b:a", "8k"],
        "tone.m4a": ["-f", "lavfi", "-i", "sine=f=440:r=44100:d=30", "-af", "volume=0.3", "-c:a", "aac"],
        "tone.mp3": ["-f", "lavfi", "-i", "sine=f=330:r=44100:d=20", "-af", "volume=0.3", "-c:a", "libmp3lame"],
        "silence.wav": ["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "20", "-c:a", "pcm_s16le"],
        "silent-video.mp4": ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3", "-c:v", "libx264",
                             "-pix_fmt", "yuv420p"],
        "timecode.mov": ["-f", "lavfi", "-i", "color=s=64x64:d=1:r=10", "-c:v", "libx264", "-timecode",
                         "01:00:00:00", "-f", "mov"],
        "picture.png": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", "1"],
        "picture.jpg": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", "1"],
    }
    subs = tmp / "lyrics.srt"
    subs.write_text("1\n00:00:00,000 --> 00:00:02,000\nla la la\n")
    jobs["subtitles-only.mp4"] = ["-i", str(subs), "-c:s", "mov_text"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda item: ffmpeg(*item[1], str(tmp / item[0])), jobs.items()))
    # the second step of two-step files
    ffmpeg("-i", str(tmp / "timecode.mov"), "-map", "0:d", "-c", "copy", "-f", "mov", str(tmp / "data-only.mov"))
    ffmpeg("-stream_loop", "119", "-i", str(tmp / "minute.opus"), "-c", "copy", str(tmp / "two-hours.opus"))
    return {name: tmp / name for name in [*jobs, "data-only.mov", "two-hours.opus"]}


def _truncated(src: Path, dest: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def make_corpus(tmp: Path) -> list[HostileFile]:
    """The hostile files, written into ``tmp`` (≈ 60 MB, a few seconds)."""
    tmp.mkdir(parents=True, exist_ok=True)
    made = _ffmpeg_made(tmp / "made")
    local = str(made["tone.mp3"])

    def write(name: str, data: bytes | str) -> Path:
        path = tmp / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    rng = random.Random(12)
    noise = bytes([0x42]) + rng.randbytes(256 * 1024 - 1)  # (a first byte no container starts with)
    music8k = made["music.wav"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(made["music2s.mp3"], "song.mp3")
    files = [
        # lists of other files and URLs, posing as audio
        HostileFile("playlist.m3u8 as mp3", write("playlist.mp3", PLAYLIST.format(local=local)), "unsupported_format"),
        HostileFile("hls playlist as m4a", write("stream.m4a", HLS_MEDIA.format(local=local)), "unsupported_format",
                    mime="audio/mp4"),
        HostileFile("hls playlist by its mime", write("stream.m3u8", HLS_MEDIA.format(local=local)), UNSUPPORTED,
                    mime="application/vnd.apple.mpegurl"),
        HostileFile("m3u playlist as audio", write("mix.m3u", PLAYLIST.format(local=local)), UNSUPPORTED,
                    mime="audio/x-mpegurl"),
        HostileFile("dash manifest as ogg", write("manifest.ogg", DASH), "unsupported_format", mime="audio/ogg"),
        HostileFile("concat list as mp3", write("concat.mp3", CONCAT.format(local=local)), "unsupported_format"),
        HostileFile("sdp (rtp) as wav", write("stream.wav", SDP), "unsupported_format", mime="audio/wav"),
        HostileFile("id3 tag + playlist", write("tagged-playlist.mp3", id3_tag(2048) + PLAYLIST.format(local=local).encode()),
                    "not_audio"),
        # lying headers
        HostileFile("wav header 20 min, 10 s of tone", wav_with_header(tmp / "claims-20-min.wav", _tone_u8(10),
                                                                       8000 * 60 * 20), "no_beat", mime="audio/wav"),
        HostileFile("wav header 1 s, 20 min of music", wav_with_header(tmp / "claims-1-s.wav", _music_u8(music8k, 1200),
                                                                       8000), "too_short", mime="audio/wav"),
        HostileFile("flac header 1 s, 12 min of tone", square_wave_flac(tmp / "claims-1-s.flac", 720, channels=2,
                                                                        rate=48_000, claimed_seconds=1), "too_long",
                    mime="audio/flac"),
        # damaged
        HostileFile("truncated mp3", _truncated(made["music2s.mp3"], tmp / "truncated.mp3", 0.6), "too_short"),
        HostileFile("truncated ogg", _truncated(made["music2s.ogg"], tmp / "truncated.ogg", 0.6), "too_short",
                    mime="audio/ogg"),
        HostileFile("truncated m4a", _truncated(made["music2s.m4a"], tmp / "truncated.m4a", 0.6), "too_short",
                    mime="audio/mp4"),
        HostileFile("truncated m4a, no moov", _truncated(made["music2s-moov-at-end.m4a"], tmp / "no-moov.m4a", 0.6),
                    "not_audio", mime="audio/mp4"),
        HostileFile("zero-length", write("empty.mp3", b""), "empty", kind="audio"),
        HostileFile("random bytes", write("noise.mp3", noise), "unsupported_format", kind="audio"),
        HostileFile("id3 tag + random bytes", write("tagged-noise.mp3", id3_tag(4096) + noise), "not_audio"),
        # big in memory or time
        HostileFile("8 ch 192 kHz flac, 9.5 min", square_wave_flac(tmp / "8ch-192k.flac", 570), "no_beat",
                    mime="audio/flac"),
        HostileFile("2 h mp3, 8 kbps", write("two-hours.mp3", made["minute8k.mp3"].read_bytes() * 120), "too_long",
                    kind="audio"),
        HostileFile("2 h opus, 8 kbps", made["two-hours.opus"], "too_long", mime="audio/ogg"),
        HostileFile("12 MB id3 tag + 2 s song", write("huge-tag.mp3", id3_tag(12 << 20) + made["music2s.mp3"].read_bytes()),
                    "too_short"),
        # no sound in it
        HostileFile("video without sound", made["silent-video.mp4"], "no_audio_track", kind="video", mime="video/mp4"),
        HostileFile("mp4, subtitles only", made["subtitles-only.mp4"], "not_audio", mime="video/mp4"),
        HostileFile("mov, timecode data only", made["data-only.mov"], "not_audio", mime="video/quicktime"),
        HostileFile("png as mp3", made["picture.png"], "unsupported_format", file_name="cover.mp3"),
        HostileFile("jpg as audio", made["picture.jpg"], "unsupported_format", kind="audio", mime="audio/mpeg"),
        HostileFile("zip as mp3", write("album.zip", archive.getvalue()), "unsupported_format", file_name="album.mp3"),
        HostileFile("gz as ogg", write("song.ogg.gz", gzip.compress(made["music2s.ogg"].read_bytes())),
                    "unsupported_format", mime="audio/ogg", file_name="song.ogg"),
        HostileFile("text as ogg", write("lyrics.ogg", "Never gonna give you up\n" * 200), "unsupported_format",
                    mime="audio/ogg"),
        HostileFile("pure silence", made["silence.wav"], "silent", kind="audio", mime="audio/wav"),
        HostileFile("steady tone, no beat", made["tone.m4a"], "no_beat", kind="audio", mime="audio/mp4"),
        HostileFile("../../etc/passwd.mp3", made["tone.mp3"], "no_beat", file_name="../../etc/passwd.mp3"),
    ]
    return files
