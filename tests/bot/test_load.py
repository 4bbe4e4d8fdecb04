"""Load (issue 12, item 8): 100 users through the Bot API emulator, each sending a short song and
tapping ✨ (auto) on its first part. All finish, nothing earns a 429, and a tap is answered
within a second at the 95th percentile while analyses are still queued. The figures (tap answer
p50/p95, time to final, 429s) go to ``tests/output/load.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from bot.sandbox.emulator import TelegramEmulator
from tests.support.botkit import bot_settings, button, copy_library, previews, running_bot
from tests.support.data import ffmpeg, shared

USERS = int(os.environ.get("CHOREO_LOAD_USERS", "100"))
SONG_SECONDS = 5  # one 8-beat part
TIME_LIMIT = 1500.0  # seconds for everyone to finish (a few minutes on an idle 2-core machine)
TRACKS = [("music", "xmoto", "MadeiraStew.ogg"), ("music", "xmoto", "speeditup.ogg"),
          ("music", "extremetuxracer", "start1-jt.ogg"), ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")]


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if values else float("nan")


def _queued_analyses(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'analyse' AND status = 'queued'").fetchone()[0]
    finally:
        con.close()


def test_hundred_users_auto_pick(data_dir, tmp_path, output_dir):
    songs = []
    for i, track in enumerate(TRACKS):
        path = tmp_path / f"load-{i}.mp3"
        ffmpeg("-ss", "30", "-t", str(SONG_SECONDS), "-i", str(shared(*track)), "-c:a", "libmp3lame", str(path))
        songs.append(path)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                users = [emu.make_user(f"L{i}", f"l{i}") for i in range(USERS)]
                chats = [emu.make_private_chat(u) for u in users]
                started = time.monotonic()
                sent_at = {}
                for i, (u, c) in enumerate(zip(users, chats)):
                    emu.send_file(c, u, songs[i % len(songs)], kind="audio", mime_type="audio/mpeg")
                    sent_at[c["id"]] = time.monotonic()
                tapped_chats: set[int] = set()
                taps: dict[str, bool] = {}  # callback query id -> analyses were queued at the tap
                finished: dict[int, float] = {}
                while len(finished) < USERS and time.monotonic() - started < TIME_LIMIT:
                    for u, c in zip(users, chats):
                        cid = c["id"]
                        if cid in finished:
                            continue
                        if any(m["kind"] == "photo" for m in emu.bot_messages(cid)):
                            finished[cid] = time.monotonic() - sent_at[cid]
                        elif cid not in tapped_chats and previews(emu, cid):
                            offer = previews(emu, cid)[0]
                            busy = _queued_analyses(data_dir / "choreo.db") > 0
                            taps[emu.press_button(c, u, offer["message_id"], button(offer, "✨"))] = busy
                            tapped_chats.add(cid)
                    await asyncio.sleep(0.1)
                answers = {a["callback_query_id"]: a for a in emu.callback_answers}
                under_load = [answers[q]["seconds"] for q, busy in taps.items() if busy and q in answers]
                every = [a["seconds"] for a in emu.callback_answers]
                return {
                    "users": USERS,
                    "finished": len(finished),
                    "taps": len(every),
                    "taps_while_analyses_queued": len(under_load),
                    "tap_answer_p50_s": _percentile(under_load, 50),
                    "tap_answer_p95_s": _percentile(under_load, 95),
                    "tap_answer_max_s": round(max(under_load), 3) if under_load else None,
                    "time_to_final_p50_s": _percentile(list(finished.values()), 50),
                    "time_to_final_p95_s": _percentile(list(finished.values()), 95),
                    "time_to_final_max_s": round(max(finished.values()), 1) if finished else None,
                    "wall_s": round(time.monotonic() - started, 1),
                    "429s": len(emu.rate_limited),
                    "violations": list(emu.violations),
                }

    figures = asyncio.run(scenario())
    (output_dir / "load.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))
    assert figures["finished"] == USERS, f"{figures['finished']}/{USERS} finished in {TIME_LIMIT} s"
    con = sqlite3.connect(data_dir / "choreo.db")
    assert [r[0] for r in con.execute("SELECT DISTINCT status FROM sessions")] == ["done"]
    assert con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == USERS
    assert figures["violations"] == [] and figures["429s"] == 0
    assert figures["taps"] == USERS and figures["taps_while_analyses_queued"] >= USERS // 4
    assert figures["tap_answer_p95_s"] <= 1.0
