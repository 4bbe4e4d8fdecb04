"""Adding real dance videos to the library: files, folders and links, for the command line and /learn.

Sources are expanded first (a folder into its video files, recursively; a link into the videos it
stands for, downloaded by :mod:`.download`), then each file is taken by its content hash: one
already cut into clips (by an earlier, maybe interrupted, run) or met earlier in this run is
skipped as a duplicate, so running the same folder again resumes where it stopped. Each new file
is cut to its dancing by the engine (``choreo_engine.dance.ingest``) in a worker process started
fresh (spawned: MediaPipe's and numba's threads stay out of the caller, the bot, whose engine
pool forks its workers), reporting its frames through a small file, and each stretch is stored
as its own clip in one transaction. Unlabelled clips get
the style of the starter music nearest theirs, marked as a guess.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from choreo_engine import ffmpeg
from choreo_engine.dance import ingest
from choreo_engine.dance.library import Credit, IngestedClip, file_sha256
from choreo_engine.errors import ChoreoError
from choreo_engine.music import features
from choreo_engine.music.index import MusicIndex
from choreo_engine.settings import Settings

from . import download
from .library import StoredLibrary, open_library

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".3gp", ".mpg", ".mpeg", ".flv", ".wmv"}
# A style guess takes the votes of this many nearest starter segments per segment.
STYLE_NEIGHBOURS = 6


@dataclass
class AddResult:
    """What became of one source video: ``status`` is "added", "already there" or "failed"."""

    path: str
    status: str
    clip_id: int | None = None  # the first clip added
    segments: int = 0
    message: str = ""
    pose_source: str = ""
    clip_ids: list[int] = field(default_factory=list)
    kept_share: float = 0.0
    duration: float = 0.0
    people: int = 0
    pose_share: float = 0.0  # of the kept frames, those with a detected pose
    style: str | None = None
    style_guessed: bool = False


@dataclass
class PendingVideo:
    path: Path
    credit: Credit
    label: str  # what the summary calls it (the file, or the link it came from)
    downloaded: bool = False  # ours to delete once taken in (the library keeps its own copy)


def video_files(directory: Path) -> list[Path]:
    """Every video file under ``directory``, in a stable order."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def expand_sources(sources: Iterable[str | os.PathLike], download_dir: Path,
                   performer: str | None = None, licence: str | None = None) -> tuple[list[PendingVideo], list[AddResult]]:
    """Files to ingest (folders walked, links downloaded) and the sources refused on the way."""
    pending: list[PendingVideo] = []
    refused: list[AddResult] = []
    for raw in sources:
        source = str(raw)
        if download.is_link(source):
            for got in download.download_all([source], download_dir):
                if got.path is None:
                    refused.append(AddResult(got.url, "failed", message=got.refused))
                    continue
                credit = got.credit
                credit.performer = performer or credit.performer
                credit.licence = licence or credit.licence
                pending.append(PendingVideo(got.path, credit, got.url, downloaded=True))
            continue
        path = Path(source)
        files = video_files(path) if path.is_dir() else [path]
        for f in files:
            if not f.is_file():
                refused.append(AddResult(str(f), "failed", message="no such file"))
                continue
            pending.append(PendingVideo(f, Credit(source=f.name, performer=performer, licence=licence), str(f)))
    return pending, refused


class StyleGuesser:
    """The style of a clip's music by its nearest starter segments (the music index of the starter
    clips, whose styles are known)."""

    def __init__(self, styles: list[str], descriptors: np.ndarray, seed: int = 0) -> None:
        self.styles = styles
        self.index = MusicIndex(seed=seed).fit(descriptors) if len(styles) >= 2 else None

    def guess(self, clip: IngestedClip) -> str | None:
        if self.index is None or not clip.segments:
            return None
        votes: Counter[str] = Counter()
        for seg in clip.segments:
            for match in self.index.query(seg.descriptor, n=STYLE_NEIGHBOURS):
                votes[self.styles[match.position]] += match.similarity
        return votes.most_common(1)[0][0] if votes else None


def _frames(path: Path) -> int:
    try:
        info = ffmpeg.probe_video(path)
        return max(0, int(info.frames)) if info.frames and info.frames > 0 else int(info.duration * info.fps)
    except Exception:  # noqa: BLE001 - an unreadable file is refused by the ingest with its reason
        return 0


def _ingest_in_worker(path: Path, video_dir: Path, descriptor: str, style: str | None, credit: Credit,
                      follow_lead: bool, progress_path: Path,
                      starter: tuple[list[str], np.ndarray, int] | None) -> ingest.VideoIngest:
    """Run in the spawned worker: the ingest, with the frames done written to ``progress_path``;
    without ``style``, each clip's style guessed from the ``starter`` (styles, descriptors, seed)."""
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % 25 < n:  # about once a second of video
            tmp = progress_path.with_suffix(".tmp")
            tmp.write_text(str(done))
            os.replace(tmp, progress_path)

    video = ingest.ingest_dancing(path, video_dir, descriptor, style, credit, progress, follow_lead=follow_lead)
    if style is None and starter is not None:
        guesser = StyleGuesser(*starter)  # KMeans (OpenMP) here, never in the caller: see bot.service.jobs
        for clip in video.clips:
            clip.style = guesser.guess(clip)
            clip.style_guessed = clip.style is not None
    return video


def _frames_done(progress_path: Path) -> int:
    try:
        return int(progress_path.read_text())
    except (OSError, ValueError):
        return 0


async def _ingest(pool: ProcessPoolExecutor, item: PendingVideo, video_dir: Path, settings: Settings,
                  style: str | None, follow_lead: bool, progress_path: Path, advance: Callable[[int], None],
                  starter: tuple[list[str], np.ndarray, int] | None) -> ingest.VideoIngest:
    """One video ingested in ``pool``, its frames passed on to ``advance`` as they are done."""
    future = asyncio.get_running_loop().run_in_executor(
        pool, _ingest_in_worker, item.path, video_dir, settings.descriptor, style, item.credit, follow_lead,
        progress_path, starter)
    reported = 0
    while True:
        finished, _ = await asyncio.wait({future}, timeout=0.5)
        done = _frames_done(progress_path)
        if done > reported:
            advance(done - reported)
            reported = done
        if finished:
            return future.result()


async def _add_one(repo: StoredLibrary, video: ingest.VideoIngest, item: PendingVideo, descriptor: str) -> AddResult:
    ids, segments = [], 0
    style_used = video.clips[0].style if video.clips else None
    guessed = any(c.style_guessed for c in video.clips)
    for clip in video.clips:
        clip.credit = item.credit
        clip_id = await repo.add_clip(clip, descriptor=descriptor)
        if clip_id is not None:
            ids.append(clip_id)
            segments += len(clip.segments)
    posed = sum(c.detection_rate * c.duration for c in video.clips) / max(1e-9, video.kept_seconds)
    message = "; ".join(f"{r.start:.0f}-{r.end:.0f} s left out: {r.reason}" for r in video.refused)
    if not video.clips:  # every stretch of dancing was refused
        return AddResult(item.label, "failed", message=message, duration=video.duration, people=video.people)
    return AddResult(item.label, "added" if ids else "already there", ids[0] if ids else None, segments, message,
                     "mediapipe", ids, video.kept_share, video.duration, video.people, posed, style_used, guessed)


async def add_sources(
    sources: Iterable[str | os.PathLike],
    settings: Settings | None = None,
    style: str | None = None,
    performer: str | None = None,
    licence: str | None = None,
    show_progress: bool = False,
    report: Callable[[AddResult], None] | None = None,
    progress: Callable[[float], None] | None = None,
    follow_lead: bool = True,
) -> list[AddResult]:
    """Add dance videos (files, folders, links) to the library; one bad video does not stop the
    others. ``progress`` gets the share of all frames done (one bar over the whole set)."""
    settings = settings or Settings.from_env()
    db, repo = await open_library(settings)
    loop = asyncio.get_running_loop()
    try:
        await repo.refresh_descriptors(settings.descriptor)  # new clips and old ones described alike
        pending, results = await loop.run_in_executor(
            None, expand_sources, list(sources), settings.media_dir / "downloads", performer, licence)
        for r in results:
            if report:
                report(r)
        todo: list[tuple[PendingVideo, str]] = []
        seen: set[str] = set()
        for item in pending:
            sha = await loop.run_in_executor(None, file_sha256, item.path)
            if sha in seen or await repo.clips.has_origin(sha):
                result = AddResult(item.label, "already there", message="already in the library")
                results.append(result)
                if report:
                    report(result)
                continue
            seen.add(sha)
            todo.append((item, sha))
        starter = None
        if style is None and todo:
            starter = (*await repo.clips.starter_descriptors(features.descriptor_tag(settings.descriptor)), settings.seed)
        sizes = [await loop.run_in_executor(None, _frames, item.path) for item, _ in todo]
        total = max(1, sum(sizes))
        done = 0
        bar = None
        if show_progress and todo:
            from ..progress import progress_bar

            bar = progress_bar(total=total, desc=f"{len(todo)} videos", unit="frame")

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if bar is not None:
                bar.update(n)
            if progress is not None:
                progress(min(1.0, done / total))

        with tempfile.TemporaryDirectory(prefix="choreo-ingest-") as tmp, \
                ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            for i, ((item, _), size) in enumerate(zip(todo, sizes)):
                before = done
                try:
                    video = await _ingest(pool, item, repo.videos_dir, settings, style, follow_lead,
                                          Path(tmp) / f"progress-{i}", advance, starter)
                    result = await _add_one(repo, video, item, settings.descriptor)
                except ChoreoError as exc:
                    result = AddResult(item.label, "failed", message=exc.message)
                except Exception as exc:  # one broken file must not stop the others
                    result = AddResult(item.label, "failed", message=f"could not process this file ({type(exc).__name__})")
                advance(max(0, size - (done - before)))  # the bar reaches this file's end however it went
                await repo.clips.clean_orphans()
                results.append(result)
                if report:
                    report(result)
        if bar is not None:
            bar.close()
        for item in pending:  # taken in or refused: the library keeps its own copies
            if item.downloaded:  # (two links to one video share a download: deleted at the end)
                item.path.unlink(missing_ok=True)
    finally:
        await db.close()
    return results


def summary_table(results: list[AddResult]) -> str:
    """Added / skipped as duplicate / refused, one line per video, with the totals."""
    names = {"added": "added", "already there": "duplicate", "failed": "refused"}
    lines = [f"{'result':<10} {'clips':>5} {'segs':>5} {'kept':>5}  video / reason"]
    for r in results:
        kept = f"{r.kept_share:.0%}" if r.status == "added" else ""
        detail = r.path + (f"  ({r.message})" if r.message else "")
        lines.append(f"{names[r.status]:<10} {len(r.clip_ids):>5} {r.segments:>5} {kept:>5}  {detail}")
    counts = Counter(names[r.status] for r in results)
    lines.append(f"{counts['added']} added, {counts['duplicate']} skipped as duplicates, {counts['refused']} refused")
    return "\n".join(lines)
