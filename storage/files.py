"""Telegram file ids of uploaded videos by content hash, so a video is uploaded once."""

from __future__ import annotations

from .db import Database


class FileCacheRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def file_id(self, sha256: str) -> str | None:
        row = await self.db.fetchone("SELECT file_id FROM file_cache WHERE sha256 = ?", (sha256,))
        return row["file_id"] if row else None

    async def remember(self, sha256: str, file_id: str, kind: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("INSERT OR REPLACE INTO file_cache (sha256, file_id, kind) VALUES (?, ?, ?)",
                               (sha256, file_id, kind))

    async def forget(self, sha256: str) -> None:
        """Telegram no longer accepts the cached id: the next send uploads the file again."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM file_cache WHERE sha256 = ?", (sha256,))

    async def forget_file_ids(self, glob: str, max_length: int = 40) -> int:
        """Drop cached file ids matching ``glob`` (SQLite GLOB) that are shorter than ``max_length``."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM file_cache WHERE file_id GLOB ? AND length(file_id) < ?",
                                     (glob, max_length))
            return cur.rowcount
