"""The database layer itself: Alembic's schema on both databases, SQLite databases from before
upgraded in place, the repositories' SQL on both, two processes picking one part or claiming one
job at once (PostgreSQL), and a restarted PostgreSQL server.

``choreo-v9.db`` was made by main's storage code before Alembic (fixtures/make_choreo_v9.py).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.cli import main as choreo
from storage import Database
from storage.clips import ClipRepo
from storage.db import PassingDatabaseError
from storage.files import FileCacheRepo
from storage.inbox import UpdateInbox
from storage.jobs import JobRepo
from storage.migrations import LADDER, head_revision
from storage.rows import ButtonAction, JobKind, PickSource, SegmentStatus, SessionStatus
from storage.schema import metadata
from storage.sessions import SessionRepo
from storage.versions import VersionRepo
from storage.votes import VoteRepo
from tests.storage.fixtures.make_choreo_v9 import synthetic_clip

OLD_DATABASE = Path(__file__).with_name("fixtures") / "choreo-v9.db"
CHAT = -1001234567890  # a supergroup's id: past 32 bits, as Telegram's are
USER = 5123456789


async def schema_differences(db: Database, tables_and_columns_only: bool = False) -> list:
    """What Alembic finds between the database's schema and ``storage.schema`` (nothing: head).
    Databases made by the ladder differ in the columns' details (``TEXT PRIMARY KEY`` may be
    NULL in SQLite), not in their tables, columns and indexes: ``tables_and_columns_only``."""
    async with db.exclusive() as statements:
        found = await statements.conn.run_sync(
            lambda conn: compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata))
    if not tables_and_columns_only:
        return found
    # (SQLAlchemy reads no ON DELETE from the ladder's inline REFERENCES: cascades are checked apart)
    return [d for d in found if isinstance(d, tuple) and d[0].split("_", 1)[1] in ("table", "column", "index")]


async def choosing_session(sessions: SessionRepo, parts: int = 2, chat_id: int = CHAT) -> str:
    session_id, _ = await sessions.create(chat_id=chat_id, chat_type="group", owner_id=USER, owner_name="Bo",
                                          language="ko", song_name="Song", song_file_id="F", song_unique_id="U",
                                          song_duration=30.0, source_message_id=1)
    await sessions.set_status(session_id, SessionStatus.ANALYSING)
    assert await sessions.store_analysis(session_id, {"segments": [{}] * parts}, np.ones((parts, 4)), "song.mp3", "t")
    return session_id


def test_a_new_database_is_at_the_newest_revision(database):
    async def scenario():
        async with await database.open() as db:
            assert await db.revision() == head_revision()
            assert await schema_differences(db) == []

    asyncio.run(scenario())


def test_an_old_sqlite_database_is_upgraded_in_place(tmp_path):
    """A database of the hand-written ladder's last step keeps every row and reaches the head."""
    path = tmp_path / "choreo.db"
    shutil.copy(OLD_DATABASE, path)

    async def scenario():
        async with await Database.open(path) as db:
            assert await db.revision() == head_revision()
            assert await schema_differences(db, tables_and_columns_only=True) == []
            sessions = SessionRepo(db)
            old = await db.fetchall("SELECT id FROM sessions ORDER BY created_at")
            assert len(old) == 3
            for (session_id,) in old:
                session = await sessions.get(session_id)
                assert (session.owner_id, session.language, session.n_segments) == (USER, "ko", 2)
                assert (await sessions.segment(session_id, 0)).status == SegmentStatus.PICKED
                # the old buttons keep their order, and new ones come after them
                await sessions.make_buttons(session_id, 0, [(ButtonAction.PICK, 9)])
                assert [b.value for b in await sessions.segment_buttons(session_id, 0)] == [1, 2, None, 9]
            assert (await db.fetchone("SELECT COUNT(*) FROM picks"))[0] == 3
            assert await VoteRepo(db).chat_mode(CHAT) == "vote"
            assert await FileCacheRepo(db).file_id("abc") == "BAADfileid"
            assert await UpdateInbox(db).pending() == [(900000001, {"update_id": 900000001})]
            clips = ClipRepo(db)
            library = await clips.load("default-r1")
            assert len(library) == 6 and library.descriptors.shape == (6, 8)
            assert await clips.version() == 2  # bumped by each of the two clips

    asyncio.run(scenario())
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(LADDER)
    cascades = {table: {row[6] for row in con.execute(f"PRAGMA foreign_key_list({table})")}
                for table in ("buttons", "picks", "jobs", "library_segments", "dance_versions")}
    assert cascades == dict.fromkeys(cascades, {"CASCADE"})


def test_an_older_ladder_step_climbs_the_rest_of_the_ladder_first(tmp_path):
    """A database at step 5 gets steps 6-9 (clip sources, the inbox, soft removal, delivery
    messages) from the ladder, then the Alembic revisions; its rows stay."""
    path = tmp_path / "choreo.db"
    con = sqlite3.connect(path)
    for number, script in enumerate(LADDER[:5], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version={number}")
    con.execute("""INSERT INTO sessions (id, chat_id, chat_type, owner_id, owner_name, status, song_name)
                   VALUES ('old', 1, 'private', 7, 'Ann', 'done', 'tune')""")
    con.commit()
    con.close()

    async def scenario():
        async with await Database.open(path) as db:
            assert await db.revision() == head_revision()
            assert await schema_differences(db, tables_and_columns_only=True) == []
            session = await SessionRepo(db).get("old")
            assert (session.song_name, session.delivery_message_id, session.delivery) == ("tune", None, "choose")
            assert await UpdateInbox(db).record(1, {"update_id": 1})

    asyncio.run(scenario())


def test_the_repositories_write_and_read_the_same_on_both_databases(database):
    """Blobs, 64-bit ids, upserts, RETURNING ids, button order, the reserved word ``end``,
    case-insensitive search, a glob over file ids and the timestamps' text format."""

    async def scenario():
        async with await database.open() as db:
            clips = ClipRepo(db)
            rng = np.random.default_rng(1)
            (database.media_dir / "videos").mkdir(parents=True, exist_ok=True)
            levels = lambda sizes: [[3] * len(s) for s in sizes]
            ids = [await clips.add_clip(synthetic_clip(c, rng, database.media_dir / "videos" / f"{c}.mp4"), "video",
                                        "t", levels) for c in range(2)]
            assert await clips.add_clip(synthetic_clip(0, rng, database.media_dir / "x.mp4"), "video", "t",
                                        levels) is None
            library = await clips.load("t")
            assert [s.end for s in library.segments][:3] == [4.0, 8.0, 12.0]
            assert library.start_poses.shape == (6, 13, 2) and library.segments[0].motion_levels.tolist() == [3] * 8
            assert (await clips.music_ranges(ids[1]))[2].end == 12.0
            assert await clips.remove_clip("clip 0") == "clip 0" and len(await clips.load("t")) == 3
            assert await clips.version() == 3

            sessions = SessionRepo(db)
            session_id = await choosing_session(sessions, parts=3)
            tokens = await sessions.make_buttons(session_id, 0, [(ButtonAction.PICK, r) for r in (3, 1, 2)])
            assert [b.token for b in await sessions.segment_buttons(session_id, 0)] == [b.token for b in tokens]
            assert await sessions.offer(session_id, 0)
            assert await sessions.record_picks(session_id, [(0, 1, 11)], USER, PickSource.USER, (JobKind.OFFER, 1))
            assert not await sessions.record_picks(session_id, [(0, 2, 12)], USER, PickSource.USER)  # a double tap
            assert await sessions.record_picks(session_id, [(i, 1, 20 + i) for i in (1, 2)], None, PickSource.AUTO,
                                               (JobKind.RENDER, None))
            assert await sessions.picked_segment_ids(session_id) == [11, 21, 22]
            assert (await sessions.get(session_id)).status == SessionStatus.RENDERING
            await sessions.set_status(session_id, SessionStatus.DONE)
            versions = VersionRepo(db)
            first = await versions.add(session_id, "clips", [11, 21, 22], None, "v1.mp4", "sha-1")
            assert (first.number, await versions.next_number(session_id)) == (1, 2)
            assert (await versions.find(session_id, "clips", [11, 21, 22])).video_path == "v1.mp4"
            change = await versions.offer_change(session_id, 1, [40, 41])
            assert await versions.change_rank(session_id, 1, change[1].token) == 2
            assert [await versions.change_choice(session_id, 1, r) for r in (1, 2, 3)] == [40, 41, None]
            await versions.open_change_vote(session_id, 1, deadline=100.0)
            assert await versions.change_vote(session_id, 1, USER, 2) and await versions.change_vote(session_id, 1, USER, 1)
            assert await VoteRepo(db).counts(session_id, 1) == {1: 1}  # the second tap moved the vote
            assert await versions.change_pick(session_id, 1, 2, 41, USER, "clips")
            assert not await versions.change_pick(session_id, 1, 2, 41, USER, "clips")  # a double tap
            await sessions.store_result(session_id, "clips", "v2.mp4", None, "sha-2")
            await sessions.set_status(session_id, SessionStatus.DONE)
            files = FileCacheRepo(db)
            await files.remember("sha-2", "video-0a1b2c-00042", "video")
            await files.remember("sha-2", "video-0a1b2c-00043", "video")  # replaces
            await files.remember("sha-3", "BAAD" + "x" * 60, "video")
            assert [d.song_name for d in await sessions.shared_dances(USER, "sON")] == ["Song"]
            pattern = "[a-z]*-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9][0-9][0-9][0-9][0-9]"
            assert await files.forget_file_ids(pattern) == 1
            assert await files.file_id("sha-2") is None and await files.file_id("sha-3") is not None
            history = await sessions.history(owner_id=USER)
            assert [s.id for s in history] == [session_id] and history[0].finished_at.endswith("Z")

            votes = VoteRepo(db)
            voted = await choosing_session(sessions, parts=1, chat_id=CHAT - 1)
            assert await sessions.offer(voted, 0, vote_deadline=100.0)
            assert await votes.vote(voted, 0, USER, 2) and await votes.vote(voted, 0, USER, 3)
            assert await votes.vote(voted, 0, USER + 1, 3)
            assert await votes.counts(voted, 0) == {3: 2}
            assert await votes.due(99.0) == [] and await votes.due(100.0) == [(voted, 0)]

            inbox = UpdateInbox(db)
            assert await inbox.record(7, {"update_id": 7}) and not await inbox.record(7, {"update_id": 7})
            await inbox.done(7)
            await db.fetchall("SELECT 1")  # a read between writes
            async with db.transaction() as conn:
                await conn.execute("UPDATE updates SET done_at = ? WHERE update_id = ?", ("2000-01-01T00:00:00.000Z", 7))
            assert await inbox.prune() == 1

    asyncio.run(scenario())


def test_two_processes_never_record_two_picks_for_one_part(postgres_url, tmp_path):
    """Two bot processes (two Database objects, each its own connections) tap the same part at
    the same moment, for every part of a song: each part gets exactly one pick."""
    parts = 12

    async def scenario():
        first, second = [await Database.open(postgres_url, tmp_path) for _ in range(2)]
        try:
            session_id = await choosing_session(SessionRepo(first), parts=parts)
            results = []
            for idx in range(parts):
                assert await SessionRepo(first).offer(session_id, idx)
                taps = [SessionRepo(db).record_picks(session_id, [(idx, rank, 100 + rank)], USER + rank,
                                                     PickSource.USER, (JobKind.OFFER, idx + 1))
                        for rank, db in ((1, first), (2, second))]
                results.append(await asyncio.gather(*taps))
            picks = await first.fetchall("SELECT idx, COUNT(*) FROM picks GROUP BY idx ORDER BY idx")
            offers = (await first.fetchone("SELECT COUNT(*) FROM jobs WHERE kind = ?", (JobKind.OFFER,)))[0]
            return results, picks, offers
        finally:
            await first.close()
            await second.close()

    results, picks, offers = asyncio.run(scenario())
    assert all(sorted(r) == [False, True] for r in results), results
    assert [tuple(p) for p in picks] == [(i, 1) for i in range(parts)]
    assert offers == parts  # one next job per part, not two


def test_two_processes_never_claim_one_job(postgres_url, tmp_path):
    jobs_queued = 20

    async def scenario():
        first, second = [await Database.open(postgres_url, tmp_path) for _ in range(2)]
        try:
            session_id = await choosing_session(SessionRepo(first))
            for _ in range(jobs_queued):
                await JobRepo(first).enqueue(session_id, JobKind.RENDER)
            claimed: list[list[int]] = [[], []]

            async def runner(db: Database, mine: list[int]) -> None:
                while (job := await JobRepo(db).claim()) is not None:
                    mine.append(job.id)

            await asyncio.gather(runner(first, claimed[0]), runner(second, claimed[1]))
            return claimed
        finally:
            await first.close()
            await second.close()

    claimed = asyncio.run(scenario())
    every = claimed[0] + claimed[1]
    assert len(every) == len(set(every)) == jobs_queued + 1  # the session's analysis job too


def test_a_restarted_postgresql_is_reconnected_by_itself(postgres_server, postgres_url, tmp_path):
    """The same Database object works after the server restarts; while it is down, the failure
    is a passing one (the job runners retry those)."""

    async def scenario():
        async with await Database.open(postgres_url, tmp_path) as db:
            sessions = SessionRepo(db)
            session_id = await choosing_session(sessions)
            await db.fetchall("SELECT 1")  # every pooled connection is now one the restart cuts
            postgres_server.restart()
            assert (await sessions.get(session_id)).status == SessionStatus.CHOOSING
            postgres_server.restart()
            assert await sessions.offer(session_id, 0)  # a write first after the restart
            postgres_server.stop()
            try:
                with pytest.raises(PassingDatabaseError):
                    await sessions.get(session_id)
            finally:
                postgres_server.start()
            assert await sessions.record_picks(session_id, [(0, 1, 5)], USER, PickSource.USER)

    asyncio.run(scenario())


def test_choreo_db_upgrade(postgres_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHOREO_DATA_DIR", str(tmp_path / "data"))
    assert choreo(["db", "upgrade"]) == 0
    assert json.loads(capsys.readouterr().out) == {"revision": head_revision()}
    assert (tmp_path / "data" / "choreo.db").exists()
    monkeypatch.setenv("CHOREO_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CHOREO_MEDIA_DIR", str(tmp_path / "media"))
    assert choreo(["db", "upgrade"]) == 0
    assert json.loads(capsys.readouterr().out) == {"revision": head_revision()}

    async def revision() -> str | None:
        async with await Database.open(postgres_url, tmp_path / "media") as db:
            return await db.revision()

    assert asyncio.run(revision()) == head_revision()
