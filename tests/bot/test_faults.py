"""Faults a bot left running meets (issue 12, items 1, 4, 5, 6, 7, 9): a cancel or the mode button
during a render, a transient Telegram error, a dead engine worker mid-song, a library clip removed
under an open session, a job past its deadline, too many open songs, a rejected cached file id,
a second process on the data dir."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.sandbox.emulator import FloodLimits, TelegramEmulator
from bot.admin import library as library_admin
from storage.owner import DataDirLock
from tests.support.botkit import bot_settings, button, copy_library, previews, running_bot, song_excerpt, wait
from tests.support.botproc import until
from tests.support.data import PROJECT_ROOT, settings_for

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _db(data_dir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(data_dir / "choreo.db", timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _finals(emu, chat_id: int) -> list[dict]:
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance for" in (m.get("caption") or "")]


def _texts(emu, chat_id: int) -> list[str]:
    return [m.get("text") or "" for m in emu.bot_messages(chat_id)]


def test_cancel_and_mode_button_during_a_render_and_one_open_song(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 9, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir, max_open_songs=1)):
                ann = emu.make_user("Ann", "ann")
                chat = emu.make_private_chat(ann)
                # 1: /cancel while the first dance renders: cancelled, and the dance never comes
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")  # one open song at a time
                await wait(emu, lambda e: any("already have 1 songs" in t for t in _texts(e, chat["id"])), 30)
                await wait(emu, lambda e: previews(e, chat["id"]), 120)
                offer = previews(emu, chat["id"])[0]
                emu.press_button(chat, ann, offer["message_id"], button(offer, "✨"))
                await until(lambda: _db(data_dir, "SELECT COUNT(*) FROM jobs WHERE kind = 'render' AND status = 'running'")
                            [0][0], 120, 0.02)  # the render really runs
                before = len(emu.bot_messages(chat["id"]))
                emu.send_text(chat, ann, "/cancel")
                sent = time.monotonic()
                await wait(emu, lambda e: any("Cancelled" in t for t in _texts(e, chat["id"])[before:]), 10)
                cancel_answer = time.monotonic() - sent
                await until(lambda: _db(data_dir, "SELECT COUNT(*) FROM jobs WHERE status != 'done'")[0][0] == 0, 180)
                await asyncio.sleep(1.0)
                assert _finals(emu, chat["id"]) == []
                assert _db(data_dir, "SELECT status FROM sessions") == [("cancelled",)]

                # 2: a finished dance; the mode button pressed again during its mannequin render, then /cancel
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: len(previews(e, chat["id"])) >= 2, 120)
                offer = previews(emu, chat["id"])[1]
                emu.press_button(chat, ann, offer["message_id"], button(offer, "✨"))
                await wait(emu, lambda e: _finals(e, chat["id"]), 120)
                final = _finals(emu, chat["id"])[0]
                emu.press_button(chat, ann, final["message_id"], button(final, "🧍"))
                await until(lambda: ("rendering",) in _db(data_dir, "SELECT status FROM sessions"), 30, 0.02)
                answers = len(emu.callback_answers)
                emu.press_button(chat, ann, final["message_id"], button(final, "🧍"))
                await wait(emu, lambda e: len(e.callback_answers) > answers, 10)
                busy = emu.callback_answers[-1]
                before = len(emu.bot_messages(chat["id"]))
                emu.send_text(chat, ann, "/cancel")
                await wait(emu, lambda e: any("Cancelled" in t for t in _texts(e, chat["id"])[before:]), 10)
                await until(lambda: _db(data_dir, "SELECT COUNT(*) FROM jobs WHERE status != 'done'")[0][0] == 0, 90)
                await asyncio.sleep(1.0)
                assert len(_finals(emu, chat["id"])) == 1  # no mannequin dance after the cancel
                assert emu.violations == [] and emu.rate_limited == []
                return cancel_answer, busy

    cancel_answer, busy = asyncio.run(scenario())
    assert "Still working" in busy["text"]
    # the delivered dance stays delivered: cancelling the other mode's render does not undo it
    assert sorted(r[0] for r in _db(data_dir, "SELECT status FROM sessions")) == ["cancelled", "done"]
    print(f"/cancel answered in {cancel_answer:.2f} s during a render")


def test_transient_telegram_error_a_dead_worker_and_a_removed_dancer(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 9, "mp3", start=30)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)) as app:
                engine = app.bot_data["service"].rt.engine
                bo = emu.make_user("Bo", "bo")
                chat = emu.make_private_chat(bo)
                emu.inject_failure("sendVideo")  # the first preview's upload meets a 502
                emu.send_file(chat, bo, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, chat["id"]), 120)
                offer = previews(emu, chat["id"])[0]
                emu.press_button(chat, bo, offer["message_id"], button(offer, "1"))
                # a worker dies while the next part's preview is made
                await until(lambda: _db(data_dir, "SELECT COUNT(*) FROM jobs WHERE kind = 'offer' AND idx = 1 "
                                                  "AND status = 'running'")[0][0], 60, 0.01)
                os.kill(engine.worker_pids()[0], 9)
                # and the library changes under the session: the picked dancer's clip is removed (before
                # the part's offer runs again, after the pool is replaced)
                picked = _db(data_dir, "SELECT g.picked_segment_id, s.clip_id FROM session_segments g "
                                       "JOIN library_segments s ON s.id = g.picked_segment_id WHERE g.idx = 0")
                assert await library_admin.remove_clip(str(picked[0][1]), settings=settings_for(data_dir))
                await wait(emu, lambda e: len(previews(e, chat["id"])) >= 2, 120)
                second = previews(emu, chat["id"])[1]
                emu.press_button(chat, bo, second["message_id"], button(second, "✨"))
                await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])), 120)
                await asyncio.sleep(1.0)
                assert emu.violations == []
                return [e for e in emu.errors if e["status"] == 502], engine.replaced, len(_finals(emu, chat["id"])), \
                    [_part_caption(m) for m in previews(emu, chat["id"])], picked[0]

    errors, replaced, finals, parts, (removed_segment, removed_clip) = asyncio.run(scenario())
    # the session rendered the dancer it was offered, though the library no longer plans with it
    assert _db(data_dir, "SELECT idx, library_segment_id FROM picks WHERE source = 'user'") == [(0, removed_segment)]
    assert _db(data_dir, "SELECT removed_at IS NOT NULL FROM clips WHERE id = ?", (removed_clip,)) == [(1,)]
    later = _db(data_dir, "SELECT library_segment_id FROM candidates WHERE idx > 0")
    clip_of = dict(_db(data_dir, "SELECT id, clip_id FROM library_segments"))
    assert later and all(clip_of[s] != removed_clip for (s,) in later)  # not offered again
    assert len(errors) == 1 and errors[0]["method"] == "sendVideo"
    assert replaced >= 1 and finals == 1
    assert parts == sorted(set(parts))  # each part's preview once: the failed upload sent nothing
    assert _db(data_dir, "SELECT status FROM sessions") == [("done",)]
    attempts = dict(_db(data_dir, "SELECT kind || idx, MAX(attempts) FROM jobs WHERE idx IS NOT NULL GROUP BY kind, idx"))
    assert attempts["offer1"] == 2  # the dead worker's job ran again
    first_analysis_attempts = _db(data_dir, "SELECT attempts FROM jobs WHERE kind = 'analyse'")[0][0]
    assert first_analysis_attempts == 2  # the 502 on the first preview: the analysis job ran again


def _part_caption(message: dict) -> str:
    return message["caption"].split()[1]


def test_a_job_past_its_deadline_is_given_up_with_a_message(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 9, "mp3", start=40)

    async def scenario():
        with TelegramEmulator() as emu:
            settings = bot_settings(emu, data_dir, job_deadline_seconds=0.3, job_attempts=2)
            async with running_bot(settings):
                cy = emu.make_user("Cy", "cy", language_code="ko")
                chat = emu.make_private_chat(cy)
                for _ in range(2):  # the runners live on after giving up: the second song gets its answer too
                    before = len(emu.bot_messages(chat["id"]))
                    emu.send_file(chat, cy, song, kind="audio", mime_type="audio/mpeg")
                    await wait(emu, lambda e: any("2번 시도" in (m.get("text") or "")
                                                  for m in e.bot_messages(chat["id"])[before:]), 60)
                assert emu.violations == []

    asyncio.run(scenario())
    assert _db(data_dir, "SELECT s.status, j.attempts FROM sessions s JOIN jobs j ON j.session_id = s.id") == \
        [("failed", 2), ("failed", 2)]


def test_a_hung_engine_call_is_abandoned_and_its_worker_replaced():
    from bot.service.jobs import EnginePool
    from tests.support.botproc import alive

    async def scenario():
        engine = EnginePool(1)
        engine.pool = engine._new_pool()
        try:
            assert await engine.run(pow, 2, 10) == 1024
            hung = engine.worker_pids()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(engine.run(time.sleep, 60), timeout=0.5)
            await until(lambda: not any(alive(p) for p in hung), 10)
            assert await engine.run(pow, 3, 3) == 27  # a fresh worker does the next call
            return engine.replaced, hung, engine.worker_pids()
        finally:
            engine.shutdown()

    replaced, hung, now = asyncio.run(scenario())
    assert replaced == 1 and not set(hung) & set(now)


def test_a_rejected_cached_file_id_falls_back_to_an_upload(tmp_path):
    from telegram import Bot

    from bot.service.messages import Messages
    from storage import Database
    from storage.files import FileCacheRepo
    from tests.support.data import ffmpeg

    video = tmp_path / "dance.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1", "-pix_fmt", "yuv420p", str(video))

    async def scenario():
        with TelegramEmulator(flood=FloodLimits.off()) as emu:  # two sends in a row to one chat
            chat = emu.make_private_chat(emu.make_user("Ed"))
            db = await Database.open(tmp_path / "choreo.db")
            files = FileCacheRepo(db)
            await files.remember("abc", "expired-file-id", "video")  # an id Telegram no longer knows
            async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
                messages = Messages(bot, None, files)
                sent = await messages.send_cached_video(chat["id"], str(video), "abc", "dance", None, 1.0)
                again = await messages.send_cached_video(chat["id"], str(video), "abc", "dance", None, 1.0)
            cached = await files.file_id("abc")
            await db.close()
            return emu, sent, again, cached

    emu, sent, again, cached = asyncio.run(scenario())
    assert cached == sent.video.file_id == again.video.file_id
    assert emu.uploads["sendVideo"] == 1  # uploaded once after the rejection, then sent by its new id
    assert [v for v in emu.violations if "sendVideo" in v] and len(emu.violations) == 1  # the one rejected id


def test_a_second_process_on_the_data_dir_says_who_holds_it(tmp_path):
    data = tmp_path / "data"
    owner = DataDirLock(data)
    owner.acquire()
    try:
        env = {**os.environ, "CHOREO_DATA_DIR": str(data), "TELEGRAM_BOT_TOKEN": "1:x"}
        done = subprocess.run([sys.executable, "-m", "bot.cli", "bot"], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=120)
    finally:
        owner.release()
    assert done.returncode != 0
    assert f"pid {os.getpid()}" in done.stderr and "in use by another Choreo process" in done.stderr
    assert not (data / "choreo.db").exists()  # it left before touching anything
