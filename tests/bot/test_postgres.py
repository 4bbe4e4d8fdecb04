"""The private-chat flow with the bot's state in PostgreSQL (issue 13): a song, its previews,
a pick per part, the final dance; the same library, copied from the test library's SQLite."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from bot.sandbox.emulator import TelegramEmulator
from storage import Database
from tests.support.botkit import bot_settings, button, copy_library, previews, running_bot, song_excerpt, wait
from tests.support.postgres import copy_sqlite_into

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


def _final(emu, chat_id):
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance" in (m.get("caption") or "")]


def test_private_flow_with_the_state_in_postgresql(library_dir, postgres_url, tmp_path):
    data_dir = copy_library(library_dir, tmp_path / "data")
    media_dir = data_dir  # the library's videos and poses, and the sessions the bot writes
    asyncio.run(copy_sqlite_into(data_dir / "choreo.db", postgres_url, media_dir))
    (data_dir / "choreo.db").unlink()  # nothing may read the SQLite copy
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            settings = bot_settings(emu, data_dir)
            settings = dataclasses.replace(settings, engine=dataclasses.replace(
                settings.engine, database_url=postgres_url, media_root=media_dir))
            async with running_bot(settings):
                ann = emu.make_user("Ann", "ann")
                chat = emu.make_private_chat(ann)
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                picked = 0
                while True:
                    await wait(emu, lambda e: len(previews(e, chat["id"])) > picked or _final(e, chat["id"]), 180)
                    if _final(emu, chat["id"]):
                        break
                    offer = previews(emu, chat["id"])[picked]
                    emu.press_button(chat, ann, offer["message_id"], button(offer, "3"))
                    emu.press_button(chat, ann, offer["message_id"], button(offer, "4"))  # a second tap at once
                    picked += 1
                    await wait(emu, lambda e: e.message(chat["id"], offer["message_id"])["reply_markup"] is None, 30)
                final = _final(emu, chat["id"])[0]
                assert emu.violations == [] and emu.rate_limited == []
                return picked, emu.file_bytes(final["video"]["file_id"])

    picked, video = asyncio.run(scenario())
    assert picked >= 2 and len(video) > 10_000
    assert not (data_dir / "choreo.db").exists()

    async def stored():
        async with await Database.open(postgres_url, media_dir) as db:
            sessions = await db.fetchall("SELECT status, n_segments FROM sessions")
            picks = await db.fetchall("SELECT idx, rank, source FROM picks ORDER BY idx")
            return [tuple(r) for r in sessions], [tuple(r) for r in picks]

    sessions, picks = asyncio.run(stored())
    assert sessions == [("done", picked)]
    # one pick per part, whichever of the two taps came first
    assert [(idx, source) for idx, _, source in picks] == [(i, "user") for i in range(picked)]
    assert {rank for _, rank, _ in picks} <= {3, 4}
