"""Admins teach the bot through Telegram: /learn a dance video, then the next song is offered its
moves without a restart; /library, /forget; everyone else is refused (issue: real dancers)."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bot import choreography
from bot.admin import library as library_admin
from bot.sandbox.emulator import TelegramEmulator
from tests.support.botkit import bot_settings, copy_library, previews, running_bot, wait
from tests.support.data import ffmpeg, settings_for, shared

DANCER = ("dance", "video_mgt", "dancer.avi")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _texts(emu, chat_id: int, since: int = 0) -> list[str]:
    return [m.get("text") or "" for m in emu.bot_messages(chat_id)[since:]]


def test_learn_then_the_next_song_offers_the_new_moves(data_dir, tmp_path):
    # a dancer the library does not have yet (the real dancer, mirrored), and a song with its music
    video = tmp_path / "mirrored-dancer.mp4"
    ffmpeg("-ss", "29", "-t", "11", "-i", str(shared(*DANCER)), "-vf", "hflip", "-c:v", "libx264",
           "-preset", "ultrafast", "-c:a", "aac", str(video))
    song = tmp_path / "its-music.mp3"
    ffmpeg("-ss", "29", "-t", "11", "-i", str(shared(*DANCER)), "-vn", "-c:a", "libmp3lame", str(song))
    # the library's own copy of that dancer goes first: its clips would tie with the mirrored
    # ones on every score (same music, same motion sizes) and keep the older rows on top
    with sqlite3.connect(data_dir / "choreo.db") as con:
        dancer_clips = [name for (name,) in con.execute("SELECT name FROM clips WHERE kind = 'video'")]
    for name in dancer_clips:
        assert asyncio.run(library_admin.remove_clip(name, settings_for(data_dir)))

    async def scenario():
        with TelegramEmulator() as emu:
            ann, bob = emu.make_user("Ann", "ann"), emu.make_user("Bob", "bob")
            settings = bot_settings(emu, data_dir, admin_ids=frozenset({ann["id"]}))
            async with running_bot(settings):
                a_chat, b_chat = emu.make_private_chat(ann), emu.make_private_chat(bob)
                # not an admin: a short refusal, nothing learned
                emu.send_file(b_chat, bob, video, kind="video", caption="/learn salsa", mime_type="video/mp4")
                emu.send_text(b_chat, bob, "/forget 1")
                await wait(emu, lambda e: _texts(e, b_chat["id"]).count("Only the bot's admins can do this.") == 2, 30)

                emu.send_file(a_chat, ann, video, kind="video", caption="/learn contemporary", mime_type="video/mp4")
                await wait(emu, lambda e: any(t.startswith(("✅", "😕")) for t in _texts(e, a_chat["id"])), 400,
                           explain=lambda e: _texts(e, a_chat["id"]))
                learned = next(m for m in emu.bot_messages(a_chat["id"]) if (m.get("text") or "").startswith(("✅", "😕")))
                done = learned["text"]
                assert done.startswith("✅ Learned «mirrored-dancer.mp4»"), done
                # the same message showed the progress before the result
                shown = [h.get("text") or "" for h in learned["edit_history"]]
                assert shown[0] == "📥 Learning «mirrored-dancer.mp4»…"
                assert any(t.startswith("📥 Learning «mirrored-dancer.mp4»… ") and t.endswith("%") for t in shown), shown
                assert "style contemporary" in done and "from the next song on" in done

                before = len(emu.bot_messages(a_chat["id"]))
                emu.send_text(a_chat, ann, "/library")
                await wait(emu, lambda e: any("The library" in t for t in _texts(e, a_chat["id"], before)), 30)
                assert "• contemporary:" in _texts(emu, a_chat["id"], before)[-1]

                # the next song: its first offer includes the new clip's moves, without a restart
                emu.send_file(a_chat, ann, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, a_chat["id"]), 300)
                con = sqlite3.connect(data_dir / "choreo.db")
                offered = con.execute(
                    "SELECT c.id, c.source, c.style FROM candidates k JOIN library_segments s "
                    "ON s.id = k.library_segment_id JOIN clips c ON c.id = s.clip_id WHERE k.idx = 0").fetchall()
                new = [row for row in offered if row[1] == "mirrored-dancer.mp4"]
                assert new and new[0][2] == "contemporary", offered
                emu.send_text(a_chat, ann, "/cancel")

                # forgetting it: no longer offered for new songs
                before = len(emu.bot_messages(a_chat["id"]))
                emu.send_text(a_chat, ann, f"/forget {new[0][0]}")
                await wait(emu, lambda e: any("no longer offered" in t for t in _texts(e, a_chat["id"], before)), 30)
                assert emu.violations == [] and emu.rate_limited == []
                return new[0][0], con.execute("SELECT library_segment_id FROM candidates k JOIN library_segments s "
                                              "ON s.id = k.library_segment_id WHERE s.clip_id = ?",
                                              (new[0][0],)).fetchall()

    clip_id, offered_ids = asyncio.run(scenario())
    assert list((data_dir / "learn").iterdir()) == []  # the fetched video is gone; the library has its copy
    # planned in a fresh process (KMeans here would make later forked engine pools of this process hang)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        offered_after, auto_clips, kept = pool.submit(plan_after_forgetting, data_dir, song, [i for (i,) in offered_ids]).result()
    # a session that offered the forgotten clip can still render it; a new song is never offered it
    assert kept == [True] * len(offered_ids)
    assert offered_after and clip_id not in offered_after and clip_id not in auto_clips


def plan_after_forgetting(data_dir: Path, song: Path, segment_ids: list[int]) -> tuple[set[int], set[int], list[bool]]:
    """The clips the planner offers and auto-picks for ``song``, and whether ``segment_ids`` still
    resolve to (removed) library segments."""
    settings = settings_for(data_dir)
    analysed, loaded, ctx, auto = choreography.plan_song(song, settings)
    lib = loaded.library
    offered = {lib.segments[c.position].clip_id for i in range(len(analysed.analysis.segments))
               for c in loaded.planner.candidates(ctx, i).items}
    # removed from planning, yet each id still resolves to its own segment (read from the database)
    kept = [not lib.has(s) and seg.id == s
            for s, seg in zip(segment_ids, choreography.segments_by_id(loaded, segment_ids, settings))]
    return offered, {lib.segments[r].clip_id for r in auto}, kept
