"""The final video in pieces: each part's frames and each cut's dissolve encoded on their own,
named by what they show, and joined by a stream copy with the song's sound.

Why: the final video is x264-bound (a 3-minute song at 720p is ~30 s of encoding on this
machine). A part's frames depend only on its own shot, and the few frames of the dissolve at a
cut (:data:`.sources.BLEND_FRAMES`, centred on the cut) only on the two shots beside it
(:func:`.sources.cut_plan`), so the final video splits into pieces that each depend on one or
two picks: a part's *body* and the *join* at each cut. A piece is made as soon as its picks are
known (the bot does it in the background after each pick), and when the last part is picked
only its body, its join and the stream-copy concat (with the sound, encoded once) remain; a part
changed afterwards makes its body and its two joins again, nothing else.

The pixels are those of the whole render (:func:`.sources.clip_frames`, the same plan and
frames); only the encoding differs: each piece starts with its own IDR frame (every 2 s as
before within a piece), so the joins add a keyframe per cut (a 3-minute final: ~5 % larger).
Consecutive missing pieces are made in one pass, one x264 run split by the segment muxer
(:func:`.encode.encode_pieces`): one run per piece cost ~0.3 s a piece in starting x264 and
the clip readers again, twice the whole render's time for a 3-minute song made from nothing;
in one pass it takes what the whole render takes. A piece's file name is a hash of
everything that changes its pixels or bitstream (its frames, its shots, the frame size, the
encoder settings: :func:`piece_path`), so a name found on disk is a piece that can be reused,
and pieces are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..ffmpeg import AUDIO_SECONDS_PER_SECOND, media_input, run, sniff_demuxer, timeout_for
from .encode import X264_PARAMS, aac_args, encode_pieces, forward_only
from .shots import Shot
from .sources import cut_plan, planned_frames

__all__ = ["FinalLook", "Piece", "join_pieces", "piece_path", "plan_pieces", "render_pieces", "song_sound"]

# Bump when what a piece's pixels are made from changes in a way its name does not say.
PIECES_VERSION = 1
PIECE_PREFIX = "piece-"


@dataclass(frozen=True)
class FinalLook:
    """Everything besides the shots that decides the final video's pixels and encoding."""

    width: int
    height: int
    fps: float
    fill: str
    blend_frames: int
    crf: int
    preset: str
    video_kbps: float
    audio_kbps: int
    duration: float  # the song's, which the video lasts

    @property
    def n_frames(self) -> int:
        return max(1, int(round(self.duration * self.fps)))


@dataclass(frozen=True)
class Piece:
    """Frames ``first .. first + count - 1`` of the final video, showing the shots of ``parts``
    (one part: its body; two: the dissolve at the cut between them)."""

    parts: tuple[int, ...]
    first: int
    count: int


def plan_pieces(starts: Sequence[float], ends: Sequence[float], look: FinalLook) -> list[Piece]:
    """The pieces of the final video, in order: runs of frames that show the same parts.
    ``starts``/``ends``: the song segments (every part's, known before any pick)."""
    times = np.arange(look.n_frames) / look.fps
    pieces: list[Piece] = []
    for k, (_, shot, partner, _) in enumerate(cut_plan(starts, ends, times, look.blend_frames / look.fps)):
        parts = tuple(sorted({shot, partner} - {-1}))
        if pieces and pieces[-1].parts == parts:
            last = pieces[-1]
            pieces[-1] = Piece(parts, last.first, last.count + 1)
        else:
            pieces.append(Piece(parts, k, 1))
    return pieces


def _shot_identity(shot: Shot) -> tuple:
    """What of a shot decides its pixels: its clip (path, size, time written), its beats and ends on both sides."""
    try:
        st = os.stat(shot.video_path)
        clip = (shot.video_path, st.st_size, st.st_mtime_ns)
    except OSError:
        clip = (shot.video_path, None, None)
    return (clip, round(shot.fps, 6), np.round(shot.src_beats, 6).tolist(), round(shot.src_end, 6),
            np.round(shot.dst_beats, 6).tolist(), round(shot.dst_start, 6), round(shot.dst_end, 6))


def piece_path(folder: str | os.PathLike, piece: Piece, shots: Mapping[int, Shot], look: FinalLook) -> Path:
    """Where ``piece`` is stored: ``piece-<first part>[-<second>]-<hash>.mp4``, the hash of
    everything that changes its pixels or encoding."""
    look_fields = {k: v for k, v in asdict(look).items() if k not in ("duration", "audio_kbps")}
    what = repr((PIECES_VERSION, X264_PARAMS, piece.first, piece.count, sorted(look_fields.items()),
                 [_shot_identity(shots[p]) for p in piece.parts]))
    digest = hashlib.sha256(what.encode()).hexdigest()[:20]
    return Path(folder) / f"{PIECE_PREFIX}{'-'.join(f'{p + 1:03d}' for p in piece.parts)}-{digest}.mp4"


def _render_run(run: list[tuple[Piece, Path]], shots: Mapping[int, Shot], starts: Sequence[float],
                ends: Sequence[float], look: FinalLook, progress: Callable[[float], None] | None,
                threads: int | None = None) -> None:
    """Consecutive pieces, made in one pass (one x264 run split into the pieces' files)."""
    first = run[0][0].first
    count = sum(p.count for p, _ in run)
    times = (first + np.arange(count)) / look.fps
    frames = planned_frames(shots, cut_plan(starts, ends, times, look.blend_frames / look.fps), look.width,
                            look.height, look.fill)
    encode_pieces([path for _, path in run], [p.count for p, _ in run], frames, look.width, look.height, look.fps,
                  video_kbps=look.video_kbps, crf=look.crf, preset=look.preset, threads=threads, progress=progress)


def _share(missing: list[tuple[int, Piece, Path]], share: tuple[int, int]) -> list[tuple[int, Piece, Path]]:
    """The ``share[0]``-th of ``share[1]`` contiguous stretches of the missing pieces, of about
    equal frames (contiguous: consecutive pieces are made in one pass)."""
    k, n = share
    total = sum(p.count for _, p, _ in missing) or 1
    done, mine = 0, []
    for item in missing:
        if int(n * done / total) == k:
            mine.append(item)
        done += item[1].count
    return mine


def render_pieces(shots: Mapping[int, Shot], starts: Sequence[float], ends: Sequence[float], look: FinalLook,
                  folder: str | os.PathLike, *, share: tuple[int, int] = (0, 1),
                  progress: Callable[[float], None] | None = None) -> list[Path | None]:
    """Every piece's path, making the pieces not yet stored whose parts are all in ``shots``
    (by part index; a piece needing an unknown part is None). ``share=(k, n)``: make only the
    k-th of n stretches of the missing pieces (n workers making one final between them).
    Consecutive missing pieces are made in one pass; x264 on one thread when sharing (the shares
    keep the cores busy, and two single-threaded x264 runs side by side take 8 % less than two
    that each spread over both cores)."""
    folder = Path(folder)
    pieces = plan_pieces(starts, ends, look)
    paths = [piece_path(folder, p, shots, look) if all(i in shots for i in p.parts) else None for p in pieces]
    missing = [(i, p, path) for i, (p, path) in enumerate(zip(pieces, paths)) if path is not None and not path.exists()]
    runs: list[list[tuple[int, Piece, Path]]] = []
    for item in _share(missing, share):
        if runs and runs[-1][-1][0] == item[0] - 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    total = sum(p.count for run in runs for _, p, _ in run) or 1
    report = forward_only(progress)
    done = 0
    for run in runs:
        frames = sum(p.count for _, p, _ in run)
        _render_run([(p, path) for _, p, path in run], shots, starts, ends, look,
                    lambda f, base=done, n=frames: report(min(0.999, (base + f * n) / total)),
                    threads=1 if share[1] > 1 else None)
        done += frames
    report(1.0)
    return paths


def song_sound(folder: Path, song_path: str | os.PathLike, duration: float, audio_kbps: int) -> Path:
    """The song's sound for the final video, AAC, encoded once per song, length and bitrate."""
    st = os.stat(song_path)
    what = repr((str(song_path), st.st_size, st.st_mtime_ns, round(duration, 4), audio_kbps))
    path = folder / f"sound-{hashlib.sha256(what.encode()).hexdigest()[:20]}.m4a"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:12]}.part.m4a")
        # the song came from outside: read as local files and accepted containers only
        run(["-nostdin", "-v", "error", "-y", "-t", f"{duration:.4f}",
             *media_input(song_path, sniff_demuxer(song_path)), "-map", "0:a:0", "-vn", *aac_args(audio_kbps),
             "-f", "mp4", str(tmp)], timeout=timeout_for(duration, AUDIO_SECONDS_PER_SECOND), check=True)
        os.replace(tmp, path)
    return path


def join_pieces(paths: Sequence[Path], song_path: str | os.PathLike, look: FinalLook,
                out_path: str | os.PathLike) -> Path:
    """The final video from its pieces (in order): their H.264 copied as is, one after the other,
    with the song's sound (AAC, made once beside the pieces), faststart."""
    out_path = Path(out_path)
    folder = Path(paths[0]).parent
    sound = song_sound(folder, song_path, look.duration, look.audio_kbps)
    listing = folder / f"pieces.{uuid.uuid4().hex[:12]}.tmp"
    # a concat list of our own files (never a user's): their names are ours, with no quotes in them
    listing.write_text("ffconcat version 1.0\n" + "".join(f"file '{Path(p).resolve()}'\n" for p in paths))
    tmp = out_path.with_name(f"{out_path.stem}.{uuid.uuid4().hex[:12]}.part.mp4")
    try:
        run(["-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(sound),
             "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", f"{look.duration:.4f}",
             "-movflags", "+faststart", "-f", "mp4", str(tmp)], timeout=timeout_for(look.duration, 0.2), check=True)
        os.replace(tmp, out_path)
    finally:
        listing.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return out_path
