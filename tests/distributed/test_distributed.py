"""Choreo past one machine (issue 13, item 6): the bot and two ``choreo worker`` Celery workers as
separate processes over a real Redis, each in a working directory of its own, only the media root
shared, against the Bot API emulator; the database a real PostgreSQL (the library's rows copied
from the test library's SQLite).

- 12 short songs from 6 users in ``/mode auto``: all finish, each dance delivered once; meanwhile one
  worker is SIGKILLed (its whole process group) while it renders: Redis hands the render to the
  other worker after the visibility timeout, and that dance too is delivered once.
- the bot SIGKILLed and restarted mid-session: the session resumes and the buttons sent before work.
- a library change noticed by the running workers; Celery's own ``celery inspect ping`` answers.
- PostgreSQL restarted while idle: the bot and the workers reconnect by themselves.
- a private chat choosing its parts by hand, on PostgreSQL and on SQLite (a file in the media root).

The database is chosen by :func:`database` (module-scoped, one cluster per database).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.localcluster import start_worker, wait_worker_ready
from bot.sandbox.emulator import TelegramEmulator
from tests.support.botkit import button, copy_library, previews, wait
from storage.db import bind
from storage.db import database_url as url_of
from tests.support.botproc import kill_group, start_bot_process
from tests.support.data import PROJECT_ROOT, ffmpeg, shared
from tests.support.postgres import copy_sqlite_into
from tests.support.redis_server import redis_server  # noqa: F401 - the session fixture

SONG_SECONDS = 9  # two 8-beat parts
LONG_SONG_SECONDS = 40  # one song long enough that its render is caught running, to kill its worker
TRACKS = [("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"), ("music", "xmoto", "speeditup.ogg"),
          ("music", "hyperrogue", "hr3-desert.ogg")]
USERS, SONGS_EACH = 6, 2
# short enough for the test's budget, long enough for a render on two busy cores; Redis hands a dead
# worker's task on after VISIBILITY seconds (kombu looks every VISIBILITY // 6 s)
TIME_LIMIT, VISIBILITY = 45, 50
START_TIMEOUT = 120.0
SETTLE_TIMEOUT = 150.0



@pytest.fixture(scope="module", params=["postgresql"])
def database(request) -> str:
    """The kind of database of this module's cluster; a test may ask for others (``indirect``)."""
    return request.param


@pytest.fixture(scope="module")
def media(database, library_dir, tmp_path_factory) -> Path:
    """The shared media root: the library (its database, poses and videos) and every session's files."""
    return copy_library(library_dir, tmp_path_factory.mktemp(f"distributed-{database}") / "media")


@pytest.fixture(scope="module")
def database_url(database, media, request) -> str:
    """SQLite: the file in the media root, which every process opens. PostgreSQL: a fresh database
    on the test run's server holding the library's rows; the SQLite copy is removed, so nothing
    can read it by mistake."""
    if database == "sqlite":
        return str(media / "choreo.db")
    url = request.getfixturevalue("postgres_server").create_database()
    asyncio.run(copy_sqlite_into(media / "choreo.db", url, media))
    (media / "choreo.db").unlink()
    return url


def read_rows(target: str, sql: str, params: tuple = ()) -> list[tuple]:
    """A read of the cluster's database from outside its processes (``?`` placeholders): a
    connection of its own, on a loop of its own in a thread (callers may be inside a loop)."""
    async def read() -> list[tuple]:
        engine = create_async_engine(url_of(target), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in await conn.execute(*bind(sql, params))]
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, read()).result()


@dataclass
class Cluster:
    emu: TelegramEmulator
    media: Path
    home: Path
    env: dict[str, str]
    bot: subprocess.Popen | None = None
    bot_started: float = 0.0
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start_worker(self, name: str) -> subprocess.Popen:
        self.workers[name] = start_worker(self.home / name, name, self.env)
        return self.workers[name]

    def worker_log(self, name: str) -> str:
        return (self.home / name / "worker.log").read_text(errors="replace")

    async def worker_ready(self, name: str) -> None:
        await asyncio.to_thread(wait_worker_ready, self.workers[name], self.home / name, START_TIMEOUT)

    def start_bot(self) -> None:
        folder = self.home / "bot"
        folder.mkdir(parents=True, exist_ok=True)
        self.bot_started = time.time()
        self.bot = start_bot_process(self.emu, folder / "data", folder / "bot.log", cwd=folder,
                                     **{**self.env, "CHOREO_WORKERS": "4"})

    async def bot_ready(self) -> None:
        """The bot polls for updates (its start-up is over)."""
        deadline = time.monotonic() + START_TIMEOUT
        while not any(r["method"] == "deleteWebhook" and r["time"] >= self.bot_started for r in self.emu.requests[-300:]):
            assert self.bot.poll() is None, f"the bot ended: see {self.home / 'bot' / 'bot.log'}"
            assert time.monotonic() < deadline, f"the bot did not start in {START_TIMEOUT} s"
            await asyncio.sleep(0.1)

    def celery(self):
        """A Celery app on the cluster's broker (to ask the workers what they run)."""
        from bot.config import BotSettings
        from bot.tasks import celery_app

        return celery_app(dataclasses.replace(
            BotSettings.from_env(), broker_url=self.env["CHOREO_BROKER_URL"], task_time_limit_seconds=TIME_LIMIT,
            broker_visibility_timeout_seconds=VISIBILITY))

    def engine_settings(self):
        """Engine settings on the cluster's media root and database (for admin commands run here)."""
        from choreo_engine.settings import Settings

        return dataclasses.replace(Settings.from_env(), data_dir=self.media, media_root=self.media,
                                   database_url=self.env["CHOREO_DATABASE_URL"])

    def sessions(self, sql: str, params: tuple = ()) -> list[tuple]:
        return read_rows(self.env["CHOREO_DATABASE_URL"], sql, params)

    def celery_tool(self, *args: str) -> str:
        """Celery's own command line (``celery -A bot.tasks:app …``) on the cluster's broker."""
        celery = Path(sys.executable).with_name("celery")
        done = subprocess.run([str(celery), "-A", "bot.tasks:app", *args], capture_output=True, text=True,
                              timeout=60, cwd=self.home, env={**os.environ, **self.env,
                                                              "PYTHONPATH": str(PROJECT_ROOT)})
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def cluster(media, database_url, redis_server, tmp_path_factory):  # noqa: F811 - the fixture above
    env = {"CHOREO_BROKER_URL": redis_server.url(1), "CHOREO_MEDIA_DIR": str(media),
           "CHOREO_DATABASE_URL": database_url, "CHOREO_TASK_TIME_LIMIT": str(TIME_LIMIT),
           "CHOREO_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY)}
    with TelegramEmulator() as emu:
        cluster = Cluster(emu, media, tmp_path_factory.mktemp("machines"), env)
        try:
            cluster.start_worker("w1")
            cluster.start_worker("w2")
            cluster.start_bot()
            yield cluster
        finally:
            for proc in [cluster.bot, *cluster.workers.values()]:
                if proc is not None:
                    kill_group(proc)


def _song(tmp: Path, track: tuple[str, ...], start: int, seconds: float = SONG_SECONDS) -> Path:
    path = tmp / f"{Path(track[-1]).stem[:12]}-{start}.mp3"
    ffmpeg("-ss", str(start), "-t", str(seconds), "-i", str(shared(*track)), "-map_metadata", "-1",
           "-c:a", "libmp3lame", str(path))
    return path


def _songs(tmp: Path) -> list[Path]:
    return [_song(tmp, track, start) for track in TRACKS for start in (20, 40)]


def _finals(emu, chat_id: int, song: str | None = None) -> list[dict]:
    return [m for m in emu.bot_messages(chat_id) if m["kind"] == "video" and "dance for" in (m.get("caption") or "")
            and (song is None or song in m["caption"])]


def _render_running(cluster: Cluster, inspect) -> tuple[str, str] | None:
    """(worker name, task id) of a render running on a worker now, if any: a final's pieces or
    their join. The long song's is preferred: it runs longest, so a kill is likeliest to land
    while it runs."""
    if not cluster.sessions("SELECT 1 FROM sessions WHERE status = 'rendering'"):
        return None
    found = []
    for hostname, tasks in (inspect.active(safe=True) or {}).items():
        for task in tasks:
            args = str(task.get("args"))
            duration = re.search(r"'duration': ([0-9.]+)", args)
            if ("render_pieces" in args or "render_result" in args) and duration:
                found.append((float(duration.group(1)), hostname.split("-")[0], task["id"]))
    return max(found)[1:] if found else None


def test_twelve_songs_on_two_workers_one_killed_mid_render(cluster, tmp_path, output_dir):
    songs = _songs(tmp_path)
    long_song = _song(tmp_path, TRACKS[1], 10, seconds=LONG_SONG_SECONDS)
    emu = cluster.emu
    app = cluster.celery()

    async def scenario():
        await asyncio.gather(cluster.worker_ready("w1"), cluster.worker_ready("w2"), cluster.bot_ready())
        chats = []
        for i in range(USERS):
            user = emu.make_user(f"D{i}", f"d{i}")
            chat = emu.make_private_chat(user)
            emu.send_text(chat, user, "/mode auto")
            chats.append((chat, user))
        await wait(emu, lambda e: all(e.bot_messages(c["id"]) for c, _ in chats), 30)
        sent = []
        for i, (chat, user) in enumerate(chats):
            for k in range(SONGS_EACH):
                name = f"d{i}-song{k + 1}.mp3"
                song = long_song if (i, k) == (0, 0) else songs[(i + k) % len(songs)]
                emu.send_file(chat, user, song, kind="document", mime_type="audio/mpeg", file_name=name)
                sent.append((chat["id"], name))
        killed, missed_kills = None, 0
        deadline = time.monotonic() + SETTLE_TIMEOUT
        inspect = app.control.inspect(timeout=0.5)
        while not all(_finals(emu, chat_id, name) for chat_id, name in sent):
            assert time.monotonic() < deadline, \
                f"not all songs finished: {[n for c, n in sent if not _finals(emu, c, n)]}"
            if killed is None:
                found = await asyncio.to_thread(_render_running, cluster, inspect)
                if found is not None:
                    kill_group(cluster.workers[found[0]])
                    if f"Task choreo.engine[{found[1]}] succeeded" in cluster.worker_log(found[0]):
                        # renders are made in pieces of a second or two: this one ended before the
                        # kill landed; the worker comes back and the next render is caught instead
                        cluster.start_worker(found[0])
                        await cluster.worker_ready(found[0])
                        missed_kills += 1
                    else:
                        killed = (*found, time.monotonic())
            await asyncio.sleep(0.2)
        finished = time.monotonic()
        await asyncio.sleep(2.0)  # a second delivery would come now
        return sent, killed, finished, missed_kills

    sent, killed, finished, missed_kills = asyncio.run(scenario())
    assert killed is not None, "no render was caught running to kill its worker"
    dead, task_id, killed_at = killed
    survivor = "w2" if dead == "w1" else "w1"
    # every song: one dance, delivered once; every session done
    assert {name: len(_finals(cluster.emu, chat_id, name)) for chat_id, name in sent} == {n: 1 for _, n in sent}
    assert cluster.sessions("SELECT status, COUNT(*) FROM sessions GROUP BY status") == [("done", USERS * SONGS_EACH)]
    # every file a session has is under the media root; no process kept one in its own directory
    paths = [p for (p,) in cluster.sessions("""SELECT song_path FROM sessions UNION ALL SELECT video_path FROM results
                                                UNION ALL SELECT sheet_path FROM results
                                                UNION ALL SELECT video_path FROM dance_versions""") if p]
    assert len(paths) >= 4 * USERS * SONGS_EACH and all(Path(p).is_relative_to(cluster.media) for p in paths)
    assert [p for p in cluster.home.rglob("*") if p.suffix in (".mp3", ".mp4", ".png") or p.name == "sessions"] == []
    # the render of the dead worker finished on the other one
    assert re.search(rf"Task choreo\.engine\[{task_id}\] succeeded", cluster.worker_log(survivor)), \
        f"task {task_id} did not finish on {survivor}"
    assert f"Task choreo.engine[{task_id}] succeeded" not in cluster.worker_log(dead)
    print(f"worker {dead} killed mid-render; task {task_id} finished on {survivor}; "
          f"all songs done {finished - killed_at:.0f} s after the kill ({missed_kills} kill(s) landed after a render ended)")
    cluster.start_worker(dead)  # back for the next test: a worker may join at any time


def test_bot_killed_mid_session_resumes(cluster, tmp_path):
    emu = cluster.emu
    song = _song(tmp_path, TRACKS[1], 20, seconds=16)  # two parts at least: a tap on each

    async def scenario():
        await cluster.bot_ready()
        user = emu.make_user("Resume", "resume")
        chat = emu.make_private_chat(user)
        emu.send_file(chat, user, song, kind="document", mime_type="audio/mpeg", file_name="resume.mp3")
        await wait(emu, lambda e: [m for m in previews(e, chat["id"]) if m.get("reply_markup")], 90)
        first = previews(emu, chat["id"])[0]
        kill_group(cluster.bot)
        cluster.start_bot()
        await cluster.bot_ready()
        emu.press_button(chat, user, first["message_id"], button(first, "1"))  # a button sent by the killed bot
        await wait(emu, lambda e: [m for m in previews(e, chat["id"]) if m.get("reply_markup")
                                   and m["message_id"] != first["message_id"]], 90)
        second = [m for m in previews(emu, chat["id"]) if m["message_id"] != first["message_id"]][-1]
        emu.press_button(chat, user, second["message_id"], button(second, "✨"))
        await wait(emu, lambda e: _finals(e, chat["id"]), 90)
        await asyncio.sleep(2.0)  # a second delivery would come now
        return chat

    chat = asyncio.run(scenario())
    assert len(_finals(emu, chat["id"], "resume")) == 1
    picks = cluster.sessions("""SELECT p.idx, p.rank, p.source FROM picks p JOIN sessions s ON s.id = p.session_id
                                WHERE s.song_name = 'resume.mp3' ORDER BY p.idx""")
    assert picks[0] == (0, 1, "user") and all(source == "auto" for _, _, source in picks[1:]), picks


def test_workers_notice_a_library_change_without_a_restart(cluster, tmp_path):
    """A clip removed from the library (its version in the database moves) while the workers run:
    the next dance leaves it out, danced by the same worker processes, with the index refitted."""
    from bot.admin.library import remove_clip

    emu = cluster.emu
    song = _song(tmp_path, TRACKS[2], 20, seconds=16)
    pids = {name: proc.pid for name, proc in cluster.workers.items()}
    user = emu.make_user("Lib", "lib")
    chat = emu.make_private_chat(user)
    clip_of_segment = dict(cluster.sessions("SELECT id, clip_id FROM library_segments"))

    def clips_danced(name: str) -> list[int]:
        rows = cluster.sessions("""SELECT p.library_segment_id FROM picks p JOIN sessions s ON s.id = p.session_id
                                   WHERE s.song_name = ? ORDER BY p.idx""", (name,))
        return [clip_of_segment[segment_id] for (segment_id,) in rows]

    async def dance(name: str) -> None:
        emu.send_file(chat, user, song, kind="document", mime_type="audio/mpeg", file_name=name)
        await wait(emu, lambda e: _finals(e, chat["id"], name), 90)

    async def scenario():
        await cluster.bot_ready()
        emu.send_text(chat, user, "/mode auto")
        await wait(emu, lambda e: e.bot_messages(chat["id"]), 30)
        await dance("before.mp3")
        removed = clips_danced("before.mp3")[0]
        assert await remove_clip(str(removed), cluster.engine_settings()) is not None
        await dance("after.mp3")
        return removed

    removed = asyncio.run(scenario())
    # Celery's own tool sees both workers (bot.tasks:app built from CHOREO_BROKER_URL)
    answered = cluster.celery_tool("inspect", "ping", "--timeout", "5")
    assert all(re.search(rf"{name}-\d+@\S+: OK\s+pong", answered) for name in cluster.workers), answered
    version = int(cluster.sessions("SELECT value FROM meta WHERE key = 'library_version'")[0][0])
    assert removed in clips_danced("before.mp3") and removed not in clips_danced("after.mp3")
    assert {name: proc.pid for name, proc in cluster.workers.items() if proc.poll() is None} == pids
    refitted = [p for p in cluster.home.glob("w*/data/index/*.pkl") if f"-v{version}-" in p.name]
    assert refitted, f"no worker refitted its index for library version {version}"


async def _choose_by_hand(cluster: Cluster, who: str, song: Path, rank: int) -> tuple[dict, int]:
    """A private chat: send ``who``.mp3, tap candidate ``rank`` on every part's preview, until the
    final dance comes; the chat and the number of parts chosen."""
    emu = cluster.emu
    user = emu.make_user(who.title(), who)
    chat = emu.make_private_chat(user)
    name = f"{who}.mp3"
    emu.send_file(chat, user, song, kind="document", mime_type="audio/mpeg", file_name=name)
    picked = 0
    while True:
        await wait(emu, lambda e: len(previews(e, chat["id"])) > picked or _finals(e, chat["id"], name), 90)
        if _finals(emu, chat["id"], name):
            break
        offer = previews(emu, chat["id"])[picked]
        emu.press_button(chat, user, offer["message_id"], button(offer, str(rank)))
        picked += 1
    await asyncio.sleep(2.0)  # a second delivery would come now
    return chat, picked


def _assert_chosen_by_hand(cluster: Cluster, chat: dict, who: str, picked: int, rank: int) -> None:
    assert picked >= 2 and len(_finals(cluster.emu, chat["id"], f"{who}.mp3")) == 1
    assert cluster.sessions("SELECT status, n_segments FROM sessions WHERE song_name = ?", (f"{who}.mp3",)) \
        == [("done", picked)]
    picks = cluster.sessions("""SELECT p.rank, p.source FROM picks p JOIN sessions s ON s.id = p.session_id
                                WHERE s.song_name = ? ORDER BY p.idx""", (f"{who}.mp3",))
    assert picks == [(rank, "user")] * picked


def test_postgresql_restarted_while_idle(cluster, postgres_server, tmp_path):
    """Every connection the bot and the workers hold is cut (stop, start on the same port and
    data); the next song goes through to its dance with no process restarted."""
    song = _song(tmp_path, TRACKS[0], 40)
    pids = {name: proc.pid for name, proc in [("bot", cluster.bot), *cluster.workers.items()]}

    async def scenario():
        await cluster.bot_ready()
        idle = "SELECT COUNT(*) FROM sessions WHERE status NOT IN ('done', 'cancelled', 'failed')"
        assert cluster.sessions(idle) == [(0,)]
        postgres_server.restart()  # the song comes at once, before the bot's loops find their connections dead
        return await _choose_by_hand(cluster, "afterrestart", song, 3)

    chat, picked = asyncio.run(scenario())
    _assert_chosen_by_hand(cluster, chat, "afterrestart", picked, 3)
    alive = {name: proc.pid for name, proc in [("bot", cluster.bot), *cluster.workers.items()] if proc.poll() is None}
    assert alive == pids, "a process ended or was replaced"


@pytest.mark.parametrize("database", ["postgresql", "sqlite"], indirect=True)
def test_private_chat_choosing_by_hand(cluster, database, tmp_path):
    """The same flow on either database (on SQLite, every process opens the file in the media root)."""
    song = _song(tmp_path, TRACKS[1], 40)

    async def scenario():
        await asyncio.gather(cluster.worker_ready("w1"), cluster.worker_ready("w2"), cluster.bot_ready())
        return await _choose_by_hand(cluster, f"byhand{database}", song, 2)

    chat, picked = asyncio.run(scenario())
    _assert_chosen_by_hand(cluster, chat, f"byhand{database}", picked, 2)
