"""Learning a finished dance through the bot: 🪞 Practice (loop a part at a chosen speed) and
⬇️ Export (BVH + JSON documents), python-telegram-bot against the Bot API emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bot.sandbox.emulator import TelegramEmulator
from choreo_engine import ffmpeg as engine_ffmpeg
from tests.support.botkit import (auto_picked_dance, bot_settings, button, buttons_of, copy_library, running_bot,
                                  song_excerpt, wait)
from tests.support.bvh import forward_kinematics, read_bvh

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _videos(emu, chat_id) -> list[dict]:
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video"]


def _texts(emu, chat_id, start: str) -> list[dict]:
    return [m for m in emu.bot_messages(chat_id) if (m.get("text") or "").startswith(start)]


def test_practice_loop_and_export_from_the_final_video(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 14, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                cy = emu.make_user("Cy", "cy")
                chat, final = await auto_picked_dance(emu, cy, song)
                labels = [t for t, _ in buttons_of(final)]
                assert "🪞 Practice" in labels and "⬇️ Export" in labels and any("Mannequin" in t for t in labels)

                # 🪞 Practice -> 🔁 Loop a part -> part 2 -> 1x
                emu.press_button(chat, cy, final["message_id"], button(final, "🪞"))
                menu = await wait(emu, lambda e: (_texts(e, chat["id"], "🪞 A practice video") or [None])[0], 30)
                assert [t for t, _ in buttons_of(menu)] == ["0.5×", "0.75×", "1×", "🔁 Loop a part"]
                emu.press_button(chat, cy, menu["message_id"], button(menu, "🔁"))
                await wait(emu, lambda e: "Which part" in (e.message(chat["id"], menu["message_id"])["text"] or ""), 30)
                parts = emu.message(chat["id"], menu["message_id"])
                n_parts = len(buttons_of(parts))
                emu.press_button(chat, cy, menu["message_id"], button(parts, "2"))
                await wait(emu, lambda e: "Part 2" in (e.message(chat["id"], menu["message_id"])["text"] or ""), 30)
                speeds = emu.message(chat["id"], menu["message_id"])
                emu.press_button(chat, cy, menu["message_id"], button(speeds, "1×"))
                practice = await wait(emu, lambda e: next((m for m in _videos(e, chat["id"])
                                                           if (m.get("caption") or "").startswith("🪞")), None), 120)
                assert "part 2 ×4" in practice["caption"] and "1×" in practice["caption"]
                # its progress message is gone once the video is there
                await wait(emu, lambda e: all(m["deleted"] for m in _texts(e, chat["id"], "🪞 Practice video")), 30)
                assert _texts(emu, chat["id"], "🪞 Practice video")

                # ⬇️ Export -> a BVH and a JSON document
                emu.press_button(chat, cy, final["message_id"], button(final, "⬇️"))
                docs = await wait(emu, lambda e: (lambda d: d if len(d) >= 2 else None)(
                    [m for m in e.bot_messages(chat["id"]) if m["kind"] == "document"]), 60)
                # the job is marked done just after its send: wait for that before the bot stops
                await wait(emu, lambda e: _jobs(data_dir) == [("practice", "done"), ("export", "done")], 30)
                assert emu.violations == [] and emu.rate_limited == []
                files = {m["document"]["file_name"].rsplit(".", 1)[-1]: emu.file_bytes(m["document"]["file_id"])
                         for m in docs}
                return n_parts, emu.file_bytes(practice["video"]["file_id"]), files

    n_parts, video, files = asyncio.run(scenario())
    con = sqlite3.connect(data_dir / "choreo.db")
    analysis = json.loads(con.execute("SELECT analysis FROM sessions").fetchone()[0])
    assert n_parts == len(analysis["segments"])
    part = analysis["segments"][1]
    (tmp_path / "practice.mp4").write_bytes(video)
    assert engine_ffmpeg.probe_duration(tmp_path / "practice.mp4") == pytest.approx(4 * (part["end"] - part["start"]),
                                                                                  abs=0.15)
    assert sorted(files) == ["bvh", "json"]
    (tmp_path / "dance.bvh").write_bytes(files["bvh"])
    bvh = read_bvh(tmp_path / "dance.bvh")
    doc = json.loads(files["json"])
    assert len(bvh.motion) == len(doc["frames"]) == pytest.approx(analysis["segments"][-1]["end"] * 25, abs=1)
    hips = np.array([f["keypoints"] for f in doc["frames"]])[:, [23, 24], :3].mean(axis=1)
    assert np.abs(forward_kinematics(bvh)[:, 0] - hips).max() < 0.02
    assert _jobs(data_dir) == [("practice", "done"), ("export", "done")]
    assert con.execute("SELECT status FROM sessions").fetchone()[0] == "done"


def _jobs(data_dir) -> list[tuple[str, str]]:
    """The practice and export jobs and their states, read beside the running bot."""
    with contextlib.closing(sqlite3.connect(data_dir / "choreo.db")) as con:
        return con.execute("SELECT kind, status FROM jobs WHERE kind IN ('practice', 'export') ORDER BY id").fetchall()
