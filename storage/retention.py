"""What the data directory may lose, and losing it: the retention sweep's files and rows.

Session media live in ``sessions/<session id>/`` (the song, a preview per offered part, the
final videos and the sheet, and ``pieces/``: the final video's pieces, made as parts are
picked) under the media directory (``Database.media_dir``: the data directory unless
``CHOREO_MEDIA_DIR`` says otherwise). A sweep (:meth:`DataDirSweep.sweep`, run on a schedule by
``bot.service.retention``) removes, at a given time ``now``:

- a finished session's folder once its retention (per status: done, failed, cancelled) is over;
- previews that were sent already (a preview is read once, to send it): an open session's of the
  parts it offered, a finished session's all;
- an open session's ``pieces/`` (made ahead of its final, which makes any that are missing)
  when nothing in them changed for ``keep_open_pieces`` (a song left at part 1, say);
- folders no session row owns and temporary files (``*.part*``, ``*.tmp``) older than the grace
  period, and fitted indexes (``index/*.pkl``) of older library versions;
- then, while the data directory is over its budget or the disk's free space under its minimum,
  the oldest finished sessions' folders;
- rows of failed and cancelled sessions finished long ago, and rows a long-done session no
  longer needs (candidates, finished jobs), followed by a WAL checkpoint and, when much of the
  database file is free, a VACUUM.

It never touches the library (``poses/``, ``videos/``), an open session's song, a session with a
queued or running job, or any file written within the last minute. A finished dance stays
reachable without its files: its ``results`` and ``file_cache`` rows are kept, so it is sent
again by its Telegram file id. Sizes are apparent sizes (``st_size``) of every file under the
data directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncContextManager, Callable, Iterable

from .db import Database
from .rows import FINISHED_STATUSES, OPEN_STATUSES, JobStatus, SegmentStatus, SessionStatus

SESSIONS_DIR = "sessions"
INDEX_DIR = "index"
PIECES_DIR = "pieces"  # in a session's folder: the pieces of its final clips video
# An offered part's preview, by the part's index (0-based) in the session's folder.
PREVIEW_NAME = "preview-{:03d}.mp4"
_PREVIEW = re.compile(r"preview-(\d{3})\.mp4$")
# Writers write to a temporary name and rename it when complete: such names, if older than
# the grace period, are leftovers of a crash.
_TEMPORARY = re.compile(r"\.part\b|\.tmp$")
_INDEX = re.compile(r"music-index-v(\d+)-")
# Files and folders younger than this are left alone by every orphan sweep: another process
# may be writing them, or about to record them.
ORPHAN_GRACE_SECONDS = 3600.0
# A file written this recently belongs to work in progress, whatever the database says.
BUSY_SECONDS = 60.0

Guard = Callable[[str], AsyncContextManager]

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# how the same failure reads once it is text (ffmpeg's stderr, an error pickled by the pool)
FULL_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded", "file too large")
SQLITE_FULL = 13


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk or a quota is full:
    ``ENOSPC``/``EDQUOT``/``EFBIG`` from a write, SQLite's ``SQLITE_FULL``, or those words."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        if any(words in str(exc).lower() for words in FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def iso(epoch: float) -> str:
    """The timestamp format of the database's columns (UTC, milliseconds)."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def changed_at(path: Path) -> float:
    """When a file last changed: its content (mtime) or its name (ctime; a rename keeps the mtime)."""
    st = path.lstat()
    return max(st.st_mtime, st.st_ctime)


def tree_bytes(path: Path) -> int:
    """Apparent size of every file under ``path`` (symbolic links not followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def newest_change(path: Path) -> float:
    """The latest change of a folder or anything in it (0 when it is gone)."""
    newest = 0.0
    for root, dirs, files in os.walk(path):
        for name in [*files, *dirs, ""]:
            with contextlib.suppress(OSError):
                newest = max(newest, changed_at(Path(root, name)))
    return newest


def _remove(path: Path) -> int:
    """Delete a file or folder; the bytes freed."""
    try:
        if path.is_dir() and not path.is_symlink():
            size = tree_bytes(path)
            shutil.rmtree(path, ignore_errors=True)
            return size - (tree_bytes(path) if path.exists() else 0)
        size = path.lstat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


@dataclass(frozen=True)
class RetentionPolicy:
    """How long media are kept, and how much the data directory may hold (seconds, bytes)."""

    keep_done: float = 7 * 86400.0
    keep_failed: float = 86400.0
    keep_cancelled: float = 86400.0
    budget_bytes: int | None = None  # None: no budget
    min_free_bytes: int = 0  # the disk's free space the sweep keeps, evicting like over the budget
    keep_rows: float | None = 90 * 86400.0  # rows of long-finished sessions; None: kept for ever
    keep_open_pieces: float = 86400.0  # an open session's pieces of its final, untouched this long
    grace: float = ORPHAN_GRACE_SECONDS

    def keep(self, status: SessionStatus) -> float:
        return {SessionStatus.DONE: self.keep_done, SessionStatus.FAILED: self.keep_failed,
                SessionStatus.CANCELLED: self.keep_cancelled}[status]


@dataclass
class SweepReport:
    now: float
    bytes_before: int = 0
    bytes_after: int = 0
    budget_bytes: int | None = None
    removed: dict[str, int] = field(default_factory=dict)  # what -> how many
    freed_bytes: int = 0
    rows_deleted: int = 0
    vacuumed: bool = False

    @property
    def over_budget(self) -> bool:
        return self.budget_bytes is not None and self.bytes_after > self.budget_bytes

    def count(self, what: str, freed: int, n: int = 1) -> None:
        self.removed[what] = self.removed.get(what, 0) + n
        self.freed_bytes += freed

    def as_dict(self) -> dict:
        return {"bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "budget_bytes": self.budget_bytes, "over_budget": self.over_budget, "removed": dict(self.removed),
                "freed_bytes": self.freed_bytes, "rows_deleted": self.rows_deleted, "vacuumed": self.vacuumed}


@dataclass(frozen=True)
class _Folder:
    """A session's folder as the sweep sees it."""

    path: Path
    status: SessionStatus | None  # None: no session row owns it
    finished_at: float | None
    busy: bool  # a job of the session is queued or running


class DataDirSweep:
    """The retention sweep over one data directory (see the module docstring)."""

    def __init__(self, db: Database, media_dir: Path | None = None) -> None:
        self.db = db
        # the sessions live under the media root (CHOREO_MEDIA_DIR), by default the data directory
        self.media_dir = Path(media_dir) if media_dir is not None else db.media_dir
        self.sessions_dir = self.media_dir / SESSIONS_DIR

    async def sweep(self, policy: RetentionPolicy, now: float | None = None, guard: Guard | None = None) -> SweepReport:
        """One sweep at ``now`` (epoch seconds; default: the clock). ``guard(session_id)`` is held
        while a finished session's folder is removed (the bot's session lock, so no button turns
        the session back into an open one meanwhile); the session is read again under it."""
        now = time.time() if now is None else now
        report = SweepReport(now, budget_bytes=policy.budget_bytes)
        report.bytes_before = tree_bytes(self.media_dir)
        folders = await self._folders()
        for folder in folders:
            if folder.status is None:
                if newest_change(folder.path) < now - policy.grace:
                    report.count("orphan_folders", _remove(folder.path))
            elif folder.status in FINISHED_STATUSES and not folder.busy:
                if folder.finished_at is not None and folder.finished_at < now - policy.keep(folder.status):
                    await self._remove_finished(folder, now, guard, report, f"expired_{folder.status}")
                else:  # a finished session never offers a part again
                    self._remove_previews(folder.path, None, now, report)
            else:
                self._remove_temporary(folder.path, now, policy.grace, report)
                pieces = folder.path / PIECES_DIR
                if not folder.busy and pieces.is_dir() and newest_change(pieces) < now - policy.keep_open_pieces:
                    report.count("idle_pieces", _remove(pieces))
        await self._remove_sent_previews([f for f in folders if f.status in OPEN_STATUSES], now, report)
        await self._remove_old_indexes(now, policy.grace, report)
        size = tree_bytes(self.media_dir)

        def short() -> bool:
            over = policy.budget_bytes is not None and size > policy.budget_bytes
            return over or shutil.disk_usage(self.media_dir).free < policy.min_free_bytes

        if short():
            evictable = sorted((f for f in folders if f.status in FINISHED_STATUSES and not f.busy
                                and f.path.exists()), key=lambda f: f.finished_at or 0.0)
            for folder in evictable:
                if not short():
                    break
                size -= await self._remove_finished(folder, now, guard, report, "evicted")
        if policy.keep_rows is not None:
            report.rows_deleted = await self._delete_rows(iso(now - policy.keep_rows))
        report.vacuumed = await self.compact()
        report.bytes_after = tree_bytes(self.media_dir)
        return report

    # ------------------------------------------------------------------ folders
    async def _folders(self) -> list[_Folder]:
        if not self.sessions_dir.is_dir():
            return []
        paths = {p.name: p for p in self.sessions_dir.iterdir() if p.is_dir()}
        rows: dict[str, tuple] = {}
        names = list(paths)
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for r in await self.db.fetchall(
                    f"""SELECT s.id, s.status, s.finished_at,
                               EXISTS (SELECT 1 FROM jobs j WHERE j.session_id = s.id AND j.status IN (?, ?)) AS busy
                        FROM sessions s WHERE s.id IN ({marks})""", (JobStatus.QUEUED, JobStatus.RUNNING, *chunk)):
                rows[r["id"]] = (SessionStatus(r["status"]), epoch(r["finished_at"]) if r["finished_at"] else None,
                                 bool(r["busy"]))
        return [_Folder(path, *rows.get(name, (None, None, False))) for name, path in sorted(paths.items())]

    async def _remove_finished(self, folder: _Folder, now: float, guard: Guard | None, report: SweepReport,
                               what: str) -> int:
        """Remove a finished session's folder, if it is still finished, idle and not being written."""
        async with (guard(folder.path.name) if guard else contextlib.nullcontext()):
            row = await self.db.fetchone(
                """SELECT s.status, EXISTS (SELECT 1 FROM jobs j WHERE j.session_id = s.id AND j.status IN (?, ?))
                   AS busy FROM sessions s WHERE s.id = ?""", (JobStatus.QUEUED, JobStatus.RUNNING, folder.path.name))
            if (row is None or SessionStatus(row["status"]) not in FINISHED_STATUSES or row["busy"]
                    or newest_change(folder.path) > now - BUSY_SECONDS):
                return 0
            freed = _remove(folder.path)
        report.count(what, freed)
        return freed

    def _remove_temporary(self, folder: Path, now: float, grace: float, report: SweepReport) -> None:
        # subfolders too: the pieces of a final video are written in the session's pieces/
        for path in folder.rglob("*"):
            if path.is_file() and _TEMPORARY.search(path.name) and changed_at(path) < now - grace:
                report.count("temporary_files", _remove(path))

    async def _remove_sent_previews(self, folders: Iterable[_Folder], now: float, report: SweepReport) -> None:
        """An open session's previews of parts already offered: sent once, never read again."""
        for folder in folders:
            if any(_PREVIEW.match(p.name) for p in folder.path.iterdir()):
                rows = await self.db.fetchall(
                    "SELECT idx FROM session_segments WHERE session_id = ? AND status IN (?, ?)",
                    (folder.path.name, SegmentStatus.OFFERED, SegmentStatus.PICKED))
                self._remove_previews(folder.path, {r["idx"] for r in rows}, now, report)

    @staticmethod
    def _remove_previews(folder: Path, parts: set[int] | None, now: float, report: SweepReport) -> None:
        """The previews of ``parts`` (0-based; None: all) not written within the last minute."""
        for path in folder.iterdir():
            match = _PREVIEW.match(path.name)
            if match and (parts is None or int(match.group(1)) - 1 in parts) and changed_at(path) < now - BUSY_SECONDS:
                report.count("sent_previews", _remove(path))

    async def _remove_old_indexes(self, now: float, grace: float, report: SweepReport) -> None:
        """Fitted indexes of older library versions (and leftovers of interrupted writes)."""
        index_dir = self.media_dir / INDEX_DIR
        if not index_dir.is_dir():
            return
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'library_version'")
        version = int(row["value"]) if row else 0
        for path in index_dir.iterdir():
            match = _INDEX.match(path.name)
            stale = _TEMPORARY.search(path.name) or (match is not None and int(match.group(1)) != version)
            if path.is_file() and stale and changed_at(path) < now - grace:
                report.count("old_indexes", _remove(path))

    # ------------------------------------------------------------------ rows
    async def _delete_rows(self, before: str) -> int:
        """Rows of sessions finished before ``before`` that nothing reads any more.

        Failed and cancelled sessions go whole (their segments, picks, buttons and jobs go with
        them by cascade). A done session keeps its row, picks, buttons and results (/history,
        inline sharing and the mode buttons read them); its candidates and finished jobs go.
        File ids no result refers to go too. Only sessions whose folder is gone are touched.
        """
        deleted = 0
        async with self.db.transaction() as conn:
            rows = await (await conn.execute(
                "SELECT id, status FROM sessions WHERE status IN (?, ?, ?) AND finished_at < ?",
                (*FINISHED_STATUSES, before))).fetchall()
            gone = [r for r in rows if not (self.sessions_dir / r["id"]).exists()]
            lost = [r["id"] for r in gone if r["status"] != SessionStatus.DONE]
            done = [r["id"] for r in gone if r["status"] == SessionStatus.DONE]
            for start in range(0, len(lost), 500):
                chunk = lost[start:start + 500]
                cur = await conn.execute(f"DELETE FROM sessions WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
                deleted += cur.rowcount
            for start in range(0, len(done), 500):
                chunk = done[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                cur = await conn.execute(f"DELETE FROM candidates WHERE session_id IN ({marks})", chunk)
                deleted += cur.rowcount
                cur = await conn.execute(
                    f"DELETE FROM jobs WHERE status IN (?, ?) AND session_id IN ({marks})",
                    (JobStatus.DONE, JobStatus.FAILED, *chunk))
                deleted += cur.rowcount
            cur = await conn.execute(
                "DELETE FROM file_cache WHERE created_at < ? AND sha256 NOT IN (SELECT video_sha256 FROM results)",
                (before,))
            deleted += cur.rowcount
        return deleted

    async def compact(self, checkpoint: bool = True) -> bool:
        """SQLite: fold the WAL back into the database (truncating it) and, when over a quarter of
        the database file (and at least 8 MB) is free pages and the disk has room for a copy,
        VACUUM it. True when it was vacuumed. (A PostgreSQL server vacuums by itself.)"""
        if self.db.path is None:
            return False
        if checkpoint:
            await self.checkpoint()
        pages = (await self.db.fetchone("PRAGMA page_count"))[0]
        free = (await self.db.fetchone("PRAGMA freelist_count"))[0]
        page_size = (await self.db.fetchone("PRAGMA page_size"))[0]
        free_bytes, db_bytes = free * page_size, pages * page_size
        if free_bytes < max(8 << 20, db_bytes // 4) or shutil.disk_usage(self.db.path.parent).free < 2 * db_bytes:
            return False
        async with self.db.exclusive() as conn:
            await conn.execute("VACUUM")
        await self.checkpoint()
        return True

    async def checkpoint(self) -> None:
        if self.db.path is None:
            return
        async with self.db.exclusive() as conn:
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # ------------------------------------------------------------------ in-progress work
    def partial_files(self, session_id: str, since: float, keep: Iterable[str | None]) -> list[Path]:
        """Files of a session's folder written since ``since`` that no row refers to (``keep``):
        what a job that failed half-way (a full disk) left behind."""
        folder = self.sessions_dir / session_id
        if not folder.is_dir():
            return []
        kept = {str(Path(p)) for p in keep if p}
        return [p for p in folder.iterdir() if p.is_file() and str(p) not in kept and changed_at(p) >= since]
