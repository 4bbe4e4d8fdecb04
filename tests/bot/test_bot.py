"""The whole private-chat flow, python-telegram-bot against the Bot API emulator (issue: bot)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bot.sandbox.emulator import TelegramEmulator
from choreo_engine.music import features
from storage import Database
from tests.support.postgres import copy_sqlite_into
from tests.support.botproc import alive, children, query, start_bot_process, until
from tests.support.botkit import (auto_picked_dance, bot_settings, button, buttons_of, copy_library, previews,
                                  running_bot, song_excerpt, wait)

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _final(emu, chat_id):
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance" in (m.get("caption") or "")]


@pytest.mark.parametrize("state", ["sqlite", "postgresql"])
def test_full_flow_by_picks(data_dir, tmp_path, state, request):
    """The same flow with the bot's state in SQLite (the default) and in PostgreSQL (issue 13;
    the library's rows copied there from the test library's SQLite, the media left in place)."""
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3")
    database = data_dir / "choreo.db"
    if state == "postgresql":
        database = request.getfixturevalue("postgres_url")
        asyncio.run(copy_sqlite_into(data_dir / "choreo.db", database, data_dir))
        (data_dir / "choreo.db").unlink()  # nothing may read the SQLite copy

    async def scenario():
        with TelegramEmulator() as emu:
            settings = bot_settings(emu, data_dir)
            if state == "postgresql":
                settings = dataclasses.replace(settings, engine=dataclasses.replace(
                    settings.engine, database_url=database, media_root=data_dir))
            async with running_bot(settings):
                ann = emu.make_user("Ann", "ann")
                chat = emu.make_private_chat(ann)
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: any("queue" in (m.get("text") or "") for m in e.bot_messages(chat["id"])), 30)
                picked = 0
                pressed = []
                while True:
                    await wait(emu, lambda e: len(previews(e, chat["id"])) > picked or _final(e, chat["id"]), 180)
                    if _final(emu, chat["id"]):
                        break
                    offer = previews(emu, chat["id"])[picked]
                    labels = [t for t, _ in buttons_of(offer)]
                    assert labels[:6] == ["1", "2", "3", "4", "5", "6"]
                    assert any("Auto" in t for t in labels) and any("Cancel" in t for t in labels)
                    pressed.append(time.time())
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
                return picked, final, emu.file_bytes(final["video"]["file_id"]), pressed[-1]

    picked, final, video, last_pick = asyncio.run(scenario())
    assert picked >= 2
    # part 1's piece of the final video was made while the next parts were chosen, before the last pick
    # (its body, not the cut after it; the auto path's may be there too, made while part 1 was shown)
    bodies = list(data_dir.glob("sessions/*/pieces/piece-001-" + "?" * 20 + ".mp4"))
    assert bodies and all(body.stat().st_mtime < last_pick for body in bodies)
    assert len(video) > 10_000

    async def stored(sql: str) -> list[tuple]:
        async with await Database.open(database, data_dir) as db:
            return [tuple(r) for r in await db.fetchall(sql)]

    assert asyncio.run(stored("SELECT status, n_segments FROM sessions")) == [("done", picked)]
    picks = asyncio.run(stored("SELECT rank, source, user_id FROM picks"))
    assert len(picks) == picked and all(r == (2, "user", picks[0][2]) for r in picks)
    assert (data_dir / "choreo.db").exists() == (state == "sqlite")


def test_auto_pick_and_mode_switch(data_dir, tmp_path):
    song = song_excerpt(tmp_path, ("music", "xmoto", "foxrun.ogg"), 24, "ogg")  # a voice-note-like opus file

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                bo = emu.make_user("Bo", "bo", language_code="ko")
                chat = emu.make_private_chat(bo)
                emu.send_file(chat, bo, song, kind="voice", mime_type="audio/ogg")
                await wait(emu, lambda e: previews(e, chat["id"]), 120)
                offer = previews(emu, chat["id"])[0]
                assert "파트 1/" in offer["caption"]  # Korean for a Korean user (after the section name)
                emu.press_button(chat, bo, offer["message_id"], button(offer, "✨"))
                await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])), 180)
                assert len(previews(emu, chat["id"])) == 1  # the rest was chosen automatically
                final = [m for m in emu.bot_messages(chat["id"]) if m["kind"] == "video"
                         and m["message_id"] != offer["message_id"]][-1]
                uploads_before = emu.uploads["sendVideo"] + emu.uploads["editMessageMedia"]
                # switch to the mannequin, then back to the dancers: the second is re-sent by file_id
                emu.press_button(chat, bo, final["message_id"], button(final, "🧍"))
                await wait(emu, lambda e: len([m for m in e.bot_messages(chat["id"]) if m["kind"] == "video"]) >= 3, 180)
                avatar = [m for m in emu.bot_messages(chat["id"]) if m["kind"] == "video"][-1]
                emu.press_button(chat, bo, avatar["message_id"], button(avatar, "🎬"))
                await wait(emu, lambda e: len([m for m in e.bot_messages(chat["id"]) if m["kind"] == "video"]) >= 4, 60)
                # avatar uploaded (into the message it is delivered in); clips re-sent by file_id
                assert emu.uploads["sendVideo"] + emu.uploads["editMessageMedia"] == uploads_before + 1
                assert emu.violations == [] and emu.rate_limited == []

    asyncio.run(scenario())
    con = sqlite3.connect(data_dir / "choreo.db")
    assert con.execute("SELECT COUNT(*) FROM picks WHERE source = 'auto'").fetchone()[0] >= 1
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2


def test_auto_pick_made_ahead(data_dir, tmp_path):
    """While part 1 is watched, the auto-picked dance's video is made ahead in pieces; a tap on
    ✨ then only joins them (no piece is made after the tap). The dance is sent into a message
    that first held its poster (a JPEG of its first frame), and the sheet comes after it."""
    song = song_excerpt(tmp_path, VIBE_ACE, 30, "mp3")
    pieces_dir = lambda: next(data_dir.glob("sessions/*/pieces"), None)  # noqa: E731

    def pieces() -> dict[str, int]:
        folder = pieces_dir()
        return {p.name: p.stat().st_mtime_ns for p in folder.glob("piece-*.mp4")} if folder else {}

    seen = {}

    async def scenario():
        with TelegramEmulator() as emu:

            async def pieces_made(offer):
                seen["n_parts"] = int(re.search(r"Part 1 of (\d+)", offer["caption"]).group(1))
                # a body per part and a cut between each two: all made while part 1 is shown
                await wait(emu, lambda e: len(pieces()) >= 2 * seen["n_parts"] - 1, 120,
                           explain=lambda e: sorted(pieces()))
                seen["made_ahead"] = pieces()

            async with running_bot(bot_settings(emu, data_dir)):
                chat, final = await auto_picked_dance(emu, emu.make_user("Cy", "cy"), song, pieces_made)
                sheet = next(m for m in emu.bot_messages(chat["id"]) if m["kind"] == "photo")
                assert emu.violations == [] and emu.rate_limited == []
                return final, sheet, emu.file_bytes(final["edit_history"][0]["file_id"])

    final, sheet, holder = asyncio.run(scenario())
    made_ahead, n_parts = seen["made_ahead"], seen["n_parts"]
    assert pieces() == made_ahead  # the final joined the pieces made ahead: none made or remade after the tap
    # the poster held its place: a JPEG of the video's frame size
    assert final["edit_history"][0]["kind"] == "document"
    poster = cv2.imdecode(np.frombuffer(holder, np.uint8), cv2.IMREAD_COLOR)
    assert holder[:3] == b"\xff\xd8\xff" and poster.shape[:2] == (final["video"]["height"], final["video"]["width"])
    assert sheet["message_id"] > final["message_id"]  # the sheet after the dance
    con = sqlite3.connect(data_dir / "choreo.db")
    assert con.execute("SELECT COUNT(*) FROM picks WHERE source = 'auto'").fetchone()[0] == n_parts


@pytest.mark.parametrize("tap", ["while_described", "while_planned", "while_planning_fails"])
def test_auto_pick_tapped_early(data_dir, tmp_path, monkeypatch, tap):
    """✨ tapped while the song is still being described (the moment part 1's preview arrives)
    or while the work ahead is working out its auto path: the tap waits for those rather than
    making them again beside them (each is made once), and the final's sound is made once, as
    soon as part 1 is out. When the work ahead's planning fails, the tap works it out itself."""
    from bot.service.jobs import EnginePool

    song = song_excerpt(tmp_path, VIBE_ACE, 30, "mp3")
    calls: list[str] = []
    run = EnginePool.run

    async def slow_planning(self, fn, *args):
        # slower describing and planning: the tap surely comes while they are in flight
        calls.append(fn.__name__)
        if fn.__name__ in ("describe", "auto_rest"):
            await asyncio.sleep(2.0)
        if tap == "while_planning_fails" and calls.count("auto_rest") == 1 and fn.__name__ == "auto_rest":
            raise RuntimeError("a worker died under the planning")
        return await run(self, fn, *args)

    monkeypatch.setattr(EnginePool, "run", slow_planning)

    async def scenario():
        with TelegramEmulator() as emu:

            async def planning_begun(offer):
                if tap != "while_described":  # the work ahead has begun working out the auto path
                    await wait(emu, lambda e: "auto_rest" in calls, 120)
                    assert "render_pieces" not in calls

            async with running_bot(bot_settings(emu, data_dir)):
                _, final = await auto_picked_dance(emu, emu.make_user("Cy", "cy"), song, planning_begun)
                assert emu.violations == [] and emu.rate_limited == []
                return final

    final = asyncio.run(scenario())
    assert final["video"]["duration"] >= 29
    planned = 2 if tap == "while_planning_fails" else 1  # the failed call, then the tap's own
    assert calls.count("describe") == 1 and calls.count("auto_rest") == planned, calls
    assert calls.count("final_sound") == 1, calls
    assert len(list(data_dir.glob("sessions/*/pieces/sound-*.m4a"))) == 1


def _make_bad_files(tmp_path: Path) -> dict[str, Path]:
    from tests.support.data import ffmpeg

    files = {}
    pdf = tmp_path / "lyrics.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    files["pdf"] = pdf
    corrupt = tmp_path / "broken.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 200)
    files["corrupt"] = corrupt
    silent = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "20", str(silent))
    files["silent"] = silent
    from tests.support.data import shared

    files["photo"] = shared("people", "images", "bus.jpg")
    big = tmp_path / "huge.wav"
    with open(big, "wb") as fh:
        fh.truncate(21 * 1024 * 1024)
    files["big"] = big
    return files


def test_bad_inputs_get_a_friendly_answer(data_dir, tmp_path):
    files = _make_bad_files(tmp_path)
    song = song_excerpt(tmp_path, VIBE_ACE, 10, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                cy = emu.make_user("Cy", "cy")
                chat = emu.make_private_chat(cy)
                cases = [
                    (lambda: emu.send_file(chat, cy, files["photo"], kind="sticker"), "only dance to sound"),
                    (lambda: emu.send_file(chat, cy, files["photo"], kind="photo"), "only dance to sound"),
                    (lambda: emu.send_file(chat, cy, files["pdf"], kind="document", mime_type="application/pdf"),
                     "only dance to sound"),
                    (lambda: emu.send_text(chat, cy, "dance please"), "only dance to sound"),
                    (lambda: emu.send_file(chat, cy, files["big"], kind="audio", mime_type="audio/wav"), "too big"),
                    (lambda: emu.send_file(chat, cy, song, kind="audio", duration=900, mime_type="audio/mpeg"),
                     "too long"),
                    (lambda: emu.send_file(chat, cy, files["corrupt"], kind="audio", duration=30,
                                           mime_type="audio/mpeg"), "couldn't read any sound"),
                    (lambda: emu.send_file(chat, cy, files["silent"], kind="audio", mime_type="audio/wav"), "silent"),
                ]
                for send, expected in cases:
                    before = len(emu.bot_messages(chat["id"]))
                    send()
                    await wait(emu, lambda e: any(expected in ((m.get("text") or "") + str(m.get("edit_history")))
                                                  for m in e.bot_messages(chat["id"])[before:]), 90)
                await asyncio.sleep(1.0)
                assert not previews(emu, chat["id"])
                assert emu.violations == [] and emu.rate_limited == []

    asyncio.run(scenario())
    con = sqlite3.connect(data_dir / "choreo.db")
    # only the two files that looked like songs were taken in, and both were refused leaving no rows
    assert con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_forged_stale_and_double_taps_change_nothing(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3", start=20)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                di = emu.make_user("Di", "di")
                chat = emu.make_private_chat(di)
                emu.send_file(chat, di, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, chat["id"]), 120)
                first = previews(emu, chat["id"])[0]
                # forged: data that was never issued
                emu.press_button(chat, di, first["message_id"], "forged-0000", check=False)
                await wait(emu, lambda e: e.callback_answers and e.callback_answers[-1]["show_alert"], 10)
                assert "don't know" in emu.callback_answers[-1]["text"]
                # double tap: two presses of the same pick at once
                token = button(first, "3")
                emu.press_button(chat, di, first["message_id"], token)
                emu.press_button(chat, di, first["message_id"], token)
                await wait(emu, lambda e: len(previews(e, chat["id"])) >= 2, 120)
                await wait(emu, lambda e: len(e.callback_answers) >= 3, 10)
                # stale: a button of segment 1 pressed after segment 1 was chosen
                emu.press_button(chat, di, first["message_id"], button(first, "5"), check=False)
                await wait(emu, lambda e: len(e.callback_answers) >= 4, 10)
                assert "Already picked" in emu.callback_answers[-1]["text"]
                second = previews(emu, chat["id"])[1]
                # cancel, then a stale pick on the cancelled session
                emu.press_button(chat, di, second["message_id"], button(second, "✖"))
                await wait(emu, lambda e: any("Cancelled" in (m.get("text") or "") for m in e.bot_messages(chat["id"])), 20)
                emu.press_button(chat, di, second["message_id"], button(second, "1"), check=False)
                await wait(emu, lambda e: len(e.callback_answers) >= 6, 10)
                assert "no longer active" in emu.callback_answers[-1]["text"]
                await asyncio.sleep(1.0)
                assert len(previews(emu, chat["id"])) == 2
                assert emu.violations == []

    asyncio.run(scenario())
    con = sqlite3.connect(data_dir / "choreo.db")
    assert con.execute("SELECT idx, rank FROM picks").fetchall() == [(0, 3)]
    assert con.execute("SELECT status FROM sessions").fetchone()[0] == "cancelled"


def _segment_status(data_dir: Path, idx: int) -> str | None:
    """The part's status once its preview is recorded as sent."""
    rows = query(data_dir, "SELECT status FROM session_segments WHERE idx = ? AND preview_message_id IS NOT NULL",
                 (idx,))
    return rows[0][0] if rows else None


def _unfinished_jobs(data_dir: Path) -> int:
    return query(data_dir, "SELECT COUNT(*) FROM jobs WHERE status != 'done'")[0][0]


def test_restart_mid_session_loses_nothing(data_dir, tmp_path):
    """SIGKILL the bot twice mid-session; after each start the session goes on, old buttons work."""
    import signal

    song = song_excerpt(tmp_path, ("music", "hyperrogue", "hr3-desert.ogg"), 24, "m4a")
    log = tmp_path / "bot.log"

    async def scenario():
        with TelegramEmulator() as emu:
            ed = emu.make_user("Ed", "ed")
            chat = emu.make_private_chat(ed)
            proc = start_bot_process(emu, data_dir, log)
            try:
                emu.send_file(chat, ed, song, kind="document", mime_type="audio/mp4", file_name="caribbean.m4a")
                await wait(emu, lambda e: previews(e, chat["id"]), 180)
                first = previews(emu, chat["id"])[0]
                emu.press_button(chat, ed, first["message_id"], button(first, "1"))
                await wait(emu, lambda e: len(previews(e, chat["id"])) >= 2, 120)
                second = previews(emu, chat["id"])[1]
                # 1: killed while idle, waiting for a pick (once the bot has recorded its preview)
                await wait(emu, lambda e: _segment_status(data_dir, 1) == "offered", 30)
                workers = children(proc.pid)
                assert len(workers) == 2
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                # its pool's workers do not outlive it (each holds a loaded library)
                for _ in range(50):
                    if not any(alive(w) for w in workers):
                        break
                    await asyncio.sleep(0.1)
                assert not any(alive(w) for w in workers), "the killed bot's workers live on"
                _as_if_described_by_an_older_version(data_dir)
                proc = start_bot_process(emu, data_dir, log)
                emu.press_button(chat, ed, second["message_id"], button(second, "2"))  # a button from before the kill
                # 2: killed at once, while the next segment's job is queued or running
                await wait(emu, lambda e: e.message(chat["id"], second["message_id"])["reply_markup"] is None, 120)
                await until(lambda: query(data_dir, "SELECT COUNT(*) FROM jobs WHERE status = 'running'")[0][0], 60,
                            interval=0.01, what="a running job")
                proc.send_signal(signal.SIGKILL)  # a job is really running now (the next part's offer)
                proc.wait()
                proc = start_bot_process(emu, data_dir, log)
                await wait(emu, lambda e: len(previews(e, chat["id"])) >= 3, 180)
                third = previews(emu, chat["id"])[2]
                emu.press_button(chat, ed, third["message_id"], button(third, "✨"))
                await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])), 240)
                await wait(emu, lambda e: _unfinished_jobs(data_dir) == 0, 30)
                await asyncio.sleep(1.0)  # a duplicate final would come now
                assert emu.violations == []
                assert len(_final(emu, chat["id"])) == 1  # exactly one dance delivered
                return len(previews(emu, chat["id"]))
            finally:
                proc.kill()
                proc.wait()

    n_previews = asyncio.run(scenario())
    assert n_previews == 3  # no preview was sent twice
    con = sqlite3.connect(data_dir / "choreo.db")
    picks = con.execute("SELECT idx, rank, source FROM picks ORDER BY idx").fetchall()
    assert picks[:2] == [(0, 1, "user"), (1, 2, "user")]
    assert picks[2][2] == "auto" and [p[0] for p in picks] == list(range(len(picks)))
    assert con.execute("SELECT status FROM sessions").fetchone()[0] == "done"
    # the song was described again for the new descriptor before its next part was matched
    tag, blob, n_segments = con.execute("SELECT descriptor_tag, descriptors, n_segments FROM sessions").fetchone()
    descriptors = np.frombuffer(blob, dtype=np.float32).reshape(n_segments, -1)
    assert tag == features.descriptor_tag("default") and np.all(np.abs(descriptors).sum(axis=1) > 0)


def _as_if_described_by_an_older_version(data_dir: Path) -> None:
    """The bot was upgraded while stopped: the session's descriptors are of an older descriptor."""
    con = sqlite3.connect(data_dir / "choreo.db")
    with con:
        blob, = con.execute("SELECT descriptors FROM sessions").fetchone()
        con.execute("UPDATE sessions SET descriptor_tag = 'default-r1', descriptors = ?", (bytes(len(blob)),))
    con.close()


def test_ten_users_at_once(data_dir, tmp_path):
    tracks = [("music", "xmoto", "MadeiraStew.ogg"), ("music", "xmoto", "speeditup.ogg"),
              ("music", "hyperrogue", "hr-domina-hunting.ogg"), ("music", "extremetuxracer", "start1-jt.ogg"),
              ("music", "librosa-data", "Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg")]
    songs = [song_excerpt(tmp_path, tracks[i % len(tracks)], 12, "mp3", start=10 + 15 * (i // len(tracks)))
             for i in range(10)]

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                users = [emu.make_user(f"User{i}", f"user{i}") for i in range(10)]
                chats = [emu.make_private_chat(u) for u in users]
                for u, c, s in zip(users, chats, songs):
                    emu.send_file(c, u, s, kind="audio", mime_type="audio/mpeg")
                # everyone sees their place in the queue
                await wait(emu, lambda e: all(any("queue" in (m.get("text") or "") for m in e.bot_messages(c["id"]))
                                              for c in chats), 60)
                positions = sorted(int(next(m["text"] for m in emu.bot_messages(c["id"]) if "queue" in (m.get("text") or ""))
                                       .split("number ")[1].split(" ")[0]) for c in chats)
                assert positions[-1] >= 5  # the queue really was a queue
                pressed: set[int] = set()
                done: set[int] = set()
                while len(done) < 10:
                    await wait(emu, lambda e: any((previews(e, c["id"]) and c["id"] not in pressed) or
                                                  (c["id"] not in done and any(m["kind"] == "photo" for m in e.bot_messages(c["id"])))
                                                  for c in chats), 400)
                    for u, c in zip(users, chats):
                        if c["id"] not in pressed and previews(emu, c["id"]):
                            offer = previews(emu, c["id"])[0]
                            emu.press_button(c, u, offer["message_id"], button(offer, "✨"))
                            pressed.add(c["id"])
                        if any(m["kind"] == "photo" for m in emu.bot_messages(c["id"])):
                            done.add(c["id"])
                assert emu.violations == []
                assert emu.rate_limited == []

    asyncio.run(scenario())
    con = sqlite3.connect(data_dir / "choreo.db")
    assert [r[0] for r in con.execute("SELECT status FROM sessions")] == ["done"] * 10
