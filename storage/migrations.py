"""Schema migrations: Alembic's revisions (``storage/alembic/versions``), applied at open and by
``choreo db upgrade``; and the hand-written ladder they replaced, kept for SQLite databases from before.

Such a database (``PRAGMA user_version`` 1..9, no ``alembic_version`` table) climbs the ladder
to step 9, is stamped at the baseline revision (which is that schema) and upgraded from there, in
one transaction. New schema changes are Alembic revisions, never ladder steps.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

BASELINE = "0001"  # the revision equal to the ladder's last step
SCRIPTS = Path(__file__).with_name("alembic")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(connection: Connection) -> None:
    """Bring the database on ``connection`` (in a transaction) to the newest revision."""
    config = alembic_config(connection)
    if connection.dialect.name == "sqlite" and not inspect(connection).has_table("alembic_version"):
        old = connection.exec_driver_sql("PRAGMA user_version").scalar()
        if old:
            for script in LADDER[old:]:
                for statement in _statements(script):
                    connection.exec_driver_sql(statement)
            connection.exec_driver_sql(f"PRAGMA user_version={len(LADDER)}")
            command.stamp(config, BASELINE)
    command.upgrade(config, "head")


def _statements(script: str) -> list[str]:
    """Split a ladder step into statements (no semicolons inside its literals)."""
    return [s.strip() for s in script.split(";") if s.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in s.strip().splitlines())]


# The hand-written ladder, frozen: step N made ``PRAGMA user_version`` N (SQLite only).
LADDER: list[str] = [
    # 1: the dance library
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE clips (
        id             INTEGER PRIMARY KEY,
        source_sha256  TEXT NOT NULL UNIQUE,
        name           TEXT NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('video', 'demo')),
        style          TEXT,
        duration       REAL NOT NULL,
        fps            REAL NOT NULL,
        width          INTEGER NOT NULL,
        height         INTEGER NOT NULL,
        tempo          REAL NOT NULL,
        video_file     TEXT NOT NULL,   -- relative to the data directory
        poses_file     TEXT NOT NULL,   -- relative to the data directory
        pose_source    TEXT NOT NULL CHECK (pose_source IN ('mediapipe', 'generator')),
        detection_rate REAL NOT NULL,
        added_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE library_segments (
        id              INTEGER PRIMARY KEY,
        clip_id         INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
        idx             INTEGER NOT NULL,
        start           REAL NOT NULL,
        end             REAL NOT NULL,
        tempo           REAL NOT NULL,
        beats           TEXT NOT NULL,  -- JSON list of seconds in the clip
        loudness_levels TEXT NOT NULL,  -- JSON list of 0..10 per beat
        motion_size     TEXT NOT NULL,  -- JSON list, torso lengths per second per beat
        motion_levels   TEXT NOT NULL,  -- JSON list of 0..10 per beat (library-wide quantiles)
        descriptor      BLOB NOT NULL,  -- float32
        start_pose      BLOB NOT NULL,  -- float32 (J, 2)
        start_velocity  BLOB NOT NULL,
        end_pose        BLOB NOT NULL,
        end_velocity    BLOB NOT NULL,
        UNIQUE (clip_id, idx)
    );
    CREATE INDEX library_segments_clip ON library_segments (clip_id);
    """,
    # 2: choreography sessions in chats, their segments, candidates, picks, buttons, jobs, file cache
    """
    CREATE TABLE sessions (
        id                  TEXT PRIMARY KEY,          -- short random id
        chat_id             INTEGER NOT NULL,
        chat_type           TEXT NOT NULL,
        owner_id            INTEGER NOT NULL,
        owner_name          TEXT NOT NULL,
        language            TEXT NOT NULL DEFAULT 'en',
        mode                TEXT NOT NULL DEFAULT 'owner' CHECK (mode IN ('owner', 'vote')),
        status              TEXT NOT NULL,             -- queued, analysing, choosing, rendering, done, cancelled, failed
        song_name           TEXT NOT NULL,
        song_file_id        TEXT,
        song_unique_id      TEXT,
        song_path           TEXT,
        song_duration       REAL,
        source_message_id   INTEGER,
        progress_message_id INTEGER,
        analysis            TEXT,                      -- JSON of the SongAnalysis
        descriptors         BLOB,                      -- float32 (segments, D)
        n_segments          INTEGER,
        current_segment     INTEGER NOT NULL DEFAULT 0,
        render_mode         TEXT NOT NULL DEFAULT 'clips',
        result_message_id   INTEGER,
        error               TEXT,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at         TEXT
    );
    CREATE INDEX sessions_chat ON sessions (chat_id, status);
    CREATE INDEX sessions_owner ON sessions (owner_id, status);
    CREATE TABLE session_segments (
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx                 INTEGER NOT NULL,
        status              TEXT NOT NULL DEFAULT 'pending',  -- pending, offered, picked
        preview_message_id  INTEGER,
        picked_rank         INTEGER,
        picked_segment_id   INTEGER,                   -- library_segments.id
        picked_by           INTEGER,
        picked_at           TEXT,
        pick_source         TEXT,                      -- user, auto, vote
        PRIMARY KEY (session_id, idx)
    );
    CREATE TABLE candidates (
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx                 INTEGER NOT NULL,
        rank                INTEGER NOT NULL,
        library_segment_id  INTEGER NOT NULL,
        scores              TEXT NOT NULL,             -- JSON
        total               REAL NOT NULL,
        stretch             REAL NOT NULL,
        PRIMARY KEY (session_id, idx, rank)
    );
    CREATE TABLE picks (
        id                  INTEGER PRIMARY KEY,
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx                 INTEGER NOT NULL,
        user_id             INTEGER,
        rank                INTEGER NOT NULL,
        library_segment_id  INTEGER NOT NULL,
        source              TEXT NOT NULL,
        at                  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE buttons (
        token               TEXT PRIMARY KEY,          -- the opaque callback_data
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx                 INTEGER,
        action              TEXT NOT NULL,
        value               INTEGER,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX buttons_session ON buttons (session_id, idx);
    CREATE TABLE jobs (
        id                  INTEGER PRIMARY KEY,
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        kind                TEXT NOT NULL,             -- analyse, offer, render
        idx                 INTEGER,
        payload             TEXT NOT NULL DEFAULT '{}',
        status              TEXT NOT NULL DEFAULT 'queued',  -- queued, running, done, failed
        attempts            INTEGER NOT NULL DEFAULT 0,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        started_at          TEXT,
        finished_at         TEXT
    );
    CREATE INDEX jobs_status ON jobs (status, id);
    CREATE TABLE file_cache (
        sha256              TEXT PRIMARY KEY,
        file_id             TEXT NOT NULL,
        kind                TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE results (
        id                  INTEGER PRIMARY KEY,
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        mode                TEXT NOT NULL,
        video_path          TEXT NOT NULL,
        sheet_path          TEXT,
        video_sha256        TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (session_id, mode)
    );
    """,
    # 3: group chats: per-chat pick mode, votes per segment, vote deadlines
    """
    CREATE TABLE chat_settings (
        chat_id             INTEGER PRIMARY KEY,
        mode                TEXT NOT NULL DEFAULT 'owner' CHECK (mode IN ('owner', 'vote')),
        changed_by          INTEGER,
        changed_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE votes (
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx                 INTEGER NOT NULL,
        user_id             INTEGER NOT NULL,
        rank                INTEGER NOT NULL,
        at                  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (session_id, idx, user_id)
    );
    CREATE TABLE vote_history (
        id                  INTEGER PRIMARY KEY,
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx                 INTEGER NOT NULL,
        user_id             INTEGER NOT NULL,
        rank                INTEGER NOT NULL,
        at                  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    ALTER TABLE session_segments ADD COLUMN vote_deadline REAL
    """,
    # 4: the descriptor each stored descriptor was made with (features.descriptor_tag), so a
    # changed descriptor is computed again instead of compared with old ones; and the range a
    # library segment's descriptor covers (NULL before: its start, or 0 for a clip's first)
    """
    ALTER TABLE clips ADD COLUMN descriptor_tag TEXT NOT NULL DEFAULT 'default-r1';
    ALTER TABLE library_segments ADD COLUMN music_start REAL;
    ALTER TABLE sessions ADD COLUMN descriptor_tag TEXT NOT NULL DEFAULT 'default-r1'
    """,
    # 5: every rendered version of a session's dance (a part changed afterwards makes a new one;
    # /history resends any), and whether a chat gets the auto-picked dance at once (/mode auto)
    """
    CREATE TABLE dance_versions (
        session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number              INTEGER NOT NULL,          -- 1, 2, ... in the order they were rendered
        mode                TEXT NOT NULL,             -- clips, avatar
        picks               TEXT NOT NULL,             -- JSON: the library segment id of every part
        changed_part        INTEGER,                   -- 0-based part changed from the version before (NULL: none)
        video_path          TEXT NOT NULL,
        video_sha256        TEXT NOT NULL,
        created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (session_id, number)
    );
    ALTER TABLE chat_settings ADD COLUMN delivery TEXT NOT NULL DEFAULT 'choose';
    ALTER TABLE sessions ADD COLUMN delivery TEXT NOT NULL DEFAULT 'choose'
    """,
    # 6: the dance library's sources and styles: where each clip came from (URL or file name, the
    # source file's hash, the stretch of it kept), who made it, under what licence and when; its
    # style and whether that style is a guess (a removed or forgotten clip: `removed_at`, number 8)
    """
    ALTER TABLE clips ADD COLUMN source TEXT;
    ALTER TABLE clips ADD COLUMN origin_sha256 TEXT;
    ALTER TABLE clips ADD COLUMN origin_start REAL;
    ALTER TABLE clips ADD COLUMN origin_end REAL;
    ALTER TABLE clips ADD COLUMN performer TEXT;
    ALTER TABLE clips ADD COLUMN licence TEXT;
    ALTER TABLE clips ADD COLUMN source_date TEXT;
    ALTER TABLE clips ADD COLUMN style_guessed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX clips_origin ON clips (origin_sha256)
    """,
    # 7: the update inbox: every update Telegram hands over is written here before the next
    # getUpdates acknowledges it, and marked done once handled, so a killed bot replays the rest
    """
    CREATE TABLE updates (
        update_id           INTEGER PRIMARY KEY,
        body                TEXT NOT NULL,             -- the Update as JSON
        received_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        done_at             TEXT
    );
    CREATE INDEX updates_pending ON updates (done_at, update_id)
    """,
    # 8: clips are removed softly (`choreo library remove`, /forget): their segment ids are never
    # reused, and open sessions keep rendering the dancer they were offered
    """
    ALTER TABLE clips ADD COLUMN removed_at TEXT
    """,
    # 9: the message a dance is delivered into (sent first, then edited into the video, so a bot
    # killed mid-delivery edits the same message again instead of sending a second dance)
    """
    ALTER TABLE sessions ADD COLUMN delivery_message_id INTEGER
    """,
]
