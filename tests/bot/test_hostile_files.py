"""Hostile files sent to the bot through the Bot API emulator (issue 12, "hostile files").

One bot takes the whole corpus (tests/support/hostile.py: playlists, manifests and concat lists
posing as audio, lying headers, truncated and empty files, 8-channel 192 kHz minutes, two hours
at 8 kbps, videos and containers without sound, images, archives, text, silence, a steady tone,
a file named ../../etc/passwd.mp3...). Each file must get its own refusal, in its sender's
language, within 30 s; the pool's workers stay under 1.5 GB resident throughout; a refused file
leaves no rows and no files; and a normal song sent afterwards still becomes a dance.

The table (file × message × seconds × peak memory) is printed and written to
tests/output/hostile_files.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from dataclasses import dataclass

from bot.sandbox.emulator import TelegramEmulator
from bot.texts import t
from tests.support.botkit import bot_settings, button, copy_library, previews, running_bot, song_excerpt, wait
from tests.support.hostile import UNSUPPORTED, HostileFile
from tests.support.procmem import TreeSampler

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
ANSWER_SECONDS = 30.0
WORKER_MEMORY_LIMIT = 1.5 * 2**30
MB = 2**20


@dataclass
class Answer:
    file: HostileFile
    lang: str
    text: str
    sent: float  # time.monotonic()
    answered: float

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


def expected_text(f: HostileFile, lang: str, max_song_seconds: float) -> str:
    if f.expected == UNSUPPORTED:
        return t(lang, "unsupported")
    return t(lang, f"error.{f.expected}", max_minutes=max_song_seconds / 60)


def _final(emu, chat_id):
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance" in (m.get("caption") or "")]


def _table(answers: list[Answer], sampler: TreeSampler) -> tuple[str, list[dict]]:
    rows = []
    for a in answers:
        peak = sampler.peak(a.sent, a.answered)
        rows.append({"file": a.file.name, "sent as": f"{a.file.kind}, {a.file.mime}", "lang": a.lang,
                     "expected": a.file.expected, "message": a.text, "seconds": round(a.seconds, 1),
                     "peak worker MB": round(peak.worker / MB), "peak bot+pool MB": round(peak.total / MB)})
    lines = ["| file | message | seconds | peak worker MB | peak bot+pool MB |", "|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['message']} | {r['seconds']} | {r['peak worker MB']} | {r['peak bot+pool MB']} |"
              for r in rows]
    return "\n".join(lines), rows


def test_hostile_files_are_refused_quickly_in_bounded_memory(library_dir, hostile_corpus, tmp_path, output_dir):
    corpus = hostile_corpus
    assert len(corpus) >= 25
    song = song_excerpt(tmp_path, VIBE_ACE, 12, "mp3", start=5)
    data_dir = copy_library(library_dir, tmp_path / "data")
    answers: list[Answer] = []
    sampler = TreeSampler(os.getpid())

    async def send_in_turn(emu, user, chat, lang: str, files: list[HostileFile], max_song_seconds: float) -> None:
        """One user sends the files one by one, each after the answer to the one before."""
        for f in files:
            expected = expected_text(f, lang, max_song_seconds)
            before = len(emu.bot_messages(chat["id"]))
            sent = time.monotonic()
            emu.send_file(chat, user, f.path, kind=f.kind, mime_type=f.mime, file_name=f.sent_name)
            await wait(emu, lambda e: any(m.get("text") == expected for m in e.bot_messages(chat["id"])[before:]),
                       ANSWER_SECONDS,
                       explain=lambda e: (f.name, expected, [m.get("text") for m in e.bot_messages(chat["id"])[before:]]))
            answers.append(Answer(f, lang, expected, sent, time.monotonic()))

    phases = {"start": time.monotonic()}

    async def scenario():
        with TelegramEmulator() as emu:
            settings = bot_settings(emu, data_dir)
            async with running_bot(settings):
                phases["bot started"] = time.monotonic()
                sampler.start()
                people = [emu.make_user("Ann", "ann"), emu.make_user("Bo", "bo", language_code="ko"),
                          emu.make_user("Cy", "cy")]
                chats = [emu.make_private_chat(p) for p in people]
                langs = ["en", "ko", "en"]
                # three people at once, each sending a third of the corpus in turn (two workers take them)
                await asyncio.gather(*[send_in_turn(emu, people[i], chats[i], langs[i], corpus[i::3],
                                                    settings.max_song_seconds) for i in range(3)])
                phases["corpus answered"] = time.monotonic()
                # a normal song right after still becomes a dance
                ann, chat = people[0], chats[0]
                emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
                await wait(emu, lambda e: previews(e, chat["id"]), 120)
                offer = previews(emu, chat["id"])[0]
                emu.press_button(chat, ann, offer["message_id"], button(offer, "✨"))
                await wait(emu, lambda e: _final(e, chat["id"]) and any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])),
                           180)
                phases["song danced"] = time.monotonic()
                sampler.stop()
                assert emu.violations == [] and emu.rate_limited == []
                return settings

    settings = asyncio.run(scenario())
    table, rows = _table(answers, sampler)
    (output_dir / "hostile_files.md").write_text(table + "\n")
    (output_dir / "hostile_files.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    print("\n" + table)
    overall = sampler.peak()
    print(f"peak over the whole run: one worker {overall.worker / MB:.0f} MB, bot + pool {overall.total / MB:.0f} MB")
    marks = list(phases.items())
    print("; ".join(f"{name}: +{t1 - t0:.0f} s" for (_, t0), (name, t1) in zip(marks, marks[1:])))

    assert sorted(a.file.name for a in answers) == sorted(f.name for f in corpus)
    assert all(a.seconds <= ANSWER_SECONDS for a in answers)
    assert overall.worker < WORKER_MEMORY_LIMIT, f"a worker reached {overall.worker / MB:.0f} MB"
    # a refusal leaves nothing behind: the one session left is the normal song's, saved under a fixed name
    con = sqlite3.connect(data_dir / "choreo.db")
    sessions = con.execute("SELECT id, status, song_path FROM sessions").fetchall()
    assert [s[1] for s in sessions] == ["done"]
    for table_name in ("jobs", "buttons", "session_segments", "candidates", "picks", "results"):
        others = con.execute(f"SELECT COUNT(*) FROM {table_name} WHERE session_id != ?", (sessions[0][0],)).fetchone()
        assert others[0] == 0, table_name
    assert [p.name for p in (data_dir / "sessions").iterdir()] == [sessions[0][0]]
    assert sessions[0][2] == str(data_dir / "sessions" / sessions[0][0] / "song")
    assert not [p for p in tmp_path.rglob("passwd*")]
