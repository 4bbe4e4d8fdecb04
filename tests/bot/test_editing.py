"""Changing a part of a finished dance, its versions in /history, /mode auto and the "Auto dance
now" button, through the Bot API emulator (issue 15, items 2, 3)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from bot.sandbox.emulator import TelegramEmulator
from choreo_engine.dance import pose
from tests.support.botkit import bot_settings, button, buttons_of, copy_library, previews, running_bot, song_excerpt, wait

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "choreo.db")


def _finals(emu, chat_id) -> list[dict]:
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance for" in (m.get("caption") or "")]


def _texts(emu, chat_id, needle: str) -> list[dict]:
    return [m for m in emu.bot_messages(chat_id) if needle in (m.get("text") or "")]


def _pieces(data_dir: Path) -> dict[str, tuple[int, int]]:
    """The pieces of the session's final video: name -> (inode, mtime_ns)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data_dir.glob("sessions/*/pieces/piece-*.mp4")}


def _poses_at(video: bytes, times: list[float], tmp: Path) -> list[np.ndarray | None]:
    """MediaPipe's normalised (x, y) joints in the frames of ``video`` at ``times`` (seconds)."""
    path = tmp / f"v{abs(hash(video)) % 10**8}.mp4"
    path.write_bytes(video)
    cap = cv2.VideoCapture(str(path))
    out = []
    with pose.PoseEstimator(video=False) as estimator:
        for t in times:
            cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
            ok, frame = cap.read()
            found = estimator.estimate(frame) if ok else None
            aspect = frame.shape[1] / frame.shape[0] if ok else 1.0
            out.append(None if found is None else pose.normalize(found[None], aspect)[0, :, :2])
    cap.release()
    return out


def _pose_gap(a: list, b: list) -> float:
    """Mean joint distance (torso lengths) between the frames both videos show a person in."""
    gaps = [float(np.linalg.norm(x - y, axis=-1).mean()) for x, y in zip(a, b) if x is not None and y is not None]
    assert gaps, "no person found in the sampled frames"
    return float(np.mean(gaps))


def test_mode_auto_then_change_a_part_and_resend_from_history(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 24, "mp3")

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                ann = emu.make_user("Ann", "ann")
                chat = emu.make_private_chat(ann)
                emu.send_text(chat, ann, "/mode auto")
                await wait(emu, lambda e: _texts(e, chat["id"], "auto-picked dance at once"), 20)
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: _finals(e, chat["id"]), 180)
                assert previews(emu, chat["id"]) == []  # delivered without a single pick
                first = _finals(emu, chat["id"])[0]
                pieces_before = _pieces(data_dir)

                # change part 2: the list of parts, then its candidates ranked on both neighbours
                emu.press_button(chat, ann, first["message_id"], button(first, "✏️"))
                await wait(emu, lambda e: _texts(e, chat["id"], "which part"), 30)
                listing = _texts(emu, chat["id"], "which part")[-1]
                labels = [t for t, _ in buttons_of(listing)]
                n_parts = _db(data_dir).execute("SELECT n_segments FROM sessions").fetchone()[0]
                # every part by its number, after it its section's name when the song has sections
                assert n_parts >= 3 and [label.split(" · ")[0] for label in labels] == [str(i + 1) for i in range(n_parts)]
                assert all(" · " not in label or label.split(" · ")[1][0].isupper() for label in labels)
                emu.press_button(chat, ann, listing["message_id"], button(listing, "2"))
                await wait(emu, lambda e: any((m.get("caption") or "").startswith("Change part 2")
                                              for m in e.bot_messages(chat["id"])), 60)
                offer = next(m for m in emu.bot_messages(chat["id"]) if (m.get("caption") or "").startswith("Change part 2"))
                con = _db(data_dir)
                current = json.loads(con.execute("SELECT picks FROM dance_versions WHERE number = 1").fetchone()[0])[1]
                clip_of = dict(con.execute("SELECT id, clip_id FROM library_segments").fetchall())
                choices = [(text, data, con.execute("SELECT value FROM buttons WHERE token = ?", (data,)).fetchone()[0])
                           for text, data in buttons_of(offer)]
                assert len(choices) >= 2 and any(text.endswith("✓") for text, _, _ in choices)
                # a move from another clip than the one danced now, so the new part looks different
                text, data, new_id = next(c for c in choices if clip_of[c[2]] != clip_of[current])
                emu.press_button(chat, ann, offer["message_id"], data)
                await wait(emu, lambda e: len(_finals(e, chat["id"])) >= 2, 180)
                second = _finals(emu, chat["id"])[1]
                assert "part 2 changed" in second["caption"]
                # only part 2's pieces were made again (its body and its two cuts): the others kept
                pieces_after = _pieces(data_dir)
                assert sorted("-".join(n.split("-")[1:-1]) for n in set(pieces_after) - set(pieces_before)) == [
                    "001-002", "002", "002-003"]
                assert all(pieces_after[n] == pieces_before[n] for n in pieces_before)
                assert any("✏️" in t for t, _ in buttons_of(second))  # it can be changed again

                # /history lists both versions; v1 comes back by its cached file id, no upload
                uploads = emu.uploads["sendVideo"]
                emu.send_text(chat, ann, "/history")
                await wait(emu, lambda e: _texts(e, chat["id"], "Your dances"), 20)
                history = _texts(emu, chat["id"], "Your dances")[-1]
                assert "v1" in history["text"] and "v2" in history["text"] and "part 2 changed" in history["text"]
                emu.press_button(chat, ann, history["message_id"], button(history, "1 · v1"))
                await wait(emu, lambda e: any("v1" in (m.get("caption") or "") for m in e.bot_messages(chat["id"])), 30)
                resent = next(m for m in emu.bot_messages(chat["id"]) if "v1" in (m.get("caption") or ""))
                assert resent["video"]["file_id"] == first["video"]["file_id"]
                assert emu.uploads["sendVideo"] == uploads
                assert emu.violations == [] and emu.rate_limited == []
                return (emu.file_bytes(first["video"]["file_id"]), emu.file_bytes(second["video"]["file_id"]),
                        new_id)

    v1, v2, new_id = asyncio.run(scenario())
    con = _db(data_dir)
    versions = [(json.loads(p), c) for p, c in con.execute(
        "SELECT picks, changed_part FROM dance_versions ORDER BY number").fetchall()]
    assert len(versions) == 2 and versions[0][1] is None and versions[1][1] == 1
    (old, _), (new, _) = versions
    # that part and only that part dances another move
    assert [i for i, (a, b) in enumerate(zip(old, new)) if a != b] == [1] and new[1] == new_id
    assert con.execute("SELECT COUNT(*) FROM picks WHERE source = 'auto'").fetchone()[0] == len(old)
    # the poses of the new render: part 2 differs, parts 1 and 3 (away from the cuts) do not
    segments = json.loads(con.execute("SELECT analysis FROM sessions").fetchone()[0])["segments"]

    def inside(seg):
        return list(np.linspace(seg["start"], seg["end"], 7)[2:-2])

    times = [t for i in (0, 1, 2) for t in inside(segments[i])]
    a, b = _poses_at(v1, times, tmp_path), _poses_at(v2, times, tmp_path)
    k = len(times) // 3
    gaps = {i: _pose_gap(a[i * k:(i + 1) * k], b[i * k:(i + 1) * k]) for i in (0, 1, 2)}
    assert gaps[1] > 3 * max(gaps[0], gaps[2], 0.02), gaps


def test_group_auto_dance_now_and_owner_only_changes(data_dir, tmp_path):
    song = song_excerpt(tmp_path, VIBE_ACE, 16, "mp3", start=20)

    async def scenario():
        with TelegramEmulator() as emu:
            async with running_bot(bot_settings(emu, data_dir)):
                ann, bo = emu.make_user("Ann", "ann"), emu.make_user("Bo", "bo")
                group = emu.make_group("Dance crew", [ann, bo], admins=[ann])
                emu.send_file(group, ann, song, kind="audio", caption="/choreo", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, group["id"]), 120)
                offer = previews(emu, group["id"])[0]
                assert any(t.startswith("⚡") for t, _ in buttons_of(offer))

                async def alert_for(user, message, label):
                    answered = len(emu.callback_answers)
                    emu.press_button(group, user, message["message_id"], button(message, label))
                    await wait(emu, lambda e: len(e.callback_answers) > answered, 10)
                    return emu.callback_answers[-1]["text"]

                assert await alert_for(bo, offer, "⚡") == "Only @ann picks here."
                emu.press_button(group, ann, offer["message_id"], button(offer, "⚡"))
                await wait(emu, lambda e: _finals(e, group["id"]), 180)
                assert len(previews(emu, group["id"])) == 1  # the whole dance at once
                final = _finals(emu, group["id"])[0]
                # owner mode: only Ann changes a part, also from the part list
                assert await alert_for(bo, final, "✏️") == "Only @ann picks here."
                emu.press_button(group, ann, final["message_id"], button(final, "✏️"))
                await wait(emu, lambda e: _texts(e, group["id"], "which part"), 30)
                listing = _texts(emu, group["id"], "which part")[-1]
                assert await alert_for(bo, listing, "1") == "Only @ann picks here."
                assert emu.violations == [] and emu.rate_limited == []

    asyncio.run(scenario())
    con = _db(data_dir)
    assert con.execute("SELECT status FROM sessions").fetchone()[0] == "done"
    assert con.execute("SELECT COUNT(*) FROM dance_versions").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(DISTINCT source) FROM picks").fetchone()[0] == 1  # all auto


@pytest.mark.parametrize("closed_by", ["starter", "deadline"])
def test_group_vote_on_a_changed_part(data_dir, tmp_path, closed_by):
    """In a group in vote mode a part offered again is voted on like a part being chosen: the
    starter opens it, everyone votes (a moved vote counts once), only the starter closes (or the
    deadline does), the most voted move is danced in the new version and the offer keeps only it."""
    song = song_excerpt(tmp_path, VIBE_ACE, 12, "mp3", start=40)

    async def scenario():
        with TelegramEmulator() as emu:
            timeout = 600 if closed_by == "starter" else 40
            async with running_bot(bot_settings(emu, data_dir, vote_timeout_seconds=timeout)):
                ann, bo, cy = (emu.make_user(n, n.lower()) for n in ("Ann", "Bo", "Cy"))
                group = emu.make_group("Dance crew", [ann, bo, cy], admins=[ann])
                emu.send_text(group, ann, "/mode vote")
                await wait(emu, lambda e: _texts(e, group["id"], "everyone votes"), 20)
                emu.send_file(group, cy, song, kind="audio", caption="/choreo", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, group["id"]), 120)
                emu.press_button(group, cy, previews(emu, group["id"])[0]["message_id"],
                                 button(previews(emu, group["id"])[0], "⚡"))
                await wait(emu, lambda e: _finals(e, group["id"]), 180)
                final = _finals(emu, group["id"])[0]

                async def answer_to(user, message, label):
                    answered = len(emu.callback_answers)
                    emu.press_button(group, user, message["message_id"], button(message, label))
                    await wait(emu, lambda e: len(e.callback_answers) > answered, 10)
                    return emu.callback_answers[-1]["text"]

                # the starter chooses which part is voted on again
                assert await answer_to(bo, final, "✏️") == "Only @cy picks here."
                emu.press_button(group, cy, final["message_id"], button(final, "✏️"))
                await wait(emu, lambda e: _texts(e, group["id"], "which part"), 30)
                listing = _texts(emu, group["id"], "which part")[-1]
                emu.press_button(group, cy, listing["message_id"], button(listing, "2"))
                offered = lambda e: [m for m in e.bot_messages(group["id"]) if (m.get("caption") or "").startswith("Change part 2")]
                await wait(emu, offered, 60)
                offer = offered(emu)[0]
                assert "Vote" in offer["caption"] and any("Close" in t for t, _ in buttons_of(offer))
                # Ann votes 3, Bo 2 then 3, Cy 2: 3 wins 2-1
                for user, label in ((ann, "3"), (bo, "2"), (bo, "3"), (cy, "2")):
                    assert (await answer_to(user, offer, label)).startswith("Your vote")
                await wait(emu, lambda e: any(t.startswith("3") and t.endswith("· 2")
                                              for t, _ in buttons_of(e.message(group["id"], offer["message_id"]))), 20)
                assert await answer_to(bo, offer, "🗳") == "Only @cy picks here."
                assert len(_finals(emu, group["id"])) == 1  # nothing changed yet
                if closed_by == "starter":
                    emu.press_button(group, cy, offer["message_id"], button(offer, "🗳"))
                await wait(emu, lambda e: len(_finals(e, group["id"])) >= 2, 180)
                assert "part 2 changed" in _finals(emu, group["id"])[1]["caption"]
                assert emu.violations == [] and emu.rate_limited == []
                return [emu.message(group["id"], offer["message_id"])]

    offer, = asyncio.run(scenario())
    con = _db(data_dir)
    voted = con.execute("SELECT idx, rank, source, library_segment_id FROM picks WHERE source = 'vote'").fetchall()
    assert [(i, r, s) for i, r, s, _ in voted] == [(1, 3, "vote")]
    versions = [(json.loads(p), c) for p, c in con.execute(
        "SELECT picks, changed_part FROM dance_versions ORDER BY number").fetchall()]
    assert len(versions) == 2 and versions[1][1] == 1 and versions[1][0][1] == voted[0][3]
    # the change vote is over: its close button is gone and the offer shows only the choice
    assert con.execute("SELECT COUNT(*) FROM buttons WHERE action = 'change_close'").fetchone()[0] == 0
    assert not buttons_of(offer) and "move 3" in offer["caption"]


def _analysis(n_parts: int, **extra) -> dict:
    segments = [{"index": i, "start": 4.0 * i, "end": 4.0 * (i + 1), "beats": [4.0 * i + 0.5 * b for b in range(8)],
                 "loudness_levels": [5] * 8} for i in range(n_parts)]
    return {"duration": 4.0 * n_parts, "tempo": 120.0, "beats_per_segment": 8,
            "beats": [b for s in segments for b in s["beats"]], "segments": segments, **extra}


def test_part_list_pages_and_section_names():
    from bot.service.editing import PARTS_PER_PAGE, parts_keyboard, section_names
    from storage.rows import Button, ButtonAction

    assert section_names(_analysis(3), "en") is None  # no sections in the analysis: numbers only
    named = _analysis(4, sections=[{"label": "intro", "group": 0, "first_segment": 0, "end_segment": 2,
                                    "start": 0.0, "end": 8.0},
                                   {"label": "chorus", "group": 1, "first_segment": 2, "end_segment": 4,
                                    "start": 8.0, "end": 16.0}])
    assert section_names(named, "en") == ["Intro", "Intro", "Chorus", "Chorus"]
    assert section_names(named, "ko") == ["인트로", "인트로", "코러스", "코러스"]
    parts = [Button(f"p{i}", "s", None, ButtonAction.CHANGE_PART, i) for i in range(PARTS_PER_PAGE, 2 * PARTS_PER_PAGE)]
    nav = {0: Button("back", "s", None, ButtonAction.CHANGE_PAGE, 0), 2: Button("next", "s", None, ButtonAction.CHANGE_PAGE, 2)}
    rows = parts_keyboard(parts, None, 1, 3, nav).inline_keyboard
    labels = [b.text for row in rows[:-1] for b in row]
    assert labels == [str(i + 1) for i in range(PARTS_PER_PAGE, 2 * PARTS_PER_PAGE)]
    assert [(b.text, b.callback_data) for b in rows[-1]] == [("◀", "back"), ("▶", "next")]
    names = [None] * PARTS_PER_PAGE + ["Verse"] * PARTS_PER_PAGE
    rows = parts_keyboard(parts[:2], names, 1, 2, {0: nav[0]}).inline_keyboard
    assert [b.text for b in rows[0]] == [f"{PARTS_PER_PAGE + 1} · Verse", f"{PARTS_PER_PAGE + 2} · Verse"]
    assert [b.text for b in rows[-1]] == ["◀"]
