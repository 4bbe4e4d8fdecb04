"""The pipeline's stages for one session, each run by a job: analyse the song, offer a part
(candidates and their preview), render the dance and deliver it."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from telegram.error import BadRequest

from choreo_engine.errors import RefusedInputError
from choreo_engine.music import features
from storage.retention import PREVIEW_NAME
from storage.rows import (OPEN_STATUSES, ButtonAction, Delivery, Job, JobKind, PickMode, Result, SegmentStatus, Session,
                          SessionStatus)

from .. import stopwatch, worker
from ..texts import t
from . import keyboards, practice
from .messages import PROGRESS_MIN_INTERVAL, Messages, fmt_time, section_prefix, whose
from .retention import MediaGoneError
from .runtime import Runtime

if TYPE_CHECKING:
    from .choosing import Choosing

log = logging.getLogger(__name__)
# No render progress shown past this: the dance follows within a second or two, and an edit
# then would hold its send for a turn of the chat's one-message-a-second limit.
LAST_PROGRESS_PERCENT = 85
# A render's missing pieces are divided into this many calls per engine worker (see Stages._shares):
# with one per worker, a worker busy for a second when the render starts held the whole render
# back by that second while the other one idled at its end.
SHARES_PER_WORKER = 2
# What a downloaded song is saved as, in its session's folder.
SONG_FILE_NAME = "song"


async def song_descriptors(rt: Runtime, session: Session, analysis: dict) -> np.ndarray:
    """The song's segment descriptors: made after part 1's preview (see :meth:`Stages.analyse`),
    or computed again if they were made another way (a session analysed before the descriptor
    changed and the bot restarted). One engine call per song, whoever asks first (the stage after
    part 1's preview, or a tap on ✨ right after it), waited for by the others."""
    tag = features.descriptor_tag(rt.settings.engine.descriptor)
    if session.descriptor_tag != tag and session.id not in rt.describing:
        session = await rt.sessions.get(session.id) or session  # stored since this copy was read?
    if session.descriptor_tag == tag:
        return np.frombuffer(session.descriptors, dtype=np.float32).reshape(session.n_segments, -1)
    call = rt.describing.get(session.id)
    if call is None:
        call = rt.describing[session.id] = asyncio.ensure_future(_describe(rt, session, analysis, tag))
        call.add_done_callback(lambda done: _described(rt.describing, session.id, done))
    return await asyncio.shield(call)  # a caller cancelled meanwhile leaves the call to the others


async def _describe(rt: Runtime, session: Session, analysis: dict, tag: str) -> np.ndarray:
    descriptors = await rt.engine.run(worker.describe, session.song_path, analysis, rt.settings.engine)
    await rt.sessions.store_descriptors(session.id, descriptors, tag)
    return descriptors


def _described(describing: dict[str, asyncio.Future], session_id: str, call: asyncio.Future) -> None:
    if describing.get(session_id) is call:
        describing.pop(session_id)
    if not call.cancelled():
        call.exception()  # read: whoever waited for it has it raised


class Stages:
    def __init__(self, rt: Runtime, messages: Messages, choosing: "Choosing") -> None:
        self.rt = rt
        self.messages = messages
        self.choosing = choosing  # a part nothing fits is chosen automatically
        self.practice = practice.Practice(rt)
        self.ahead = choosing.ahead

    async def run(self, job: Job) -> None:
        """One job's stage, if its session still wants it.

        No lock is held here: engine work and uploads take seconds to minutes, and buttons and
        /cancel are answered meanwhile. Every write a stage makes is conditional on the state it
        expects (still analysing, still choosing, still rendering), so a cancel in between wins.
        """
        if job.kind in practice.KINDS:  # extras of a finished dance: the session is not changed
            await self.practice.run(job)
            return
        session = await self.rt.sessions.get(job.session_id)
        if session is None:
            return
        if job.kind == JobKind.RENDER:
            if session.status in (SessionStatus.RENDERING, SessionStatus.DELIVERING):
                await self.render(session, job.payload.get("mode") or session.render_mode,
                                  job.payload.get("changed_part"))
        elif job.kind == JobKind.ANALYSE:
            if session.status in (SessionStatus.QUEUED, SessionStatus.ANALYSING):
                await self.analyse(session)
            elif session.status == SessionStatus.CHOOSING:  # analysed; its first offer did not go out
                await self.offer(session, 0)
        elif job.kind == JobKind.OFFER:
            await self.offer(session, job.idx)
        elif job.kind == JobKind.PIECES:
            await self.ahead.run(session, job)
        elif job.kind == JobKind.SHEET:
            await self.send_sheet(session)
        elif job.kind == JobKind.AUTO and session.status == SessionStatus.CHOOSING:
            await self.choosing.auto_pick(session, job.idx, job.payload.get("user_id"),
                                          pressed_message_id=job.payload.get("message_id"))

    async def fail(self, job: Job, exc: Exception) -> None:
        """A job failed for good: the session fails and the chat is told, unless the session
        already ended (cancelled, or done: a delivered dance is never marked failed; a failed
        switch to the other mode leaves it done). A file refused as it arrived leaves nothing
        behind: neither its download nor its rows."""
        rt = self.rt
        session = await rt.sessions.get(job.session_id)
        if session is None:
            return
        if session.finished_at is not None:
            moved = await rt.sessions.set_status(session.id, SessionStatus.DONE,
                                                 only_if=(SessionStatus.RENDERING, SessionStatus.DELIVERING))
        else:
            moved = await rt.sessions.set_status(session.id, SessionStatus.FAILED, only_if=OPEN_STATUSES,
                                                 error=str(exc)[:500])
        if moved:
            await self.messages.report_failure(session, exc)
        if moved and isinstance(exc, RefusedInputError) and session.status in (SessionStatus.QUEUED,
                                                                               SessionStatus.ANALYSING):
            await rt.sessions.discard(session.id)
            shutil.rmtree(rt.session_dir(session.id), ignore_errors=True)

    # ------------------------------------------------------------------ analyse
    async def _download(self, session: Session) -> str:
        if session.song_path and Path(session.song_path).exists():
            return session.song_path
        tg_file = await self.rt.bot.get_file(session.song_file_id)
        # a fixed name: nothing of the sender's name or Telegram's extension reaches a path or
        # ffmpeg (the engine tells the container from the file's first bytes)
        path = self.rt.session_dir(session.id) / SONG_FILE_NAME
        # a temporary name until complete: a download cut short (a full disk) is never taken for the song
        partial = path.with_name(path.name + ".part")
        await tg_file.download_to_drive(partial)
        os.replace(partial, path)
        await self.rt.sessions.update(session.id, song_path=str(path))
        return str(path)

    async def analyse(self, session: Session) -> None:
        rt = self.rt
        if not await rt.sessions.set_status(session.id, SessionStatus.ANALYSING,
                                            only_if=(SessionStatus.QUEUED, SessionStatus.ANALYSING)):
            return  # cancelled while queued
        with stopwatch.timed(session.chat_id, "download"):
            song_path = await self._download(session)
        # not forced: a forced edit waits for its turn (3 s after the "queued" message), and the
        # first preview would wait with it; a song that waited in the queue still gets this line
        await self.messages.progress(session, "analysing")
        head = None
        beside = rt.settings.workers > 1 and session.delivery != Delivery.AUTO
        # with part 1 made from the song's start beside it, the whole song's descriptors (needed
        # from part 2 on) are made after part 1's preview is sent, not before
        whole = asyncio.ensure_future(rt.engine.run(worker.analyse, song_path, rt.settings.engine, not beside))
        if beside:  # part 1 from the song's start, beside it
            out = rt.session_dir(session.id) / "preview-001.mp4"
            head = asyncio.ensure_future(rt.engine.run(worker.first_offer, song_path, str(out), rt.settings.engine))
        try:
            analysis, descriptors, timings = await whole
        except BaseException as exc:
            if head is not None:  # the whole song's error is the one reported; this one is only read
                if isinstance(exc, asyncio.CancelledError):  # the job itself is abandoned
                    head.cancel()
                # else part 1's call is left to finish: cancelling a running engine call replaces
                # the whole pool, and every other song's call in it would fail with it
                head.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise
        stopwatch.add_all(session.chat_id, timings)
        first = await self._first_offer(head, analysis) if head is not None else None
        # not described yet: an empty tag, which song_descriptors tells from every real one
        tag = features.descriptor_tag(rt.settings.engine.descriptor) if len(descriptors) else ""
        if not await rt.sessions.store_analysis(session.id, analysis, descriptors, song_path, tag):
            return  # cancelled while analysing
        session = await rt.sessions.get(session.id)
        if session.delivery == Delivery.AUTO:  # /mode auto: the whole dance at once, changes afterwards
            await self.choosing.auto_pick(session, 0, user_id=None)
            return
        if first is None:  # a preview made now: say so (a prepared one goes out at once, no edit before it)
            await self.messages.progress(session, "matching", segments=len(analysis["segments"]))
        await self.offer(session, 0, first)
        session = await rt.sessions.get(session.id)
        if session is not None and session.status == SessionStatus.CHOOSING:
            self.ahead.start_sound(session)  # beside the descriptors and the auto path: the final's sound
            if not tag:  # the descriptors for part 2 on, while part 1 is watched
                await song_descriptors(rt, session, analysis)
            await self.ahead.start_auto(session)  # and the auto-picked dance's video, in case ✨ is tapped

    @staticmethod
    async def _first_offer(head: asyncio.Future, analysis: dict) -> dict | None:
        """Part 1's offer made from the song's start, if it cut part 1 where the whole song's
        analysis does (within a quarter beat); else None and part 1 is offered the usual way."""
        try:
            first = await head
        except Exception as exc:  # the whole song's analysis decides what is wrong with a song
            log.debug("part 1 from the song's start failed: %s", exc)
            return None
        if first is None:
            return None
        tolerance = 60.0 / max(analysis["tempo"], 1.0) / 4
        return first if abs(first["segment"]["end"] - analysis["segments"][0]["end"]) <= tolerance else None

    # ------------------------------------------------------------------ offer and preview
    async def offer(self, session: Session, idx: int, prepared: dict | None = None) -> None:
        """Offer part ``idx``: its candidates (``prepared`` ones, or computed now) as a preview."""
        rt = self.rt
        seg_row = await rt.sessions.segment(session.id, idx)
        unsent = seg_row is not None and seg_row.status == SegmentStatus.OFFERED and seg_row.preview_message_id is None
        if session.status != SessionStatus.CHOOSING or seg_row is None or not (
                seg_row.status == SegmentStatus.PENDING or unsent):
            return  # already offered (a re-run job) or no longer choosing
        if prepared is None:  # an edit right before the preview's send would make it wait its turn
            await self.messages.progress(session, "previews")
        analysis = session.song_analysis()
        result = prepared
        if result is None:
            descriptors = await song_descriptors(rt, session, analysis)
            picked = await rt.sessions.picked_segment_ids(session.id)
            out = rt.session_dir(session.id) / PREVIEW_NAME.format(idx + 1)
            result = await rt.engine.run(worker.offer, analysis, descriptors, idx, picked, session.song_path, str(out),
                                         rt.settings.engine)
        stopwatch.add_all(session.chat_id, result["timings"])
        await rt.sessions.store_candidates(session.id, idx, result["candidates"])
        if not result["candidates"]:
            # nothing fits this part at all: choose automatically from what the planner allows
            await self.choosing.auto_pick(session, idx, user_id=None)
            return
        lang = session.language
        seg = analysis["segments"][idx]
        caption = section_prefix(lang, analysis, idx) + t(
            lang, "offer", part=idx + 1, total=session.n_segments, start=fmt_time(seg["start"]),
            end=fmt_time(seg["end"]), song=html.escape(session.song_name)) + whose(session)
        if session.mode == PickMode.VOTE:
            caption += t(lang, "vote_hint", minutes=max(1, round(rt.settings.vote_timeout_seconds / 60)))
        if result["note"]:
            caption += t(lang, "offer_short", note=html.escape(result["note"]))
        actions = keyboards.offer_actions([c["rank"] for c in result["candidates"]], session.mode)
        if idx == 0:
            actions.append((ButtonAction.AUTO_DANCE, None))
        # A re-run after a crash between sending and recording reuses the same tokens, so the
        # buttons of a preview that did go out keep working alongside the new one.
        buttons = await rt.sessions.segment_buttons(session.id, idx)
        if [(b.action, b.value) for b in buttons] != actions:
            buttons = await rt.sessions.make_buttons(session.id, idx, actions)
        markup = keyboards.offer_keyboard(lang, buttons)
        # the deadline also marks the part as voted (part_is_voted); offered before the send, so a
        # tap on the preview is never early
        deadline = time.time() + rt.settings.vote_timeout_seconds if session.mode == PickMode.VOTE else None
        if not await rt.sessions.offer(session.id, idx, deadline):
            return  # cancelled while the preview was made
        with open(result["preview"], "rb") as fh, stopwatch.uploading(session.chat_id):
            sent = await rt.bot.send_video(session.chat_id, fh, caption=caption, reply_markup=markup,
                                           parse_mode="HTML", supports_streaming=True,
                                           filename=f"part-{idx + 1}.mp4")
        await rt.sessions.preview_sent(session.id, idx, sent.message_id)
        if idx == 0:  # after the preview, and in the background: the throttled edit never holds the job
            self.messages.progress_later(session, "ready", segments=session.n_segments, tempo=round(analysis["tempo"]))

    # ------------------------------------------------------------------ render and deliver
    async def _render_in_shares(self, session: Session, mode: str, analysis: dict, picked: list[int], song_path: str,
                                progress_file: str, name: str) -> dict:
        """The final video: a clips video's missing pieces made by every engine worker at once
        (each its share, its progress in its own file), then joined; an avatar video in one call."""
        rt = self.rt
        folder = str(rt.session_dir(session.id))
        t0 = time.perf_counter()
        await self.ahead.settled(session.id)  # its pieces are done, and every share sees them
        n = self._shares(mode)
        if n > 1:
            # the final's sound made ahead may still be going: not made again by a share
            with_sound = not self.ahead.making_sound(session.id)
            await asyncio.gather(*(rt.engine.run(worker.render_pieces, analysis, picked, song_path, folder,
                                                 rt.settings.engine, (k, n), f"{progress_file}.{k}", None, with_sound)
                                   for k in range(n)))
        await self.ahead.sound_made(session.id)  # for the join
        shares = time.perf_counter() - t0
        result = await rt.engine.run(worker.render_result, analysis, picked, song_path, folder, mode,
                                     rt.settings.engine, progress_file, name)
        result["timings"]["render"] = result["timings"].get("render", 0.0) + shares
        return result

    def _shares(self, mode: str) -> int:
        """Calls a render's missing pieces are divided into: a clips video's, SHARES_PER_WORKER
        per engine worker, handed out as workers free up (one may still be busy with something
        else, the final's sound made ahead or another song's preview); else 1 (made by the join)."""
        workers = self.rt.settings.workers
        return SHARES_PER_WORKER * workers if mode == "clips" and workers > 1 else 1

    @staticmethod
    def _render_percent(progress_file: str, shares: int) -> int:
        """Percent done of a render: the mean of its shares' progress files, then the join's."""
        def read(path: str) -> float:
            try:
                return float(Path(path).read_text())
            except (OSError, ValueError):
                return 0.0

        parts = [read(f"{progress_file}.{k}") for k in range(shares)] if shares > 1 else []
        done = read(progress_file)
        return int(100 * (0.9 * sum(parts) / len(parts) + 0.1 * done if parts and done < 1.0 else done))

    async def render(self, session: Session, mode: str, changed_part: int | None = None) -> None:
        """Render the picks in ``mode`` unless a version with these picks exists; deliver it.
        Every render is kept as a version of the dance (``changed_part``: the part it changed)."""
        rt = self.rt
        picked = await rt.sessions.picked_segment_ids(session.id)
        version = await rt.versions.find(session.id, mode, picked)
        existing = None
        if version is not None:
            sheet = rt.session_dir(session.id) / worker.SHEET_NAME  # made after the first render
            await rt.sessions.store_result(session.id, mode, version.video_path, str(sheet) if sheet.exists() else None,
                                           version.video_sha256)
            existing = await rt.sessions.result(session.id, mode)
        elif (changed_part is None and session.finished_at is not None
              and not (await rt.versions.of_sessions([session.id]))[session.id]):
            existing = await rt.sessions.result(session.id, mode)  # a dance rendered before versions were kept
        if existing is None:
            # no progress edit before the render has run a while: a quick one (the pieces made
            # ahead) would send its dance a second later, after the edit's turn in the chat's limit
            try:  # fetched again when retention removed it (a mode asked for days later)
                song_path = await self._download(session)
            except BadRequest as exc:  # Telegram no longer has it either
                raise MediaGoneError(str(exc)) from exc
            picked = await rt.sessions.picked_segment_ids(session.id)
            analysis = session.song_analysis()
            progress_file = str(rt.session_dir(session.id) / f"render-{mode}.progress")
            number = await rt.versions.next_number(session.id)
            task = asyncio.ensure_future(self._render_in_shares(session, mode, analysis, picked, song_path,
                                                                progress_file, f"dance-{mode}-v{number}.mp4"))
            try:
                while not task.done():
                    await asyncio.wait({task}, timeout=PROGRESS_MIN_INTERVAL)
                    if not task.done():
                        percent = self._render_percent(progress_file, self._shares(mode))
                        if percent < LAST_PROGRESS_PERCENT:
                            await self.messages.progress(session, "rendering", percent=percent)
            except asyncio.CancelledError:
                task.cancel()  # the job was abandoned (its deadline): so is its engine call
                raise
            result = task.result()
            stopwatch.add_all(session.chat_id, result["timings"])
            await rt.versions.add(session.id, mode, picked, changed_part, result["video"], result["sha256"])
            await rt.sessions.store_result(session.id, mode, result["video"], result["sheet"], result["sha256"])
            existing = await rt.sessions.result(session.id, mode)
        await self.deliver(session, existing, mode)

    async def _delivery_message(self, session: Session, result: Result) -> int | None:
        """The message the dance goes into: a file (the video's poster, its first frame, or an
        older dance's sheet) sent first and recorded, then edited into the video. Sending a video
        twice cannot be undone, but editing one message twice is harmless, so a bot killed
        mid-upload delivers one dance, not two (a kill between the file and its record leaves a
        spare file, never a second dance)."""
        current = await self.rt.sessions.get(session.id)
        if current.delivery_message_id is not None:
            return current.delivery_message_id
        holder = next((p for p in (str(worker.poster_of(result.video_path)), result.sheet_path)
                       if p and Path(p).exists()), None)
        if holder is None:
            return None
        with open(holder, "rb") as fh:  # a file, not a photo: it becomes the video in a moment
            sent = await self.rt.bot.send_document(
                session.chat_id, fh, filename=f"choreo-dance{Path(holder).suffix}", parse_mode="HTML",
                caption=t(session.language, "delivering", song=html.escape(session.song_name)) + whose(session))
        await self.rt.sessions.update(session.id, delivery_message_id=sent.message_id)
        return sent.message_id

    async def send_sheet(self, session: Session) -> None:
        """The choreography sheet, after the first dance (made now if it is not yet: the dance
        does not wait for it). A sheet that cannot be made or sent does not undo the dance."""
        rt = self.rt
        try:
            sheet = str(rt.session_dir(session.id) / worker.SHEET_NAME)
            if not Path(sheet).exists():
                picked = await rt.sessions.picked_segment_ids(session.id)
                sheet = await rt.engine.run(worker.render_sheet, session.song_analysis(), picked,
                                            str(Path(sheet).parent), rt.settings.engine)
            with open(sheet, "rb") as fh:
                await rt.bot.send_photo(session.chat_id, fh,
                                        caption=t(session.language, "sheet", song=html.escape(session.song_name)),
                                        parse_mode="HTML")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the dance is delivered; a missing sheet does not undo it
            log.warning("session %s: the sheet was not sent: %r", session.id, exc)

    async def deliver(self, session: Session, result: Result, mode: str) -> None:
        """The dance with its buttons and, the first time, the choreography sheet after it.

        The session moves to delivering first (only from rendering): a cancel before that wins
        and nothing is sent; after it, a cancel is refused, so the two never both happen.
        """
        rt = self.rt
        if not await rt.sessions.set_status(session.id, SessionStatus.DELIVERING,
                                            only_if=(SessionStatus.RENDERING, SessionStatus.DELIVERING)):
            return  # cancelled while rendering: the video stays stored, nothing is sent
        lang = session.language
        analysis = session.song_analysis()
        minutes, seconds = divmod(int(round(analysis["duration"])), 60)
        buttons = await rt.sessions.make_buttons(session.id, None, keyboards.result_actions(mode))
        markup = keyboards.result_keyboard(lang, mode, buttons, session.song_name)
        change, = await rt.sessions.make_buttons(session.id, None, [(ButtonAction.CHANGE, None)])
        markup = keyboards.with_change_button(markup, lang, change)
        caption = t(lang, "done", song=html.escape(session.song_name), minutes=minutes, seconds=seconds,
                    mode=t(lang, f"mode_{mode}")) + whose(session)
        caption += await self.version_note(session, result)
        with stopwatch.uploading(session.chat_id, "final_upload"):
            message_id = await self._delivery_message(session, result)
            if message_id is None:  # no file to hold the place: sent once, as before
                sent = await self.messages.send_cached_video(session.chat_id, result.video_path,
                                                             result.video_sha256, caption, markup, analysis["duration"])
                message_id = sent.message_id
            else:
                await self.messages.put_video(session.chat_id, message_id, result.video_path, result.video_sha256,
                                              caption, markup, analysis["duration"])
        first_result = session.finished_at is None  # its sheet follows, in a job of its own (a kill does not lose it)
        await rt.sessions.set_status(session.id, SessionStatus.DONE, only_if=(SessionStatus.DELIVERING,),
                                     next_job=(JobKind.SHEET, None) if first_result else None,
                                     result_message_id=message_id, render_mode=mode, delivery_message_id=None)
        if first_result:
            rt.wake.set()

    async def version_note(self, session: Session, result: Result) -> str:
        """The caption's line for a dance that has been changed: its version and the part changed."""
        versions = (await self.rt.versions.of_sessions([session.id]))[session.id]
        version = next((v for v in reversed(versions) if v.video_sha256 == result.video_sha256), None)
        if version is None or len(versions) < 2:
            return ""
        if version.changed_part is None:
            return t(session.language, "version_note", number=version.number)
        return t(session.language, "version_note_changed", number=version.number, part=version.changed_part + 1)
