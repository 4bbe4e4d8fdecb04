"""Choreo's database: aiosqlite, WAL, versioned migrations, repositories.

Rows hold metadata and small vectors; large arrays (poses) live in ``.npz`` files named by
content hash beside the database (``poses/``), and videos in ``videos/``.
"""

from .db import Database

__all__ = ["Database"]
