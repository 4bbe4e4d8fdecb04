"""Session locks across processes (storage.locks): two Database objects, as two bot processes
have, on SQLite and on PostgreSQL (the bot takes the lease only on a server database: a SQLite
one has one bot process; here both take it)."""

from __future__ import annotations

import asyncio

from storage.locks import SessionLocks


def test_a_session_lock_holds_across_processes_and_its_lease_runs_out(database):
    async def scenario():
        first, second = await database.open(), await database.open()
        try:
            events: list[str] = []

            async def change(locks: SessionLocks, name: str, seconds: float) -> None:
                async with locks.hold("s1"):
                    events.append(f"{name} in")
                    await asyncio.sleep(seconds)
                    events.append(f"{name} out")

            a, b = SessionLocks(first, across_processes=True), SessionLocks(second, across_processes=True)
            # two changes of one session, one per process, and one of another session meanwhile
            await asyncio.gather(change(a, "A", 0.3), change(b, "B", 0.0), change(a, "A2", 0.0))
            async with b.hold("s2"):  # another session is not held up by s1's holders
                pass
            # a process killed while holding the lock: the others get it once its lease runs out
            dead = SessionLocks(first, lease_seconds=0.5, across_processes=True)
            assert await dead.take("s1", "killed") and not await b.take("s1", "other")
            started = asyncio.get_running_loop().time()
            async with b.hold("s1"):
                waited = asyncio.get_running_loop().time() - started
            return events, waited
        finally:
            await first.close()
            await second.close()

    events, waited = asyncio.run(scenario())
    # every change ran alone: each "in" is followed by its own "out"
    assert [e.split()[1] for e in events] == ["in", "out"] * 3
    assert all(events[i].split()[0] == events[i + 1].split()[0] for i in range(0, 6, 2))
    assert waited >= 0.4
