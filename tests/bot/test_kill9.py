"""kill -9 at random moments of sessions' lives (issue 12, item 8): the bot is a real ``choreo bot``
process against the Bot API emulator; its process group is SIGKILLed 20 times and restarted.
Every song ends with exactly one dance, no pick is lost (a tap made a moment before a kill
included), no session is stuck and no part's preview is sent more than twice.

Users keep sending short songs while the kills go on. Each kill aims at one stage of a session's
life in turn (analysis, a tap on a preview a moment before the kill, an offer being made, a
render, a vote, the final upload): it waits until some session is there, then kills within a
moment; every other session is wherever it is. A group chat in vote mode lets its votes close at
their deadline with no tap. The outcomes table goes to ``tests/output/kill9.json``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bot.sandbox.emulator import TelegramEmulator
from tests.support.botkit import buttons_of, copy_library, is_part_preview, part_number
from tests.support.botproc import kill_group, query, start_bot_process
from tests.support.data import ffmpeg, shared

KILLS = 20
SONG_SECONDS = 9  # two 8-beat parts
TRACKS = [("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"), ("music", "xmoto", "speeditup.ogg"),
          ("music", "hyperrogue", "hr3-desert.ogg")]
PRIVATE_USERS = 4
TARGETS = ["analysis", "pick", "offer", "render", "vote", "upload"]
STAGE_WAIT = 20.0  # seconds a kill waits for its target stage before aiming at the next one
PROGRESS_TIMEOUT = 180.0
SETTLE_TIMEOUT = 240.0


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def _songs(tmp: Path) -> list[Path]:
    out = []
    for i, track in enumerate(TRACKS):
        path = tmp / f"kill9-{i}.mp3"
        ffmpeg("-ss", "20", "-t", str(SONG_SECONDS), "-i", str(shared(*track)), "-map_metadata", "-1",
               "-c:a", "libmp3lame", str(path))
        out.append(path)
    return out


def _of_song(messages: list[dict], song: str) -> list[dict]:
    return [m for m in messages if song in ((m.get("caption") or "") + (m.get("text") or ""))]


def _previews(emu, chat_id: int, song: str) -> list[dict]:
    return [m for m in _of_song(emu.bot_messages(chat_id), song) if is_part_preview(m)]


def _finals(emu, chat_id: int, song: str) -> list[dict]:
    return [m for m in _of_song(emu.bot_messages(chat_id), song) if m["kind"] == "video"
            and "dance for" in (m.get("caption") or "")]


def _part(message: dict) -> int:
    return part_number(message)


class Singer:
    """One chat's user: sends a song when the last one is done, taps 1 on part 1 and ✨ on part 2."""

    def __init__(self, emu, chat: dict, user: dict, songs: list[Path], name: str, taps: bool) -> None:
        self.emu, self.chat, self.user, self.songs, self.name, self.taps = emu, chat, user, songs, name, taps
        self.sent: list[str] = []  # song names (file names), in order
        self.tapped: dict[tuple[str, int], float] = {}  # (song, part) -> when

    @property
    def current(self) -> str | None:
        return self.sent[-1] if self.sent else None

    def finished(self, song: str) -> bool:
        return bool(_finals(self.emu, self.chat["id"], song))

    def send_next(self) -> None:
        song = f"{self.name}-{len(self.sent) + 1}.mp3"
        path = self.songs[len(self.sent) % len(self.songs)]
        caption = "/choreo" if self.chat["type"] != "private" else None
        self.emu.send_file(self.chat, self.user, path, kind="document", mime_type="audio/mpeg", file_name=song,
                           caption=caption)
        self.sent.append(song)

    def untapped(self) -> list[dict]:
        """Previews of the current song whose part was not tapped yet (the latest of each part)."""
        if not self.taps or self.current is None:
            return []
        latest = {}
        for m in _previews(self.emu, self.chat["id"], self.current):
            if m.get("reply_markup"):
                latest[_part(m)] = m
        return [m for part, m in sorted(latest.items()) if (self.current, part) not in self.tapped]

    def tap(self, preview: dict) -> None:
        part = _part(preview)
        label = "1" if part == 1 else "✨"
        data = next(d for text, d in buttons_of(preview) if text == label or text.startswith(label))
        self.emu.press_button(self.chat, self.user, preview["message_id"], data)
        self.tapped[(self.current, part)] = time.monotonic()

    def step(self, sending: bool, tapping: bool = True) -> None:
        for preview in self.untapped() if tapping else ():
            self.tap(preview)
        if self.chat["type"] != "private" and not self.emu.bot_messages(self.chat["id"]):
            return  # the group's songs wait until the bot has answered /mode vote
        if sending and (self.current is None or self.finished(self.current)):
            self.send_next()


def _stages(data_dir: Path, singers: list[Singer]) -> dict[str, str]:
    """Each open session's stage, by its song name, read from the bot's database."""
    rows = query(data_dir, """SELECT s.song_name, s.status, s.mode,
                                     (SELECT group_concat(kind || ':' || status) FROM jobs j WHERE j.session_id = s.id
                                      AND j.status IN ('queued', 'running')),
                                     (SELECT COUNT(*) FROM session_segments g WHERE g.session_id = s.id
                                      AND g.status = 'offered')
                              FROM sessions s WHERE s.status NOT IN ('done', 'cancelled', 'failed')""")
    recent_taps = {song for s in singers for (song, _), at in s.tapped.items() if time.monotonic() - at < 1.0}
    out = {}
    for song, status, mode, jobs, offered in rows:
        jobs = jobs or ""
        if status == "queued":
            stage = "queued"
        elif status == "analysing":
            stage = "analysis"
        elif status == "rendering":
            stage = "render"
        elif status == "delivering":
            stage = "upload"
        elif song in recent_taps:
            stage = "pick (tapped < 1 s before)"
        elif "offer" in jobs:
            stage = "offer"
        elif "auto" in jobs:
            stage = "pick"
        elif offered and mode == "vote":
            stage = "vote"
        elif offered:
            stage = "pick"
        else:
            stage = "offer"
        out[song] = stage
    return out


def _jobs_done(data_dir: Path) -> int:
    return query(data_dir, "SELECT COUNT(*) FROM jobs WHERE status IN ('done', 'failed')")[0][0]


async def _aim(target: str, singers: list[Singer], data_dir: Path, rng: random.Random) -> bool:
    """Drive the users until some session is at ``target`` (for "pick": a tap was just made), and
    wait a random moment into it; False when no session got there within ``STAGE_WAIT``."""
    give_up_at = time.monotonic() + STAGE_WAIT
    while time.monotonic() < give_up_at:
        for singer in singers:
            singer.step(sending=True, tapping=target != "pick")
        if target == "pick":
            waiting = [(s, p) for s in singers for p in s.untapped()]
            if waiting:
                waiting[0][0].tap(waiting[0][1])
                await asyncio.sleep(rng.uniform(0.05, 0.5))
                return True
        elif target in _stages(data_dir, singers).values():
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            return True
        await asyncio.sleep(0.02)
    return False


def _ready(emu, since: float) -> bool:
    """The new process starts polling for updates (its start-up is over)."""
    return any(r["method"] == "deleteWebhook" and r["time"] >= since for r in emu.requests[-300:])


def test_kill9_at_random_points(data_dir, tmp_path, output_dir):
    rng = random.Random(12)
    songs = _songs(tmp_path)
    log = tmp_path / "bot.log"
    env = {"CHOREO_VOTE_TIMEOUT_SECONDS": "2", "CHOREO_JOB_ATTEMPTS": "12"}
    kills: list[dict] = []

    async def scenario():
        with TelegramEmulator() as emu:
            users = [emu.make_user(f"K{i}", f"k{i}") for i in range(PRIVATE_USERS + 1)]
            singers = [Singer(emu, emu.make_private_chat(u), u, songs, f"k{i}", taps=True)
                       for i, u in enumerate(users[:PRIVATE_USERS])]
            group = emu.make_group("Kill crew", users[PRIVATE_USERS:], admins=users[PRIVATE_USERS:])
            emu.send_text(group, users[PRIVATE_USERS], "/mode vote")
            singers.append(Singer(emu, group, users[PRIVATE_USERS], songs, "grp", taps=False))
            proc = start_bot_process(emu, data_dir, log, **env)
            started = time.time()
            try:
                aims = 0
                while len(kills) < KILLS:
                    while not _ready(emu, started):
                        assert proc.poll() is None, f"the bot did not start: see {log}"
                        assert time.time() - started < 120, "the bot took over 2 minutes to start"
                        await asyncio.sleep(0.05)
                    # progress first (some job finishes after the restart), so every kill meets new work
                    done_before = _jobs_done(data_dir)
                    progress_by = time.monotonic() + PROGRESS_TIMEOUT
                    while _jobs_done(data_dir) == done_before:
                        assert time.monotonic() < progress_by, f"no job finished in {PROGRESS_TIMEOUT} s"
                        for singer in singers:
                            singer.step(sending=True)
                        await asyncio.sleep(0.05)
                    # then a kill aimed at one stage in turn, once some session is there (a stage not
                    # met within STAGE_WAIT is skipped for this round)
                    while True:
                        target = TARGETS[aims % len(TARGETS)]
                        aims += 1
                        if await _aim(target, singers, data_dir, rng):
                            break
                    stages = _stages(data_dir, singers)
                    kill_group(proc)
                    kills.append({"target": target, "at": round(time.time() - started, 1), "stages": stages})
                    proc = start_bot_process(emu, data_dir, log, **env)
                    started = time.time()
                # no more kills, no more songs: everything sent must finish
                deadline = time.monotonic() + SETTLE_TIMEOUT
                while not all(s.finished(song) for s in singers for song in s.sent) and time.monotonic() < deadline:
                    for singer in singers:
                        singer.step(sending=False)
                    await asyncio.sleep(0.1)
                await asyncio.sleep(2.0)  # a duplicate final or preview would come now
                # work made ahead after the last pick (a final's pieces) may still be running: the
                # bot is judged once its jobs and updates settle, not killed mid-job by the test
                settle = time.monotonic() + 60
                while time.monotonic() < settle and any(_open_work(data_dir)):
                    await asyncio.sleep(0.2)
                return singers, list(emu.violations)
            finally:
                kill_group(proc)

    singers, violations = asyncio.run(scenario())
    assert violations == []  # a tap answered before a kill is never replayed (nor answered twice)

    stuck = _stages(data_dir, singers)  # sessions still open after the settling time
    outcome: dict[str, str] = {}
    for singer in singers:
        for song in singer.sent:
            finals = len(_finals(singer.emu, singer.chat["id"], song))
            previews = Counter(_part(m) for m in _previews(singer.emu, singer.chat["id"], song))
            problems = []
            if finals != 1:
                problems.append(f"{finals} finals")
            if previews and max(previews.values()) > 2:
                problems.append(f"previews {dict(previews)}")
            if finals == 0 and song in stuck:
                problems = [f"stuck at {stuck[song]}"]
            outcome[song] = "; ".join(problems) or "ok"
    picks = defaultdict(list)
    for song, idx, rank, source in query(data_dir, """SELECT s.song_name, p.idx, p.rank, p.source FROM picks p
                                                      JOIN sessions s ON s.id = p.session_id ORDER BY p.id"""):
        picks[song].append((idx, rank, source))
    for singer in singers:
        for song in singer.sent:
            got = picks[song]
            if singer.taps:  # part 1: the tapped 1; the rest: the auto path
                ok = got[:1] == [(0, 1, "user")] and all(s == "auto" for _, _, s in got[1:])
            else:  # a vote nobody voted in closes at its deadline on rank 1
                ok = bool(got) and all(r == 1 and s == "vote" for _, r, s in got)
            if not ok or [i for i, _, _ in got] != list(range(len(got))):
                outcome[song] = f"picks {got}" if outcome[song] == "ok" else f"{outcome[song]}; picks {got}"
    statuses = Counter(r[0] for r in query(data_dir, "SELECT status FROM sessions"))
    unfinished, unhandled = _open_work(data_dir)

    # per stage: kills that met a session there, sessions met there, and how many of those ended well
    table: dict[str, dict[str, int]] = defaultdict(lambda: {"kills": 0, "sessions": 0, "ok": 0})
    for kill in kills:
        for stage in set(kill["stages"].values()):
            table[stage]["kills"] += 1
        for song, stage in kill["stages"].items():
            table[stage]["sessions"] += 1
            table[stage]["ok"] += outcome.get(song) == "ok"
    report = {"kills": len(kills), "songs": len(outcome), "table": dict(table), "outcome": outcome,
              "statuses": dict(statuses), "kill_log": kills}
    (output_dir / "kill9.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("kills", "songs", "table", "statuses")}, indent=1))

    assert len(kills) == KILLS
    assert {k: v for k, v in outcome.items() if v != "ok"} == {}
    assert statuses == {"done": len(outcome)}
    assert unfinished == 0 and unhandled == 0
    # the kills really met the stages of a session's life
    assert {"analysis", "offer", "pick (tapped < 1 s before)", "render", "vote"} <= set(table), dict(table)


def _open_work(data_dir) -> tuple[int, int]:
    """Jobs not finished and updates not handled: (0, 0) once the bot has nothing left to do."""
    return (query(data_dir, "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('done', 'failed')")[0][0],
            query(data_dir, "SELECT COUNT(*) FROM updates WHERE done_at IS NULL")[0][0])
