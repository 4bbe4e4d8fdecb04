"""Choreo's database: SQLite (the default) or PostgreSQL through SQLAlchemy Core, Alembic
migrations, one repository per table family.

``db`` (connections and transactions), ``schema`` (the tables), ``migrations`` (Alembic's
revisions in ``alembic/``, and the ladder older SQLite databases climb first), ``rows`` (typed rows and statuses), ``sessions``
(sessions with their segments, candidates, picks, buttons and results), ``jobs``, ``votes``
(chat pick modes, votes, deadlines), ``versions`` (every rendered version of a dance, changing a
part afterwards), ``files`` (Telegram file ids by content hash), ``clips`` (the dance library's
clips and segments), ``inbox`` (updates recorded before they are acknowledged), ``locks``
(session locks across processes) and ``owner`` (the data directory's lock file). SQL and files only: nothing is computed here.

Rows hold metadata and small vectors; large arrays (poses) live in ``.npz`` files named by
content hash under the media directory (``poses/``), and videos in ``videos/``.
"""

from .db import Database

__all__ = ["Database"]
