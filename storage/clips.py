"""The dance library's clips and segments as stored: rows, pose files and videos.

Add (all-or-nothing), remove (soft: a removed clip's rows and files stay, so segment ids are never
reused and open sessions still render the dancer they were offered), stats, load for planning,
export, and the reads and writes the
re-description of stored descriptors needs. Nothing is computed here: descriptors come described
(``bot.admin.library``) and motion levels are mapped by the function the caller passes (a
clip and the levels it changes are written in one transaction).

From the engine this module takes only its data types (``IngestedClip`` in, ``Library`` and
``LibrarySegment`` out) and its pose-file writer (``save_poses``: the ``.npz`` format the
engine reads back).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from choreo_engine.dance.library import IngestedClip, Library, LibrarySegment, save_poses

from .db import NOW, Database
from .retention import ORPHAN_GRACE_SECONDS, changed_at
from .rows import MusicRange, StoredClip

POSES_DIR = "poses"
VIDEOS_DIR = "videos"

_ACTIVE = "clip_id IN (SELECT id FROM clips WHERE removed_at IS NULL)"  # segments of clips not removed

# Every library segment's motion sizes (one value per beat) -> their motion levels, in order.
Leveller = Callable[[list[np.ndarray]], list[list[int]]]


def _blob(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype=np.float32).tobytes()


def _music_start(row) -> float:
    """Where a stored segment's descriptor range starts (rows from before it was stored: the
    segment's start, or 0 for a clip's first segment, which included the lead-in)."""
    if row["music_start"] is not None:
        return row["music_start"]
    return 0.0 if row["idx"] == 0 else row["start"]


def _unblob(blob: bytes, shape: tuple[int, ...] | None = None) -> np.ndarray:
    array = np.frombuffer(blob, dtype=np.float32)
    return array.reshape(shape) if shape else array


class ClipRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.media_dir = db.media_dir

    @property
    def poses_dir(self) -> Path:
        return self.media_dir / POSES_DIR

    @property
    def videos_dir(self) -> Path:
        return self.media_dir / VIDEOS_DIR

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.media_dir)

    def absolute(self, relative: str) -> Path:
        return self.media_dir / relative

    async def has_clip(self, source_sha256: str) -> bool:
        return await self.db.fetchone("SELECT 1 FROM clips WHERE source_sha256 = ? AND removed_at IS NULL", (source_sha256,)) is not None

    async def has_origin(self, origin_sha256: str) -> bool:
        """Whether clips were already cut from this source file (a folder run resumes past it)."""
        row = await self.db.fetchone("SELECT 1 FROM clips WHERE origin_sha256 = ? OR source_sha256 = ?",
                                     (origin_sha256, origin_sha256))
        return row is not None

    async def clip_names(self, kind: str) -> set[str]:
        rows = await self.db.fetchall("SELECT name FROM clips WHERE kind = ? AND removed_at IS NULL", (kind,))
        return {r["name"] for r in rows}

    async def version(self) -> int:
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'library_version'")
        return int(row["value"]) if row else 0

    async def clips_described_otherwise(self, descriptor_tag: str, unavailable_tag: str) -> list[StoredClip]:
        """Clips whose descriptors were made another way than ``descriptor_tag`` (and that were not
        found undescribable for it: ``unavailable_tag``)."""
        rows = await self.db.fetchall(
            "SELECT id, name, video_file, descriptor_tag FROM clips WHERE descriptor_tag NOT IN (?, ?) AND removed_at IS NULL "
            "ORDER BY id",
            (descriptor_tag, unavailable_tag))
        return [StoredClip(r["id"], r["name"], str(self.absolute(r["video_file"])), r["descriptor_tag"]) for r in rows]

    async def music_ranges(self, clip_id: int) -> list[MusicRange]:
        """What each of the clip's segments' descriptors covers, in segment order."""
        rows = await self.db.fetchall(
            'SELECT id, idx, start, "end", beats, music_start FROM library_segments WHERE clip_id = ? ORDER BY idx',
            (clip_id,))
        return [MusicRange(r["id"], _music_start(r), r["end"], json.loads(r["beats"])) for r in rows]

    async def mark_clip(self, clip_id: int, descriptor_tag: str) -> None:
        """Set a clip's descriptor tag without new descriptors (one that cannot be described)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE clips SET descriptor_tag = ? WHERE id = ?", (descriptor_tag, clip_id))

    async def store_descriptors(self, clip: StoredClip, descriptor_tag: str, ranges: list[MusicRange],
                                descriptors: np.ndarray) -> bool:
        """The clip's segments described again, in one transaction; False (nothing written) when
        another process did it meanwhile (the clip's tag is no longer the one read)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE clips SET descriptor_tag = ? WHERE id = ? AND descriptor_tag = ?",
                                     (descriptor_tag, clip.id, clip.descriptor_tag))
            if not cur.rowcount:
                return False
            await conn.executemany("UPDATE library_segments SET descriptor = ? WHERE id = ?",
                                   [(_blob(d), r.segment_id) for d, r in zip(descriptors, ranges)])
            await self._bump_version(conn)
            return True

    async def add_clip(self, clip: IngestedClip, kind: str, descriptor_tag: str, levels: Leveller) -> int | None:
        """Store a clip and its segments, and every segment's motion levels by ``levels``, in one
        transaction; None when it is already there.

        The pose file is written first (atomically, named by content); if the transaction
        fails it is removed again unless another clip uses it, so no half clip is left.
        """
        if await self.has_clip(clip.source_sha256):
            return None
        if clip.video_path is None:
            raise ValueError("a library clip needs its normalised video (ingest with video_dir)")
        poses_path = save_poses(self.poses_dir, clip.poses, clip.fps)
        try:
            async with self.db.transaction() as conn:
                credit = clip.credit
                cur = await conn.execute(
                    """INSERT INTO clips (source_sha256, name, kind, style, duration, fps, width, height, tempo,
                                          video_file, poses_file, pose_source, detection_rate, descriptor_tag,
                                          source, origin_sha256, origin_start, origin_end, performer, licence,
                                          source_date, style_guessed)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (clip.source_sha256, clip.name, kind, clip.style, clip.duration, clip.fps, clip.width,
                     clip.height, clip.tempo, self.relative(clip.video_path), self.relative(poses_path),
                     clip.pose_source, clip.detection_rate, descriptor_tag, credit.source,
                     clip.origin_sha256 or clip.source_sha256, clip.origin_start, clip.origin_end, credit.performer,
                     credit.licence, credit.date, int(clip.style_guessed)),
                )
                clip_id = (await cur.fetchone())["id"]
                await conn.executemany(
                    """INSERT INTO library_segments (clip_id, idx, start, "end", tempo, beats, loudness_levels,
                           motion_size, motion_levels, descriptor, start_pose, start_velocity, end_pose, end_velocity,
                           music_start)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?)""",
                    [
                        (clip_id, s.index, s.start, s.end, s.tempo, json.dumps([round(float(b), 4) for b in s.beats]),
                         json.dumps([int(v) for v in s.loudness_levels]),
                         json.dumps([round(float(v), 5) for v in s.motion_size]),
                         _blob(s.descriptor), _blob(s.start_pose), _blob(s.start_velocity), _blob(s.end_pose),
                         _blob(s.end_velocity), s.music_start)
                        for s in clip.segments
                    ],
                )
                await self._store_levels(conn, levels)
            return clip_id
        except BaseException:
            await self._drop_unreferenced(poses_path)
            raise

    async def remove_clip(self, clip: int | str, levels: Leveller | None = None) -> str | None:
        """Remove a clip by id, name or source hash (``choreo library remove``, /forget); its name,
        or None when there is none. With ``levels``, the other clips' motion levels are mapped again.

        A soft delete: sessions keep their segments' ids and render the dancer they were offered,
        so the rows and files stay (never planned again, ids never reused); its source may be added anew.
        """
        row = await self.db.fetchone(
            "SELECT id, name FROM clips WHERE (id = ? OR name = ? OR source_sha256 = ?) AND removed_at IS NULL",
            (int(clip) if str(clip).isdigit() else -1, str(clip), str(clip)),
        )
        if row is None:
            return None
        async with self.db.transaction() as conn:
            await conn.execute(
                f"""UPDATE clips SET removed_at = {NOW}, source_sha256 = source_sha256 || ':removed:' || id
                    WHERE id = ?""", (row["id"],))
            if levels is not None:
                await self._store_levels(conn, levels)
            await self._bump_version(conn)
        return row["name"]

    async def set_style(self, clip_id: int, style: str, guessed: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE clips SET style = ?, style_guessed = ? WHERE id = ?",
                               (style, int(guessed), clip_id))
            await self._bump_version(conn)

    async def _drop_unreferenced(self, path: Path) -> None:
        rel = self.relative(path)
        used = await self.db.fetchone("SELECT 1 FROM clips WHERE poses_file = ? OR video_file = ?", (rel, rel))
        if used is None:
            path.unlink(missing_ok=True)

    async def clean_orphans(self, grace: float = ORPHAN_GRACE_SECONDS, now: float | None = None) -> int:
        """Delete pose/video files no clip refers to (left by a crash between write and commit).

        Files (temporary names included) changed within ``grace`` seconds are left alone: another
        process may be writing one (``*.part.*``) or about to commit the clip that refers to it.
        The clip rows are read after the files are listed, so a clip committed meanwhile counts.
        """
        now = time.time() if now is None else now
        listed = [p for d in (self.poses_dir, self.videos_dir) if d.exists() for p in d.iterdir()]
        rows = await self.db.fetchall("SELECT poses_file, video_file FROM clips")
        used = {r["poses_file"] for r in rows} | {r["video_file"] for r in rows}
        removed = 0
        for path in listed:
            if self.relative(path) in used:
                continue
            try:
                if changed_at(path) >= now - grace:
                    continue
                path.unlink()
            except FileNotFoundError:  # renamed or removed by its writer meanwhile
                continue
            removed += 1
        return removed

    async def _store_levels(self, conn, levels: Leveller) -> None:
        """Every segment's motion levels as ``levels`` maps the library's motion sizes (levels are
        relative to the whole library, so each added or removed clip changes them all)."""
        rows = await (await conn.execute(f"SELECT id, motion_size FROM library_segments WHERE {_ACTIVE}")).fetchall()
        sizes = [np.array(json.loads(r["motion_size"])) for r in rows]
        await conn.executemany(
            "UPDATE library_segments SET motion_levels = ? WHERE id = ?",
            [(json.dumps([int(v) for v in lv]), r["id"]) for lv, r in zip(levels(sizes), rows)],
        )
        await self._bump_version(conn)

    @staticmethod
    async def _bump_version(conn) -> None:
        """The library changed: loaded copies and cached indexes are out of date."""
        await conn.execute(
            """INSERT INTO meta (key, value) VALUES ('library_version', '1')
               ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"""
        )

    async def starter_descriptors(self, descriptor_tag: str) -> tuple[list[str], np.ndarray]:
        """The style and descriptor of every starter segment (the labelled music styles guesses
        for unlabelled clips are made from)."""
        rows = await self.db.fetchall(
            """SELECT c.style, s.descriptor FROM library_segments s JOIN clips c ON c.id = s.clip_id
               WHERE c.kind = 'demo' AND c.style IS NOT NULL AND c.descriptor_tag = ? ORDER BY s.id""",
            (descriptor_tag,))
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r["style"] for r in rows], np.stack([_unblob(r["descriptor"]) for r in rows])

    async def count_segments(self) -> int:
        row = await self.db.fetchone(f"SELECT COUNT(*) AS n FROM library_segments WHERE {_ACTIVE}")
        return int(row["n"])

    async def load(self, descriptor_tag: str) -> Library:
        """The segments whose clips are described by ``descriptor_tag``, ready for planning."""
        return self._library(await self.db.fetchall(
            """SELECT s.*, c.name AS clip_name, c.video_file, c.poses_file, c.fps, c.style, c.width, c.height,
                      c.source, c.performer, c.licence, c.source_date
               FROM library_segments s JOIN clips c ON c.id = s.clip_id
               WHERE c.descriptor_tag = ? AND c.removed_at IS NULL ORDER BY s.clip_id, s.idx""", (descriptor_tag,)
        ))

    async def load_segments(self, segment_ids: list[int]) -> Library:
        """Exactly these segments, removed clips' too (a session renders what it was offered)."""
        marks = ", ".join("?" * len(segment_ids))
        return self._library(await self.db.fetchall(
            f"""SELECT s.*, c.name AS clip_name, c.video_file, c.poses_file, c.fps, c.style, c.width, c.height,
                       c.source, c.performer, c.licence, c.source_date
                FROM library_segments s JOIN clips c ON c.id = s.clip_id WHERE s.id IN ({marks})""",
            tuple(segment_ids)))

    def _library(self, rows: list) -> Library:
        segments = [
            LibrarySegment(
                id=r["id"], clip_id=r["clip_id"], clip_name=r["clip_name"], index=r["idx"], start=r["start"],
                end=r["end"], beats=np.array(json.loads(r["beats"])), tempo=r["tempo"],
                loudness_levels=np.array(json.loads(r["loudness_levels"]), dtype=int),
                motion_levels=np.array(json.loads(r["motion_levels"]), dtype=int),
                video_path=str(self.absolute(r["video_file"])), poses_path=str(self.absolute(r["poses_file"])),
                fps=r["fps"], aspect=r["width"] / r["height"], style=r["style"],
                source=r["source"], performer=r["performer"], licence=r["licence"], source_date=r["source_date"],
            )
            for r in rows
        ]
        if not rows:
            empty = np.zeros((0, 13, 2), dtype=np.float32)
            return Library([], np.zeros((0, 0), dtype=np.float32), empty, empty, empty, empty)
        n_joints = len(_unblob(rows[0]["start_pose"])) // 2
        stack = lambda col: np.stack([_unblob(r[col], (n_joints, 2)) for r in rows])
        return Library(
            segments,
            np.stack([_unblob(r["descriptor"]) for r in rows]),
            stack("start_pose"), stack("start_velocity"), stack("end_pose"), stack("end_velocity"),
        )

    async def stats(self) -> dict:
        clips = await self.db.fetchall(
            """SELECT c.id, c.name, c.kind, c.style, c.style_guessed, c.duration, c.tempo, c.pose_source,
                      c.detection_rate, c.descriptor_tag, c.source, c.performer, c.licence, c.source_date,
                      COUNT(s.id) AS segments
               FROM clips c LEFT JOIN library_segments s ON s.clip_id = c.id
               WHERE c.removed_at IS NULL GROUP BY c.id ORDER BY c.id"""
        )
        by_source: dict[str, int] = {}
        by_style: dict[str, int] = {}
        by_descriptor: dict[str, int] = {}
        for c in clips:
            by_source[c["pose_source"]] = by_source.get(c["pose_source"], 0) + 1
            by_descriptor[c["descriptor_tag"]] = by_descriptor.get(c["descriptor_tag"], 0) + 1
            key = c["style"] or c["kind"]
            by_style[key] = by_style.get(key, 0) + c["segments"]
        files = [p for d in (self.poses_dir, self.videos_dir) if d.exists() for p in d.iterdir()]
        return {
            "clips": len(clips),
            "segments": sum(c["segments"] for c in clips),
            "dance_minutes": round(sum(c["duration"] for c in clips) / 60, 2),
            "clips_by_pose_source": by_source,
            "segments_by_style": by_style,
            "clips_by_descriptor": by_descriptor,
            "database_bytes": self.db.path.stat().st_size if self.db.path.exists() else 0,
            "pose_files_bytes": sum(p.stat().st_size for p in files if p.suffix == ".npz"),
            "video_files_bytes": sum(p.stat().st_size for p in files if p.suffix == ".mp4"),
            "clip_list": [
                {"id": c["id"], "name": c["name"], "kind": c["kind"], "style": c["style"],
                 "segments": c["segments"], "duration": round(c["duration"], 2), "tempo": round(c["tempo"], 1),
                 "pose_source": c["pose_source"], "detection_rate": round(c["detection_rate"], 3),
                 "descriptor": c["descriptor_tag"], "style_guessed": bool(c["style_guessed"]),
                 "source": c["source"], "performer": c["performer"], "licence": c["licence"],
                 "source_date": c["source_date"]}
                for c in clips
            ],
        }

    async def export_rows(self) -> list[dict]:
        """One row per library segment, one column per feature (for ``choreo library export``)."""
        rows = await self.db.fetchall(
            """SELECT s.*, c.name AS clip_name, c.style, c.style_guessed, c.source, c.performer, c.licence,
                      c.source_date
               FROM library_segments s JOIN clips c ON c.id = s.clip_id
               WHERE c.removed_at IS NULL ORDER BY s.clip_id, s.idx"""
        )
        out = []
        for r in rows:
            row = {"segment_id": r["id"], "clip": r["clip_name"], "style": r["style"], "index": r["idx"],
                   "start": r["start"], "end": r["end"], "tempo": round(r["tempo"], 2),
                   "style_guessed": bool(r["style_guessed"]), "source": r["source"], "performer": r["performer"],
                   "licence": r["licence"], "source_date": r["source_date"]}
            for name in ("loudness_levels", "motion_levels"):
                for i, v in enumerate(json.loads(r[name])[:8]):
                    row[f"{name[:-1]}_{i + 1}"] = v
            for i, v in enumerate(_unblob(r["descriptor"])):
                row[f"f{i:02d}"] = round(float(v), 5)
            out.append(row)
        return out
