"""Dance videos by link, with yt-dlp: only when an operator or an admin asks for it.

A link is expanded first (a playlist, a channel, a feed gives its videos), then each video is
downloaded on its own (best video with sound, merged by the ffmpeg that imageio-ffmpeg ships,
with a size and a length cap and retries), so one refused or broken video does not stop the
others and each gets its own reason. What the site says about a video (its page, uploader,
licence, date) becomes the clip's credits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from choreo_engine.dance.library import Credit

log = logging.getLogger(__name__)

# At most this many MB and this many minutes per downloaded video (a long class is cut to its
# dancing later, but a whole-day stream is no dance video).
MAX_DOWNLOAD_MB = 300
MAX_DOWNLOAD_MINUTES = 20
# Videos taller than this are not needed: the library keeps 480p copies.
MAX_DOWNLOAD_HEIGHT = 720
RETRIES = 3


@dataclass
class Downloaded:
    """One video of a link: the local file and its credits, or why there is none."""

    url: str
    title: str
    path: Path | None = None
    credit: Credit = field(default_factory=Credit)
    refused: str = ""


def is_link(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _credit(info: dict, url: str) -> Credit:
    date = info.get("upload_date") or info.get("release_date")
    if date and len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    performer = next((info.get(k) for k in ("creator", "uploader", "channel", "artist") if info.get(k)), None)
    return Credit(source=info.get("webpage_url") or info.get("original_url") or url, performer=performer,
                  licence=info.get("license"), date=date)


def _params(out_dir: Path, max_mb: int, max_minutes: float, rejected: dict[str, str],
            progress: Callable[[float], None] | None) -> dict:
    import imageio_ffmpeg

    def duration_cap(info: dict, *, incomplete: bool) -> str | None:
        duration = info.get("duration")
        if duration and duration > max_minutes * 60:
            rejected[info.get("webpage_url") or info.get("url") or ""] = (
                f"longer than {max_minutes:g} minutes ({duration / 60:.0f} min)")
            return "too long"
        return None

    def hook(status: dict) -> None:
        if progress and status.get("status") == "downloading":
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            if total:
                progress(min(1.0, status.get("downloaded_bytes", 0) / total))

    return {
        "format": (f"bv*[height<={MAX_DOWNLOAD_HEIGHT}]+ba/b[height<={MAX_DOWNLOAD_HEIGHT}]/bv*+ba/b"),
        "merge_output_format": "mp4",
        "ffmpeg_location": imageio_ffmpeg.get_ffmpeg_exe(),
        "outtmpl": {"default": str(out_dir / "%(extractor)s-%(id)s.%(ext)s")},
        "max_filesize": max_mb * 1024 * 1024,
        "match_filter": duration_cap,
        "retries": RETRIES,
        "fragment_retries": RETRIES,
        "extractor_retries": RETRIES,
        "noplaylist": False,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "progress_hooks": [hook],
        "restrictfilenames": True,
        "socket_timeout": 30,
    }


def expand(url: str) -> list[tuple[str, str]]:
    """(url, title) of every video a link stands for: itself, or a playlist's or channel's entries."""
    import yt_dlp

    with yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "extract_flat": "in_playlist",
                           "retries": RETRIES, "extractor_retries": RETRIES, "socket_timeout": 30}) as ydl:
        info = ydl.extract_info(url, download=False)
    if info is None:
        return []
    if info.get("_type") == "playlist" or "entries" in info:
        out = []
        for entry in info.get("entries") or []:
            if entry:
                out.append((entry.get("url") or entry.get("webpage_url"), entry.get("title") or ""))
        return [(u, t) for u, t in out if u]
    return [(url, info.get("title") or "")]


def download(url: str, out_dir: str | Path, max_mb: int = MAX_DOWNLOAD_MB,
             max_minutes: float = MAX_DOWNLOAD_MINUTES,
             progress: Callable[[float], None] | None = None) -> Downloaded:
    """One video into ``out_dir``; ``refused`` says why not (too big, too long, no such video)."""
    import yt_dlp

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rejected: dict[str, str] = {}
    try:
        with yt_dlp.YoutubeDL(_params(out_dir, max_mb, max_minutes, rejected, progress)) as ydl:
            info = ydl.extract_info(url, download=True)
            if info is None:
                return Downloaded(url, "", refused=next(iter(rejected.values()), "not downloaded"))
            if info.get("_type") == "playlist":  # a link expand() did not flatten: its first video
                info = next((e for e in info.get("entries") or [] if e), None) or {}
            files = [Path(d["filepath"]) for d in info.get("requested_downloads") or [] if d.get("filepath")]
            path = next((p for p in files if p.exists()), None)
            if path is None:
                candidate = Path(ydl.prepare_filename(info))
                path = candidate if candidate.exists() else None
    except yt_dlp.utils.DownloadError as exc:
        reason = str(exc).removeprefix("ERROR: ").strip()
        return Downloaded(url, "", refused=reason[:200] or "download failed")
    title = info.get("title") or url
    if path is None:
        reason = rejected.get(info.get("webpage_url") or url) or next(iter(rejected.values()), None)
        return Downloaded(url, title, refused=reason or f"bigger than {max_mb} MB or not downloadable")
    return Downloaded(url, title, path, _credit(info, url))


def download_all(urls: list[str], out_dir: str | Path, max_mb: int = MAX_DOWNLOAD_MB,
                 max_minutes: float = MAX_DOWNLOAD_MINUTES) -> list[Downloaded]:
    """Every video the links stand for (playlists and channels expanded), one at a time."""
    out: list[Downloaded] = []
    for url in urls:
        try:
            entries = expand(url)
        except Exception as exc:  # noqa: BLE001 - one bad link must not stop the others
            out.append(Downloaded(url, "", refused=str(exc).removeprefix("ERROR: ")[:200]))
            continue
        if not entries:
            out.append(Downloaded(url, "", refused="no video at this link"))
        for entry_url, _ in entries:
            out.append(download(entry_url, out_dir, max_mb, max_minutes))
    return out
