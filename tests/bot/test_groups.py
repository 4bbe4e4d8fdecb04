"""Groups and sharing against the Bot API emulator, which enforces 20 messages/min per group
(issue: groups and sharing)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.sandbox.emulator import TelegramEmulator
from tests.support.botkit import bot_settings, button, buttons_of, copy_library, is_part_preview, previews, running_bot, song_excerpt, wait
from tests.support.data import ffmpeg, shared

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
FISHIN = ("music", "librosa-data", "Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _group_previews(emu, chat_id, owner: str | None = None):
    out = [m for m in emu.bot_messages(chat_id) if is_part_preview(m)]
    return [m for m in out if owner is None or owner in m["caption"]]


def _finals(emu, chat_id, owner: str | None = None):
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance for" in (m.get("caption") or "")
            and (owner is None or owner in m["caption"])]


def _db(data_dir):
    return sqlite3.connect(data_dir / "choreo.db")


def test_owner_only_and_a_session_from_a_reply(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                ann, bo, cy = (emu.make_user(n, n.lower()) for n in ("Ann", "Bo", "Cy"))
                group = emu.make_group("Dance crew", [ann, bo, cy], admins=[ann])
                posted = emu.send_file(group, bo, song, kind="audio", mime_type="audio/mpeg")  # no caption: ignored
                await asyncio.sleep(2.0)
                assert emu.bot_messages(group["id"]) == []
                emu.send_text(group, ann, "/choreo", reply_to=posted["message_id"])  # Ann asks for Bo's song
                await wait(emu, lambda e: _group_previews(e, group["id"]), 120)
                queued = next(m for m in emu.bot_messages(group["id"]) if m["kind"] == "text")
                assert "@ann" in (queued["text"] + str(queued.get("edit_history")))
                offer = _group_previews(emu, group["id"])[0]
                assert "@ann" in offer["caption"]
                emu.press_button(group, bo, offer["message_id"], button(offer, "1"))  # not Bo's to pick
                await wait(emu, lambda e: e.callback_answers, 10)
                assert emu.callback_answers[-1]["text"] == "Only @ann picks here." and emu.callback_answers[-1]["show_alert"]
                assert emu.message(group["id"], offer["message_id"])["reply_markup"] is not None
                emu.press_button(group, ann, offer["message_id"], button(offer, "✨"))
                await wait(emu, lambda e: _finals(e, group["id"]), 180)
                assert emu.violations == [] and emu.rate_limited == []

    asyncio.run(scenario())
    # one session, Ann's: the song without a caption started none
    assert _db(data_dir).execute("SELECT owner_name FROM sessions").fetchall() == [("@ann",)]


def test_vote_mode_with_a_moved_vote_and_a_tie(data_dir, tmp_path):
    song = song_excerpt(tmp_path, FISHIN, 20, "mp3", start=30)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir, vote_timeout_seconds=600)):
                ann, bo, cy = (emu.make_user(n, n.lower()) for n in ("Ann", "Bo", "Cy"))
                group = emu.make_group("Dance crew", [ann, bo, cy], admins=[ann])
                emu.send_text(group, bo, "/mode vote")  # neither admin nor starter
                await wait(emu, lambda e: any("Only a group admin" in (m.get("text") or "") for m in e.bot_messages(group["id"])), 20)
                emu.send_text(group, ann, "/mode vote")  # the admin
                await wait(emu, lambda e: any("everyone votes" in (m.get("text") or "") for m in e.bot_messages(group["id"])), 20)
                emu.send_file(group, cy, song, kind="audio", caption="/choreo", mime_type="audio/mpeg")
                await wait(emu, lambda e: _group_previews(e, group["id"]), 120)
                first = _group_previews(emu, group["id"])[0]
                assert "Vote" in first["caption"] and any("Close" in t for t, _ in buttons_of(first))
                # Ann votes 1, Bo votes 2, Cy votes 2 and then moves to 1: 1 wins 2-1
                for user, label in ((ann, "1"), (bo, "2"), (cy, "2"), (cy, "1")):
                    answered = len(emu.callback_answers)
                    emu.press_button(group, user, first["message_id"], button(first, label))
                    await wait(emu, lambda e: len(e.callback_answers) > answered, 10)
                # the buttons show live counts (one batched edit)
                await wait(emu, lambda e: any(t.startswith("1 · 2") for t, _ in buttons_of(e.message(group["id"], first["message_id"]))), 20)
                emu.press_button(group, bo, first["message_id"], button(first, "🗳"))  # only the starter closes
                await wait(emu, lambda e: "Only @cy" in (e.callback_answers[-1]["text"] or ""), 10)
                emu.press_button(group, cy, first["message_id"], button(first, "🗳"))
                await wait(emu, lambda e: len(_group_previews(e, group["id"])) >= 2, 120)
                second = _group_previews(emu, group["id"])[1]
                # a tie, 1 vote each for 3 and 2: the higher-ranked candidate (2) wins
                emu.press_button(group, ann, second["message_id"], button(second, "3"))
                emu.press_button(group, bo, second["message_id"], button(second, "2"))
                await wait(emu, lambda e: len(e.callback_answers) >= 8, 10, lambda e: e.callback_answers)
                emu.press_button(group, cy, second["message_id"], button(second, "🗳"))
                await wait(emu, lambda e: len(_group_previews(e, group["id"])) >= 3 or _finals(e, group["id"]), 120)
                if not _finals(emu, group["id"]):
                    third = _group_previews(emu, group["id"])[2]
                    emu.press_button(group, cy, third["message_id"], button(third, "✨"))
                await wait(emu, lambda e: _finals(e, group["id"]), 180)
                assert emu.violations == [] and emu.rate_limited == []

    asyncio.run(scenario())
    con = _db(data_dir)
    picks = con.execute("SELECT idx, rank, source FROM picks ORDER BY idx").fetchall()
    assert picks[0] == (0, 1, "vote")
    assert picks[1] == (1, 2, "vote")
    history = con.execute("SELECT user_id, rank FROM vote_history WHERE idx = 0 ORDER BY id").fetchall()
    assert len(history) == 4 and history[2][1] == 2 and history[3][1] == 1 and history[2][0] == history[3][0]
    assert con.execute("SELECT COUNT(*) FROM votes WHERE idx = 0").fetchone()[0] == 3


def test_two_sessions_at_once_then_sharing(data_dir, tmp_path):
    songs = [song_excerpt(tmp_path, VIBE_ACE, 14, "mp3", start=5), song_excerpt(tmp_path, FISHIN, 14, "ogg", start=60)]

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)) as app:
                ann, bo, cy = (emu.make_user(n, n.lower()) for n in ("Ann", "Bo", "Cy"))
                group = emu.make_group("Dance crew", [ann, bo, cy], admins=[ann])
                mention = f"@{app.bot.username} dance this"
                emu.send_file(group, ann, songs[0], kind="audio", caption=mention, mime_type="audio/mpeg")
                emu.send_file(group, bo, songs[1], kind="voice", caption="/choreo", mime_type="audio/ogg")
                await wait(emu, lambda e: _group_previews(e, group["id"], "@ann") and _group_previews(e, group["id"], "@bo"), 180)
                for user, name in ((ann, "@ann"), (bo, "@bo")):
                    offer = _group_previews(emu, group["id"], name)[0]
                    emu.press_button(group, user, offer["message_id"], button(offer, "✨"))
                await wait(emu, lambda e: _finals(e, group["id"], "@ann") and _finals(e, group["id"], "@bo"), 240)
                # the bot records a result (and its file id) right after sending it
                await wait(emu, lambda e: _db(data_dir).execute(
                    "SELECT COUNT(*) FROM sessions WHERE status = 'done'").fetchone()[0] == 2, 20)
                final = _finals(emu, group["id"], "@ann")[0]
                share = [b for row in final["reply_markup"]["inline_keyboard"] for b in row if "switch_inline_query" in b]
                assert share, "the final message has a share button"
                # inline mode: each user sees only their own dances, by cached file id
                uploads = emu.uploads["sendVideo"]
                for user, name in ((ann, "@ann"), (bo, "@bo"), (cy, None)):
                    qid = emu.inline_query(user, "")
                    await wait(emu, lambda e: any(a["inline_query_id"] == qid for a in e.inline_answers), 20)
                    answer = next(a for a in emu.inline_answers if a["inline_query_id"] == qid)
                    own = _finals(emu, group["id"], name) if name else []
                    assert {r["video_file_id"] for r in answer["results"]} == {m["video"]["file_id"] for m in own}
                assert emu.uploads["sendVideo"] == uploads
                emu.send_text(group, cy, "/history")
                await wait(emu, lambda e: any("Dances in this chat" in (m.get("text") or "") for m in e.bot_messages(group["id"])), 20)
                listing = next(m["text"] for m in emu.bot_messages(group["id"]) if "Dances in this chat" in (m.get("text") or ""))
                assert "@ann" in listing and "@bo" in listing
                assert emu.violations == [] and emu.rate_limited == []

    asyncio.run(scenario())
    rows = _db(data_dir).execute("SELECT owner_name, status FROM sessions ORDER BY owner_name").fetchall()
    assert rows == [("@ann", "done"), ("@bo", "done")]


def test_bot_removed_mid_session(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3", start=30)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                ann, bo = emu.make_user("Ann", "ann"), emu.make_user("Bo", "bo")
                group = emu.make_group("Dance crew", [ann, bo], admins=[ann])
                private = emu.make_private_chat(bo)
                emu.send_file(group, ann, song, kind="audio", caption="/choreo", mime_type="audio/mpeg")
                await wait(emu, lambda e: _group_previews(e, group["id"]), 120)
                offer = _group_previews(emu, group["id"])[0]
                emu.press_button(group, ann, offer["message_id"], button(offer, "1"))  # next preview on its way
                emu.remove_bot_from_chat(group)
                await asyncio.sleep(3.0)
                # nothing else breaks: a private session still runs to the end
                emu.send_file(private, bo, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, private["id"]), 120)
                p = previews(emu, private["id"])[0]
                emu.press_button(private, bo, p["message_id"], button(p, "✨"))
                await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(private["id"])), 180)
                # the sheet goes out just before the render job is marked done; a job still running
                # at shutdown would rightly be re-queued at the next start, so let it finish first
                for _ in range(100):
                    if _open_jobs(data_dir, "private") == 0:
                        break
                    await asyncio.sleep(0.1)
                assert emu.violations == []

    asyncio.run(scenario())
    rows = dict(_db(data_dir).execute("SELECT chat_type, status FROM sessions").fetchall())
    assert rows == {"group": "cancelled", "private": "done"}
    # the group's queued "next preview" was closed with the chat, not left to run later
    assert _open_jobs(data_dir, "group") == 0
    assert _open_jobs(data_dir, "private") == 0


def _open_jobs(data_dir, chat_type: str) -> int:
    return _db(data_dir).execute(
        """SELECT COUNT(*) FROM jobs j JOIN sessions s ON s.id = j.session_id
           WHERE s.chat_type = ? AND j.status IN ('queued', 'running')""", (chat_type,)).fetchone()[0]


def test_three_minute_song_in_a_group_without_a_429(data_dir, tmp_path):
    long_song = tmp_path / "three-minutes.mp3"
    ffmpeg("-stream_loop", "3", "-i", str(shared(*VIBE_ACE)), "-t", "180", "-c:a", "libmp3lame", str(long_song))

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                ann, bo, cy = (emu.make_user(n, n.lower()) for n in ("Ann", "Bo", "Cy"))
                group = emu.make_group("Dance crew", [ann, bo, cy], admins=[ann])
                emu.send_file(group, ann, long_song, kind="audio", caption="/choreo", mime_type="audio/mpeg")
                for i in range(3):  # three parts by hand, then the rest automatically
                    await wait(emu, lambda e: len(_group_previews(e, group["id"])) > i, 180)
                    offer = _group_previews(emu, group["id"])[i]
                    emu.press_button(group, ann, offer["message_id"], button(offer, str(i + 1)))
                await wait(emu, lambda e: len(_group_previews(e, group["id"])) > 3, 180)
                offer = _group_previews(emu, group["id"])[3]
                emu.press_button(group, ann, offer["message_id"], button(offer, "✨"))
                await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(group["id"])), 400)
                assert emu.rate_limited == []
                assert emu.violations == []
                return len(emu.bot_messages(group["id"]))

    sent = asyncio.run(scenario())
    assert sent <= 20
    n_segments, = _db(data_dir).execute("SELECT n_segments FROM sessions").fetchone()
    assert n_segments >= 30


def test_mode_switch_applies_from_the_next_part(data_dir, tmp_path):
    """/mode vote while a part is offered in owner mode: that part stays the owner's, the next is voted."""
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3", start=10)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir, vote_timeout_seconds=600)):
                ann, bo = emu.make_user("Ann", "ann"), emu.make_user("Bo", "bo")
                group = emu.make_group("Dance crew", [ann, bo], admins=[ann])
                emu.send_file(group, ann, song, kind="audio", caption="/choreo", mime_type="audio/mpeg")
                await wait(emu, lambda e: _group_previews(e, group["id"]), 120)
                first = _group_previews(emu, group["id"])[0]
                assert "Vote" not in first["caption"]
                emu.send_text(group, ann, "/mode vote")
                await wait(emu, lambda e: any("everyone votes" in (m.get("text") or "") for m in e.bot_messages(group["id"])), 20)
                answered = len(emu.callback_answers)
                emu.press_button(group, bo, first["message_id"], button(first, "2"))  # still Ann's part
                await wait(emu, lambda e: len(e.callback_answers) > answered, 10)
                assert emu.callback_answers[-1]["text"] == "Only @ann picks here."
                emu.press_button(group, ann, first["message_id"], button(first, "2"))  # a pick, not a vote
                await wait(emu, lambda e: len(_group_previews(e, group["id"])) >= 2, 120)
                assert "move 2" in emu.message(group["id"], first["message_id"])["caption"]
                second = _group_previews(emu, group["id"])[1]
                assert "Vote" in second["caption"] and any("Close" in t for t, _ in buttons_of(second))
                assert emu.violations == []

    asyncio.run(scenario())
