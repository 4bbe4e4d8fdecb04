"""The database's tables as SQLAlchemy Core metadata: what Alembic's newest revision makes.

Every timestamp column is text in one format (UTC ISO 8601 with milliseconds and a ``Z``, as
``storage.retention.iso`` writes it), so SQLite databases from before keep their values and both
databases compare them as strings. Telegram ids (chats, users, messages, updates) are 64-bit.
The revisions in ``storage/alembic/versions`` make this schema step by step; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, CheckConstraint, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData,
                        PrimaryKeyConstraint, Table, Text, UniqueConstraint)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class utc_now(FunctionElement):
    """The current time in the columns' text format, as a column default each database computes."""

    type = Text()
    inherit_cache = True


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(element, compiler, **kw) -> str:
    return "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element, compiler, **kw) -> str:
    return """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def stamp(name: str, *, nullable: bool = False, default: bool = True) -> Column:
    """A timestamp column (text, see the module docstring), by default set when the row is made."""
    return Column(name, Text, nullable=nullable, server_default=utc_now() if default else None)


def fk_session() -> Column:
    return Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)


MODES = "mode IN ('owner', 'vote')"

metadata = MetaData()

meta = Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))

clips = Table(
    "clips", metadata,
    Column("id", Integer, primary_key=True),
    Column("source_sha256", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, CheckConstraint("kind IN ('video', 'demo')"), nullable=False),
    Column("style", Text),
    Column("duration", Float, nullable=False),
    Column("fps", Float, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("tempo", Float, nullable=False),
    Column("video_file", Text, nullable=False),  # relative to the media directory
    Column("poses_file", Text, nullable=False),  # relative to the media directory
    Column("pose_source", Text, CheckConstraint("pose_source IN ('mediapipe', 'generator')"), nullable=False),
    Column("detection_rate", Float, nullable=False),
    stamp("added_at"),
    Column("descriptor_tag", Text, nullable=False, server_default="default-r1"),
    Column("source", Text),
    Column("origin_sha256", Text),
    Column("origin_start", Float),
    Column("origin_end", Float),
    Column("performer", Text),
    Column("licence", Text),
    Column("source_date", Text),
    Column("style_guessed", Integer, nullable=False, server_default="0"),
    stamp("removed_at", nullable=True, default=False),
    Index("clips_origin", "origin_sha256"),
)

library_segments = Table(
    "library_segments", metadata,
    Column("id", Integer, primary_key=True),
    Column("clip_id", Integer, ForeignKey("clips.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("tempo", Float, nullable=False),
    Column("beats", Text, nullable=False),  # JSON list of seconds in the clip
    Column("loudness_levels", Text, nullable=False),  # JSON list of 0..10 per beat
    Column("motion_size", Text, nullable=False),  # JSON list, torso lengths per second per beat
    Column("motion_levels", Text, nullable=False),  # JSON list of 0..10 per beat (library-wide quantiles)
    Column("descriptor", LargeBinary, nullable=False),  # float32
    Column("start_pose", LargeBinary, nullable=False),  # float32 (J, 2)
    Column("start_velocity", LargeBinary, nullable=False),
    Column("end_pose", LargeBinary, nullable=False),
    Column("end_velocity", LargeBinary, nullable=False),
    Column("music_start", Float),
    UniqueConstraint("clip_id", "idx"),
    Index("library_segments_clip", "clip_id"),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Text, primary_key=True),  # short random id
    Column("chat_id", BigInteger, nullable=False),
    Column("chat_type", Text, nullable=False),
    Column("owner_id", BigInteger, nullable=False),
    Column("owner_name", Text, nullable=False),
    Column("language", Text, nullable=False, server_default="en"),
    Column("mode", Text, CheckConstraint(MODES), nullable=False, server_default="owner"),
    Column("status", Text, nullable=False),  # storage.rows.SessionStatus
    Column("song_name", Text, nullable=False),
    Column("song_file_id", Text),
    Column("song_unique_id", Text),
    Column("song_path", Text),
    Column("song_duration", Float),
    Column("source_message_id", BigInteger),
    Column("progress_message_id", BigInteger),
    Column("analysis", Text),  # JSON of the SongAnalysis
    Column("descriptors", LargeBinary),  # float32 (segments, D)
    Column("n_segments", Integer),
    Column("current_segment", Integer, nullable=False, server_default="0"),
    Column("render_mode", Text, nullable=False, server_default="clips"),
    Column("result_message_id", BigInteger),
    Column("error", Text),
    stamp("created_at"),
    stamp("updated_at"),
    stamp("finished_at", nullable=True, default=False),
    Column("descriptor_tag", Text, nullable=False, server_default="default-r1"),
    Column("delivery", Text, nullable=False, server_default="choose"),
    Column("delivery_message_id", BigInteger),
    Index("sessions_chat", "chat_id", "status"),
    Index("sessions_owner", "owner_id", "status"),
)

session_segments = Table(
    "session_segments", metadata,
    fk_session(),
    Column("idx", Integer, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),  # storage.rows.SegmentStatus
    Column("preview_message_id", BigInteger),
    Column("picked_rank", Integer),
    Column("picked_segment_id", Integer),  # library_segments.id
    Column("picked_by", BigInteger),
    stamp("picked_at", nullable=True, default=False),
    Column("pick_source", Text),  # storage.rows.PickSource
    Column("vote_deadline", Float),
    PrimaryKeyConstraint("session_id", "idx"),
)

candidates = Table(
    "candidates", metadata,
    fk_session(),
    Column("idx", Integer, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("library_segment_id", Integer, nullable=False),
    Column("scores", Text, nullable=False),  # JSON
    Column("total", Float, nullable=False),
    Column("stretch", Float, nullable=False),
    PrimaryKeyConstraint("session_id", "idx", "rank"),
)

picks = Table(
    "picks", metadata,
    Column("id", Integer, primary_key=True),
    fk_session(),
    Column("idx", Integer, nullable=False),
    Column("user_id", BigInteger),
    Column("rank", Integer, nullable=False),
    Column("library_segment_id", Integer, nullable=False),
    Column("source", Text, nullable=False),
    stamp("at"),
)

buttons = Table(
    "buttons", metadata,
    Column("token", Text, primary_key=True),  # the opaque callback_data
    fk_session(),
    Column("idx", Integer),
    Column("action", Text, nullable=False),
    Column("value", BigInteger),
    stamp("created_at"),
    # the order of the buttons made together (SQLite's rowid ordered them before; PostgreSQL has none)
    Column("position", Integer),
    Column("message_id", BigInteger),  # a change vote's close button: the message the vote is on
    Index("buttons_session", "session_id", "idx"),
)

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    fk_session(),
    Column("kind", Text, nullable=False),  # storage.rows.JobKind
    Column("idx", Integer),
    Column("payload", Text, nullable=False, server_default="{}"),
    Column("status", Text, nullable=False, server_default="queued"),  # storage.rows.JobStatus
    Column("attempts", Integer, nullable=False, server_default="0"),
    stamp("created_at"),
    stamp("started_at", nullable=True, default=False),
    stamp("finished_at", nullable=True, default=False),
    Index("jobs_status", "status", "id"),
)

file_cache = Table(
    "file_cache", metadata,
    Column("sha256", Text, primary_key=True),
    Column("file_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    stamp("created_at"),
)

results = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True),
    fk_session(),
    Column("mode", Text, nullable=False),
    Column("video_path", Text, nullable=False),
    Column("sheet_path", Text),
    Column("video_sha256", Text, nullable=False),
    stamp("created_at"),
    UniqueConstraint("session_id", "mode"),
)

chat_settings = Table(
    "chat_settings", metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("mode", Text, CheckConstraint(MODES), nullable=False, server_default="owner"),
    Column("changed_by", BigInteger),
    stamp("changed_at"),
    Column("delivery", Text, nullable=False, server_default="choose"),
)

votes = Table(
    "votes", metadata,
    fk_session(),
    Column("idx", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("rank", Integer, nullable=False),
    stamp("at"),
    PrimaryKeyConstraint("session_id", "idx", "user_id"),
)

vote_history = Table(
    "vote_history", metadata,
    Column("id", Integer, primary_key=True),
    fk_session(),
    Column("idx", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("rank", Integer, nullable=False),
    stamp("at"),
)

dance_versions = Table(
    "dance_versions", metadata,
    fk_session(),
    Column("number", Integer, nullable=False),  # 1, 2, ... in the order they were rendered
    Column("mode", Text, nullable=False),  # clips, avatar
    Column("picks", Text, nullable=False),  # JSON: the library segment id of every part
    Column("changed_part", Integer),  # 0-based part changed from the version before (NULL: none)
    Column("video_path", Text, nullable=False),
    Column("video_sha256", Text, nullable=False),
    stamp("created_at"),
    PrimaryKeyConstraint("session_id", "number"),
)

updates = Table(
    "updates", metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),  # the Update as JSON
    stamp("received_at"),
    stamp("done_at", nullable=True, default=False),
    Index("updates_pending", "done_at", "update_id"),
)

# storage.locks: who holds a session's lock, until when (epoch seconds)
session_locks = Table(
    "session_locks", metadata,
    Column("session_id", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)
