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
from storage.rows import ButtonAction, Delivery, Job, JobKind, PickMode, Result, SegmentStatus, Session, SessionStatus

from .. import stopwatch, worker
from ..texts import t
from . import keyboards, practice
from .messages import PROGRESS_MIN_INTERVAL, Messages, fmt_time, section_prefix, whose
from .retention import MediaGoneError
from .runtime import Runtime

if TYPE_CHECKING:
    from .choosing import Choosing

log = logging.getLogger(__name__)
# What a downloaded song is saved as, in its session's folder.
SONG_FILE_NAME = "song"


async def song_descriptors(rt: Runtime, session: Session, analysis: dict) -> np.ndarray:
    """The song's segment descriptors, computed again if they were made another way
    (a session analysed before the descriptor changed and the bot restarted)."""
    tag = features.descriptor_tag(rt.settings.engine.descriptor)
    if session.descriptor_tag == tag:
        return np.frombuffer(session.descriptors, dtype=np.float32).reshape(session.n_segments, -1)
    descriptors = await rt.engine.run(worker.describe, session.song_path, analysis, rt.settings.engine)
    await rt.sessions.store_descriptors(session.id, descriptors, tag)
    return descriptors


class Stages:
    def __init__(self, rt: Runtime, messages: Messages, choosing: "Choosing") -> None:
        self.rt = rt
        self.messages = messages
        self.choosing = choosing  # a part nothing fits is chosen automatically
        self.practice = practice.Practice(rt)

    async def run(self, job: Job) -> None:
        """One job's stage, if its session still wants it."""
        rt = self.rt
        if job.kind in practice.KINDS:  # extras of a finished dance: no lock, the session is not changed
            await self.practice.run(job)
            return
        if job.kind == JobKind.RENDER:
            # not under the session's lock: a render takes minutes, and buttons and /cancel must be
            # answered meanwhile; its writes are conditional on the session still rendering
            session = await rt.sessions.get(job.session_id)
            if session is not None and session.status == SessionStatus.RENDERING:
                await self.render(session, job.payload.get("mode") or session.render_mode,
                                  job.payload.get("changed_part"))
            return
        async with rt.lock(job.session_id):
            session = await rt.sessions.get(job.session_id)  # read under the lock: a cancel is seen
            if session is None or session.status in (SessionStatus.CANCELLED, SessionStatus.FAILED):
                return
            if job.kind == JobKind.ANALYSE:
                await self.analyse(session)
            elif job.kind == JobKind.OFFER:
                await self.offer(session, job.idx)

    async def fail(self, session_id: str, exc: Exception) -> None:
        session = await self.rt.sessions.get(session_id)
        if session is None:
            return
        await self.rt.sessions.set_status(session_id, SessionStatus.FAILED, error=str(exc)[:500])
        await self.messages.report_failure(session, exc)
        if isinstance(exc, RefusedInputError) and session.status in (SessionStatus.QUEUED, SessionStatus.ANALYSING):
            # a file refused as it arrived leaves nothing behind: neither its download nor its rows
            await self.rt.sessions.discard(session_id)
            shutil.rmtree(self.rt.session_dir(session_id), ignore_errors=True)

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
        await rt.sessions.set_status(session.id, SessionStatus.ANALYSING)
        with stopwatch.timed(session.chat_id, "download"):
            song_path = await self._download(session)
        # not forced: a forced edit waits for its turn (3 s after the "queued" message), and the
        # first preview would wait with it; a song that waited in the queue still gets this line
        await self.messages.progress(session, "analysing")
        whole = asyncio.ensure_future(rt.engine.run(worker.analyse, song_path, rt.settings.engine))
        head = None
        if rt.settings.workers > 1 and session.delivery != Delivery.AUTO:  # part 1 from the song's start, beside it
            out = rt.session_dir(session.id) / "preview-001.mp4"
            head = asyncio.ensure_future(rt.engine.run(worker.first_offer, song_path, str(out), rt.settings.engine))
        try:
            analysis, descriptors, timings = await whole
        except BaseException:
            if head is not None:  # the whole song's error is the one reported; this one is only read
                head.cancel()
                head.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise
        stopwatch.add_all(session.chat_id, timings)
        first = await self._first_offer(head, analysis) if head is not None else None
        await rt.sessions.store_analysis(session.id, analysis, descriptors, song_path,
                                         features.descriptor_tag(rt.settings.engine.descriptor))
        session = await rt.sessions.get(session.id)
        if session.delivery == Delivery.AUTO:  # /mode auto: the whole dance at once, changes afterwards
            await self.choosing.auto_pick(session, 0, user_id=None)
            return
        await self.messages.progress(session, "matching", segments=len(analysis["segments"]))
        await self.offer(session, 0, first)

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
        if session.status != SessionStatus.CHOOSING or seg_row is None or seg_row.status != SegmentStatus.PENDING:
            return  # already offered (a re-run job) or no longer choosing
        await self.messages.progress(session, "previews")
        analysis = session.song_analysis()
        descriptors = await song_descriptors(rt, session, analysis)
        picked = await rt.sessions.picked_segment_ids(session.id)
        out = rt.session_dir(session.id) / PREVIEW_NAME.format(idx + 1)
        result = prepared or await rt.engine.run(worker.offer, analysis, descriptors, idx, picked,
                                                 session.song_path, str(out), rt.settings.engine)
        stopwatch.add_all(session.chat_id, result["timings"])
        await rt.sessions.store_candidates(session.id, idx, result["candidates"])
        if not result["candidates"]:
            # nothing fits this part at all: choose automatically from what the planner allows
            await self.choosing.auto_pick(session, idx, user_id=None)
            return
        lang = session.language
        seg = analysis["segments"][idx]
        caption = section_prefix(lang, analysis, idx) + t(lang, "offer", part=idx + 1, total=session.n_segments, start=fmt_time(seg["start"]),
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
        with open(result["preview"], "rb") as fh, stopwatch.uploading(session.chat_id):
            sent = await rt.bot.send_video(session.chat_id, fh, caption=caption, reply_markup=markup,
                                           parse_mode="HTML", supports_streaming=True,
                                           filename=f"part-{idx + 1}.mp4")
        await rt.sessions.offer(session.id, idx, sent.message_id)
        if session.mode == PickMode.VOTE:  # the deadline also marks the part as voted (part_is_voted)
            await rt.votes.set_deadline(session.id, idx, time.time() + rt.settings.vote_timeout_seconds)
        if idx == 0:  # after the preview, and in the background: the job holds the session's lock,
            # and a tap on the preview (say "Auto dance now") would wait for the edit's turn
            self.messages.progress_later(session, "ready", segments=session.n_segments, tempo=round(analysis["tempo"]))

    # ------------------------------------------------------------------ render and deliver
    async def render(self, session: Session, mode: str, changed_part: int | None = None) -> None:
        """Render the picks in ``mode`` unless a version with these picks exists; deliver it.
        Every render is kept as a version of the dance (``changed_part``: the part it changed)."""
        rt = self.rt
        picked = await rt.sessions.picked_segment_ids(session.id)
        version = await rt.versions.find(session.id, mode, picked)
        existing = None
        if version is not None:
            sheet = rt.session_dir(session.id) / "sheet.png"  # made with the first render
            await rt.sessions.store_result(session.id, mode, version.video_path, str(sheet) if sheet.exists() else None,
                                           version.video_sha256)
            existing = await rt.sessions.result(session.id, mode)
        elif (changed_part is None and session.finished_at is not None
              and not (await rt.versions.of_sessions([session.id]))[session.id]):
            existing = await rt.sessions.result(session.id, mode)  # a dance rendered before versions were kept
        if existing is None:
            # not forced: the render would wait for the edit's turn; its progress edits follow
            await self.messages.progress(session, "rendering", percent=0)
            try:  # fetched again when retention removed it (a mode asked for days later)
                song_path = await self._download(session)
            except BadRequest as exc:  # Telegram no longer has it either
                raise MediaGoneError(str(exc)) from exc
            picked = await rt.sessions.picked_segment_ids(session.id)
            analysis = session.song_analysis()
            progress_file = str(rt.session_dir(session.id) / f"render-{mode}.progress")
            number = await rt.versions.next_number(session.id)
            task = asyncio.ensure_future(rt.engine.run(
                worker.render_result, analysis, picked, song_path, str(rt.session_dir(session.id)),
                mode, rt.settings.engine, progress_file, f"dance-{mode}-v{number}.mp4"))
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_MIN_INTERVAL)
                if not task.done():
                    try:
                        percent = int(float(Path(progress_file).read_text()) * 100)
                    except (OSError, ValueError):
                        percent = 0
                    await self.messages.progress(session, "rendering", percent=percent)
            result = task.result()
            stopwatch.add_all(session.chat_id, result["timings"])
            await rt.versions.add(session.id, mode, picked, changed_part, result["video"], result["sha256"])
            await rt.sessions.store_result(session.id, mode, result["video"], result["sheet"], result["sha256"])
            existing = await rt.sessions.result(session.id, mode)
        if (await rt.sessions.get(session.id)).status != SessionStatus.RENDERING:
            return  # cancelled while rendering: the video stays stored, nothing is sent
        await self.deliver(session, existing, mode)

    async def deliver(self, session: Session, result: Result, mode: str) -> None:
        """The dance with its buttons and, the first time, the choreography sheet."""
        rt = self.rt
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
            sent = await self.messages.send_cached_video(session.chat_id, result.video_path, result.video_sha256,
                                                         caption, markup, analysis["duration"])
        first_result = session.finished_at is None
        await rt.sessions.set_status(session.id, SessionStatus.DONE, result_message_id=sent.message_id,
                                     render_mode=mode)
        if first_result and result.sheet_path:
            with open(result.sheet_path, "rb") as fh:
                await rt.bot.send_photo(session.chat_id, fh,
                                        caption=t(lang, "sheet", song=html.escape(session.song_name)),
                                        parse_mode="HTML")

    async def version_note(self, session: Session, result: Result) -> str:
        """The caption's line for a dance that has been changed: its version and the part changed."""
        versions = (await self.rt.versions.of_sessions([session.id]))[session.id]
        version = next((v for v in reversed(versions) if v.video_sha256 == result.video_sha256), None)
        if version is None or len(versions) < 2:
            return ""
        if version.changed_part is None:
            return t(session.language, "version_note", number=version.number)
        return t(session.language, "version_note_changed", number=version.number, part=version.changed_part + 1)
