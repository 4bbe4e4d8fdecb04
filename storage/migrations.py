"""Versioned schema migrations, applied in order at start (``PRAGMA user_version``)."""

MIGRATIONS: list[str] = [
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
]
