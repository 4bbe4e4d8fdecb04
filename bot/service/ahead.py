"""Work made ahead of the final video, so that the tap that asks for it waits for little.

- Once part 1 is offered: the final video's sound (it depends only on the song), on the engine
  worker that part 1's preview leaves idle while the song is described; and the auto path from
  part 1, worked out once, whether the work ahead or a tap on ✨ asks for it first.
- After each pick: the pieces of the final video that the picks so far decide
  (:mod:`choreo_engine.video.pieces`), so the last pick leaves only its own pieces and the join.
- While part 1 is watched: the auto-picked dance's pieces, so a tap on "✨ auto-pick the rest"
  finds much of its video made (a 3-minute song's final from nothing is ~11 s of frames and
  x264 on two cores). It goes in jobs of :data:`AHEAD_PARTS`
  parts, one after another, and stops at the first pick (the picks' own pieces follow them
  then), when the session stops choosing, or when another session has work queued or running:
  it is made with time nobody else wants.

Every such job has the lowest priority (``JobKind.PIECES``), and a failure is only logged: the
render makes whatever is missing. A render waits for this bot's engine calls in flight for its
session (:meth:`Ahead.settled`), so that its shares divide the same missing pieces.
"""

from __future__ import annotations

import asyncio
import logging

from storage.clips import ClipRepo
from storage.rows import Job, JobKind, Session, SessionStatus

from .. import worker
from .runtime import Runtime

log = logging.getLogger(__name__)

# Parts per job of the auto-picked dance's pieces: ~1.5 s of work that a render or another
# person's first preview may wait for.
AHEAD_PARTS = 4
KEPT_PATHS = 256  # auto paths kept for a tap on ✨ (the oldest are forgotten)


class Ahead:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.clips = ClipRepo(rt.db)
        self._in_flight: dict[str, set[asyncio.Future]] = {}  # session id -> its engine calls making pieces
        self._sounds: dict[str, asyncio.Future] = {}  # session id -> its final's sound being made
        # session id -> (library version, its auto path from part 1 as library segment ids)
        self._auto_paths: dict[str, tuple[int, list[int]]] = {}
        self._planning: dict[str, asyncio.Future] = {}  # session id -> its auto path being worked out

    async def auto_path(self, session: Session) -> list[int]:
        """The auto path from part 1 (library segment ids), the one a tap on ✨ at part 1 gets:
        kept from earlier if the library has not changed since (a clip removed meanwhile is no
        longer danced), else worked out by one engine call per song, whoever asks first (the
        pieces made ahead or the tap) and waited for by the other."""
        kept = self._auto_paths.get(session.id)
        if kept is not None and kept[0] == await self.clips.version():
            return kept[1]
        planning = self._planning.get(session.id)
        theirs = planning is not None
        if planning is None:
            planning = self._planning[session.id] = asyncio.ensure_future(self._plan(session))
            planning.add_done_callback(lambda done: self._planned(session.id, done))
        try:  # shielded: a tap or job cancelled meanwhile leaves the call to the other one waiting
            version, path = await asyncio.shield(planning)
        except asyncio.CancelledError:
            raise
        except Exception:
            if theirs:  # the other one's call failed (a worker died under it): worked out here
                return await self.auto_path(session)
            raise
        if version != await self.clips.version():  # the library changed while it was worked out
            return await self.auto_path(session)
        return path

    async def _plan(self, session: Session) -> tuple[int, list[int]]:
        from .stages import song_descriptors

        rt = self.rt
        version = await self.clips.version()
        analysis = session.song_analysis()
        descriptors = await song_descriptors(rt, session, analysis)
        rest = await rt.engine.run(worker.auto_rest, analysis, descriptors, 0, [], [], rt.settings.engine)
        path = [segment_id for _, _, segment_id in rest]
        self._auto_paths.pop(session.id, None)
        while len(self._auto_paths) >= KEPT_PATHS:
            self._auto_paths.pop(next(iter(self._auto_paths)))
        self._auto_paths[session.id] = (version, path)
        return version, path

    def _planned(self, session_id: str, call: asyncio.Future) -> None:
        if self._planning.get(session_id) is call:
            self._planning.pop(session_id)
        if not call.cancelled():
            call.exception()  # read: whoever waited for it has it raised

    async def _still_wanted(self, session_id: str) -> bool:
        """Whether the auto path's pieces are still worth making: the session is choosing, with
        no pick yet, and no other work is waiting."""
        session = await self.rt.sessions.get(session_id)
        return (session is not None and session.status == SessionStatus.CHOOSING
                and not await self.rt.sessions.picked_segment_ids(session_id) and not await self.rt.jobs.busy(session_id))

    async def run(self, session: Session, job: Job) -> None:
        """A ``pieces`` job: the picks' pieces, or (payload ``auto``) a stretch of the auto path's."""
        if session.status != SessionStatus.CHOOSING or (session.render_mode or "clips") != "clips" \
                or not session.song_path:
            return
        try:
            if job.payload.get("auto"):
                await self._auto_stretch(session, job)
            else:
                picked = await self.rt.sessions.picked_segment_ids(session.id)
                if picked:
                    await self._make(session, picked)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - work made ahead: the render makes what is missing
            log.warning("session %s: pieces made ahead failed (the render makes them): %r", session.id, exc)

    def start_sound(self, session: Session) -> None:
        """Make the final video's sound now, beside whatever comes next (part 1's preview is out;
        with two engine workers one is idle while the other describes the song and works out the
        auto path). Not waited for: a render's join waits for it (:meth:`sound_made`)."""
        if (session.render_mode or "clips") == "clips" and self.rt.settings.workers > 1 \
                and session.id not in self._sounds:
            call = self._sounds[session.id] = asyncio.ensure_future(self._sound(session))
            call.add_done_callback(lambda done: self._sounds.pop(session.id, None))

    def making_sound(self, session_id: str) -> bool:
        """Whether the final's sound is being made ahead (a render's shares then leave it)."""
        return session_id in self._sounds

    async def sound_made(self, session_id: str) -> None:
        """Return once the final's sound made ahead (if it is being made) is done (the join needs it)."""
        call = self._sounds.get(session_id)
        if call is not None:
            await asyncio.wait({call})

    async def _sound(self, session: Session) -> None:
        try:
            await self.rt.engine.run(worker.final_sound, session.song_analysis(), session.song_path,
                                     str(self.rt.session_dir(session.id)))
        except Exception as exc:  # noqa: BLE001 - work made ahead: the render makes it if missing
            log.warning("session %s: the final's sound made ahead failed (the render makes it): %r", session.id, exc)

    async def start_auto(self, session: Session) -> None:
        """Queue the auto-picked dance's first stretch (after part 1 is offered)."""
        if (session.render_mode or "clips") == "clips":
            await self.rt.jobs.enqueue(session.id, JobKind.PIECES, 0, {"auto": True})
            self.rt.wake.set()

    async def settled(self, session_id: str) -> None:
        """Return once this bot's engine calls making pieces for the session (if any) have ended."""
        calls = self._in_flight.get(session_id)
        if calls:
            await asyncio.wait(set(calls))

    async def _auto_stretch(self, session: Session, job: Job) -> None:
        rt = self.rt
        if not await self._still_wanted(session.id):
            return
        path = job.payload.get("path")
        if path is None:  # the first stretch: the auto path, as a tap on ✨ at part 1 would choose it
            path = await self.auto_path(session)
            if not await self._still_wanted(session.id):  # a pick or ✨ came while the path was worked out
                return
        start = job.idx or 0
        end = min(len(path), start + AHEAD_PARTS)
        await self._make(session, path, end)
        if end < len(path):  # once: a job run again after a crash finds its next stretch queued
            if await rt.jobs.enqueue_unless_open(session.id, JobKind.PIECES, end, {"auto": True, "path": path}):
                rt.wake.set()

    async def _make(self, session: Session, picked: list[int], parts_below: int | None = None) -> None:
        """The pieces that parts ``0..len(picked)-1`` decide (or only those below ``parts_below``;
        those made before are kept)."""
        rt = self.rt
        call = asyncio.ensure_future(rt.engine.run(worker.render_pieces, session.song_analysis(), picked,
                                                   session.song_path, str(rt.session_dir(session.id)),
                                                   rt.settings.engine, (0, 1), None, parts_below))
        self._in_flight.setdefault(session.id, set()).add(call)
        call.add_done_callback(lambda done: self._ended(session.id, done))
        await asyncio.shield(call)  # a cancelled job leaves the call to end: cancelling one replaces the pool

    def _ended(self, session_id: str, call: asyncio.Future) -> None:
        calls = self._in_flight.get(session_id, set())
        calls.discard(call)
        if not calls:
            self._in_flight.pop(session_id, None)
        if not call.cancelled():
            call.exception()  # read: a job cancelled meanwhile is not there to
