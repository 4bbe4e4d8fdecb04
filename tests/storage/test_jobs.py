"""The job table's questions for work made ahead: is anyone else waiting, and queue a stretch once."""

from __future__ import annotations

import asyncio

from storage.jobs import JobRepo
from storage.rows import JobKind, JobStatus
from storage.sessions import SessionRepo


async def _session(sessions: SessionRepo, chat_id: int) -> tuple[str, int]:
    """A new song's session and its analysis job (queued)."""
    return await sessions.create(chat_id=chat_id, chat_type="private", owner_id=chat_id, owner_name="Ann",
                                 language="en", song_name="song", song_file_id=f"f{chat_id}",
                                 song_unique_id=f"u{chat_id}", song_duration=30.0, source_message_id=1)


def test_busy_counts_what_a_person_waits_for(database):
    async def scenario():
        async with await database.open() as db:
            sessions, jobs = SessionRepo(db), JobRepo(db)
            mine, my_analysis = await _session(sessions, 1)
            assert await jobs.claim() is not None  # my analysis runs: it queued the work ahead itself
            await jobs.enqueue(mine, JobKind.PIECES, 0, {"auto": True})
            assert not await jobs.busy(mine)
            await jobs.finish(my_analysis)
            other, other_analysis = await _session(sessions, 2)
            assert await jobs.busy(mine)  # another song waits for its analysis
            assert not await jobs.busy(other)  # (its own analysis does not count for it)
            await jobs.finish(other_analysis)
            await jobs.enqueue(other, JobKind.PIECES, 3)  # another song's work made ahead: not waiting
            assert not await jobs.busy(mine)
            await jobs.enqueue(other, JobKind.OFFER, 1)  # another song's next part: waiting
            assert await jobs.busy(mine)

    asyncio.run(scenario())


def test_a_stretch_is_queued_once(database):
    async def scenario():
        async with await database.open() as db:
            sessions, jobs = SessionRepo(db), JobRepo(db)
            sid, analysis = await _session(sessions, 1)
            await jobs.finish(analysis)
            assert await jobs.enqueue_unless_open(sid, JobKind.PIECES, 4, {"auto": True})
            assert not await jobs.enqueue_unless_open(sid, JobKind.PIECES, 4, {"auto": True})  # a re-run's
            assert await jobs.enqueue_unless_open(sid, JobKind.PIECES, 8, {"auto": True})  # another stretch
            job = await jobs.claim()
            assert (job.kind, job.idx) == (JobKind.PIECES, 4)
            assert not await jobs.enqueue_unless_open(sid, JobKind.PIECES, 4)  # running: still open
            await jobs.finish(job.id, JobStatus.DONE)
            assert await jobs.enqueue_unless_open(sid, JobKind.PIECES, 4)

    asyncio.run(scenario())
