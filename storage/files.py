"""Telegram file ids of uploaded videos by content hash, so a video is uploaded once."""

from __future__ import annotations

from fnmatch import fnmatchcase

from .db import Database


class FileCacheRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def file_id(self, sha256: str) -> str | None:
        row = await self.db.fetchone("SELECT file_id FROM file_cache WHERE sha256 = ?", (sha256,))
        return row["file_id"] if row else None

    async def remember(self, sha256: str, file_id: str, kind: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO file_cache (sha256, file_id, kind) VALUES (?, ?, ?)
                   ON CONFLICT (sha256) DO UPDATE SET file_id = excluded.file_id, kind = excluded.kind""",
                (sha256, file_id, kind))

    async def forget(self, sha256: str) -> None:
        """Telegram no longer accepts the cached id: the next send uploads the file again."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM file_cache WHERE sha256 = ?", (sha256,))

    async def forget_file_ids(self, glob: str, max_length: int = 40) -> int:
        """Drop cached file ids matching ``glob`` (shell-style, case-sensitive: ``*``, ``?``,
        ``[...]``) that are shorter than ``max_length``."""
        async with self.db.transaction() as conn:
            rows = await (await conn.execute("SELECT sha256, file_id FROM file_cache WHERE length(file_id) < ?",
                                             (max_length,))).fetchall()
            dropped = 0
            for row in rows:
                if fnmatchcase(row["file_id"], glob):
                    dropped += (await conn.execute("DELETE FROM file_cache WHERE sha256 = ?", (row["sha256"],))).rowcount
            return dropped
