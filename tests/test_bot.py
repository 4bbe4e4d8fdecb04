"""The whole private-chat flow, python-telegram-bot against the Bot API emulator (issue: bot)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.sandbox.emulator import TelegramEmulator
from tests.botkit import bot_settings, button, buttons_of, copy_library, previews, running_bot, song_excerpt, wait

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _final(emu, chat_id):
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance" in (m.get("caption") or "")]


def test_full_flow_by_picks(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                ann = emu.make_user("Ann", "ann")
                chat = emu.make_private_chat(ann)
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: any("queue" in (m.get("text") or "") for m in e.bot_messages(chat["id"])), 30)
                picked = 0
                while True:
                    await wait(emu, lambda e: len(previews(e, chat["id"])) > picked or _final(e, chat["id"]), 180)
                    if _final(emu, chat["id"]):
                        break
                    offer = previews(emu, chat["id"])[picked]
                    labels = [t for t, _ in buttons_of(offer)]
                    assert labels[:6] == ["1", "2", "3", "4", "5", "6"]
                    assert any("Auto" in t for t in labels) and any("Cancel" in t for t in labels)
                    emu.press_button(chat, ann, offer["message_id"], button(offer, "2"))
                    picked += 1
                    # the buttons collapse to show the choice
                    await wait(emu, lambda e: e.message(chat["id"], offer["message_id"])["reply_markup"] is None, 30)
                    assert "move 2" in emu.message(chat["id"], offer["message_id"])["caption"]
                await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])), 60)
                final = _final(emu, chat["id"])[0]
                labels = [t for t, _ in buttons_of(final)]
                assert any("Mannequin" in t for t in labels) and any("New song" in t for t in labels)
                assert emu.violations == [] and emu.rate_limited == []
                return picked, final, emu.file_bytes(final["video"]["file_id"])

    picked, final, video = asyncio.run(scenario())
    assert picked >= 2
    assert len(video) > 10_000
    rows = sqlite3.connect(data_dir / "choreo.db").execute(
        "SELECT status, n_segments FROM sessions").fetchall()
    assert rows == [("done", picked)]
    picks = sqlite3.connect(data_dir / "choreo.db").execute("SELECT rank, source, user_id FROM picks").fetchall()
    assert len(picks) == picked and all(r == (2, "user", picks[0][2]) for r in picks)
