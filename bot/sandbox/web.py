"""Try Choreo without Telegram: a chat page in the browser, on the bot's real code.

``choreo sandbox`` (and ``make run`` without a token) starts three things in one process:

* the Bot API emulator (:class:`~bot.sandbox.emulator.TelegramEmulator`) on a free port of
  127.0.0.1, with one user (Ann), her private chat with the bot, and a group "Dance crew"
  (Ann, the owner, and Bo);
* the **unchanged** bot (:func:`bot.app.build_application`) polling that emulator, on an asyncio
  loop of its own in the thread ``sandbox-bot``;
* a small web server (standard library :class:`~http.server.ThreadingHTTPServer`, thread
  ``sandbox-web`` plus one thread per request) serving the chat page in ``static/``.

Threads and data flow::

    browser ──POST /api/...──▶ web request thread ──send_text/send_file/press_button──▶ emulator
                                                                                        │ getUpdates
    bot loop (thread "sandbox-bot") ◀───────────────────────────────────────────────────┘
       │ sendVideo / editMessage* / answerCallbackQuery ...
       ▼
    emulator request thread ──on_event──▶ EventHub ──queue per page──▶ SSE thread ──▶ EventSource

Every change the bot makes reaches the page through the emulator's ``on_event`` hook as a
Server-Sent Event. Message events carry the message's *current* state and a version (its
number of edits; deletion wins), so a page that gets two of them out of order keeps the newest.
A page that (re)connects first gets a snapshot of every chat.

Files (songs, previews, the final video, the sheet) are served from the emulator's stored
bytes at ``/file/<file_id>``, with HTTP range requests so ``<video>`` can stream and seek.

Only 127.0.0.1 by default. The page's POSTs need an ``X-Choreo-Sandbox`` header (a form on
another site cannot send one), and on a loopback address the ``Host`` header must be loopback
too (no DNS rebinding). Uploads are limited to 20 MB, as Telegram's Bot API download limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import mimetypes
import queue
import re
import signal
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .emulator import TelegramEmulator

__all__ = ["BUNDLED_SONGS", "MAX_UPLOAD_BYTES", "Sandbox", "run_sandbox"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024  # Telegram: bots download files up to 20 MB
# An open-ended range request ("bytes=0-", what <video> sends) gets at most this much per
# answer, so a paused video never holds a connection (the browser allows six per host).
RANGE_CHUNK = 1024 * 1024
SSE_PING_SECONDS = 15.0
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


# --------------------------------------------------------------------------- bundled songs


@dataclass(frozen=True)
class BundledSong:
    key: str
    title: str
    style: str
    tempo: float
    music_key: str
    n_beats: int
    seed: int

    @property
    def seconds(self) -> float:
        return self.n_beats * 60.0 / self.tempo

    @property
    def file_name(self) -> str:
        return f"{self.title}.ogg"


# Short songs (about 20 s: five or six 8-beat parts), synthesized on first use. Seeds differ
# from the starter library's, so none of them is a song the library already holds.
BUNDLED_SONGS: tuple[BundledSong, ...] = (
    BundledSong("sunny-pop", "Sunny Pop", "pop", 118.0, "D major", 40, 80_001),
    BundledSong("night-house", "Night House", "house", 124.0, "A minor", 40, 80_002),
    BundledSong("funk-walk", "Funk Walk", "funk", 104.0, "E minor", 36, 80_003),
    BundledSong("reggae-sun", "Reggae Sunrise", "reggae", 96.0, "G major", 32, 80_004),
)


class SongShelf:
    """The bundled songs as OGG files under ``<data dir>/sandbox/songs`` (made once, then cached)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def get(self, key: str) -> BundledSong:
        for song in BUNDLED_SONGS:
            if song.key == key:
                return song
        raise KeyError(key)

    def path(self, key: str) -> Path:
        song = self.get(key)
        path = self.folder / f"{song.key}.ogg"
        with self._lock:
            if not path.exists():
                import soundfile as sf

                from choreo_engine.starter import synth

                made = synth.synthesize_song(song.style, tempo=song.tempo, key=song.music_key,
                                             n_beats=song.n_beats, seed=song.seed)
                self.folder.mkdir(parents=True, exist_ok=True)
                buf = io.BytesIO()
                sf.write(buf, made.y, made.sr, format="OGG", subtype="VORBIS")
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(buf.getvalue())
                tmp.replace(path)
        return path

    def prepare_all(self) -> None:
        for song in BUNDLED_SONGS:
            try:
                self.path(song.key)
            except Exception:  # the page makes it again on demand and reports the error there
                log.exception("could not synthesize the bundled song %s", song.key)


# --------------------------------------------------------------------------- events


class EventHub:
    """Fans the emulator's events out to every connected page (one queue per EventSource)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[queue.Queue] = set()
        self._seq = 0
        self.closed = False

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self._lock:
            self._subscribers.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._subscribers.discard(q)

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            event = {**event, "seq": self._seq}
            for q in self._subscribers:
                q.put(event)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for q in self._subscribers:
                q.put(None)


_MEDIA_KINDS = ("video", "animation", "audio", "voice", "video_note", "document", "sticker")


def client_message(view: dict[str, Any]) -> dict[str, Any]:
    """What the page needs of one message (the emulator's view, without bulky history)."""
    sender = view.get("from") or {}
    out: dict[str, Any] = {
        "message_id": view["message_id"],
        "chat_id": view["chat"]["id"],
        "from": {"id": sender.get("id"), "first_name": sender.get("first_name"), "is_bot": sender.get("is_bot", False)},
        "date": view.get("date"),
        "edit_date": view.get("edit_date"),
        "kind": view["kind"],
        "by_bot": view["by_bot"],
        "deleted": view["deleted"],
        "file_id": view.get("file_id"),
        "text": view.get("text"),
        "entities": view.get("entities") or [],
        "caption": view.get("caption"),
        "caption_entities": view.get("caption_entities") or [],
        "reply_markup": view.get("reply_markup"),
        # A message only ever moves forward: more edits, then maybe deleted.
        "version": len(view.get("edit_history") or []) + (1_000_000 if view["deleted"] else 0),
    }
    kind = view["kind"]
    if kind == "photo" and view.get("photo"):
        biggest = max(view["photo"], key=lambda p: p.get("width", 0) * p.get("height", 0))
        out["media"] = {k: biggest.get(k) for k in ("width", "height", "file_size")}
    elif kind in _MEDIA_KINDS and isinstance(view.get(kind), dict):
        media = view[kind]
        out["media"] = {k: media.get(k) for k in ("width", "height", "duration", "file_name", "mime_type",
                                                  "file_size", "title", "performer") if media.get(k) is not None}
    reply = view.get("reply_to_message")
    if reply:
        out["reply_to"] = {
            "message_id": reply.get("message_id"),
            "from": (reply.get("from") or {}).get("first_name"),
            "text": reply.get("text") or reply.get("caption") or _describe_media(reply),
        }
    return out


def _describe_media(message: dict[str, Any]) -> str:
    for kind, label in (("audio", "🎵 Audio"), ("voice", "🎤 Voice message"), ("video", "🎬 Video"),
                        ("photo", "🖼 Photo"), ("document", "📄 File"), ("sticker", "Sticker")):
        if message.get(kind):
            media = message[kind]
            name = media.get("file_name") if isinstance(media, dict) else None
            return f"{label}: {name}" if name else label
    return ""


def _sniff_type(data: bytes) -> str:
    head = data[:16]
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:11] == b"M4A" else "video/mp4"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    return "application/octet-stream"


def upload_kind(mime_type: str) -> str:
    """How the page sends a file: as Telegram would for an audio / a video, else as a document."""
    mime = (mime_type or "").lower()
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    return "document"


# --------------------------------------------------------------------------- the bot's database

# The emulator's file ids: "<kind>-<6 hex digits>-<5 digits>" (Telegram's own are 50+ characters).
_EMULATOR_FILE_ID = "[a-z]*-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9][0-9][0-9][0-9][0-9]"


async def forget_sandbox_run(db_path: Path, chat_ids: list[int]) -> tuple[int, int]:
    """What the bot remembers of a sandbox run that no emulator will know again.

    The emulator's chats start empty on every run (same chat ids, message ids from 1), and its
    file ids die with it. So, before the bot starts and after it stops: the sandbox chats' open
    sessions end (they would edit messages that no longer exist, or worse, new ones with the
    same ids), and the file cache forgets the emulator's file ids (the bot would re-send a
    video by an id no server knows; `choreo bot` on the same data dir would send it to
    Telegram). Returns (sessions closed, cached file ids dropped).
    """
    from storage.db import Database
    from storage.files import FileCacheRepo
    from storage.sessions import SessionRepo

    db = await Database.open(db_path)
    try:
        repo = SessionRepo(db)
        closed = 0
        for chat_id in chat_ids:
            closed += await repo.close_chat(chat_id, "the sandbox stopped (its chats do not outlive it)")
        dropped = await FileCacheRepo(db).forget_file_ids(_EMULATOR_FILE_ID)
    finally:
        await db.close()
    return closed, dropped


# --------------------------------------------------------------------------- the bot


class BotRunner:
    """The real PTB application, started as ``choreo bot`` would, on its own loop and thread."""

    def __init__(self, settings, cleanup=None) -> None:
        self.settings = settings
        self.cleanup = cleanup  # a coroutine function run before the bot starts and after it stops
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.app = None

    def start(self, timeout: float = 180.0) -> None:
        self._thread = threading.Thread(target=self._main, name="sandbox-bot", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the bot did not start in {timeout:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"the bot could not start: {self._error!r}") from self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported to start(); after start, logged
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("the bot stopped with an error")
        finally:
            self._ready.set()

    async def _run(self) -> None:
        from bot.app import polling

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.cleanup is not None:
            await self.cleanup()
        try:
            async with polling(self.settings) as app:
                self.app = app
                self._ready.set()
                await self._stop.wait()
        finally:
            if self.cleanup is not None:
                await self.cleanup()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop is already closed
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    """Emulator + bot + web page. ``with Sandbox(settings, port=0) as sb: print(sb.url)``.

    ``settings`` is a :class:`bot.config.BotSettings` (its token and API URLs are replaced by
    the emulator's); ``None`` reads them from the environment like every other command.
    """

    def __init__(self, settings=None, host: str = "127.0.0.1", port: int = 8080) -> None:
        from bot.config import BotSettings

        self.base_settings = settings or BotSettings.from_env()
        self.host = host
        self.port = port
        self.hub = EventHub()
        self.emulator = TelegramEmulator(on_event=self._on_event, bot_first_name="Choreo",
                                         bot_username="choreo_sandbox_bot")
        self.songs = SongShelf(self.base_settings.engine.data_dir / "sandbox" / "songs")
        self.bot: BotRunner | None = None
        self.settings = None
        self._server: _WebServer | None = None
        self._thread: threading.Thread | None = None
        self._violations_seen = 0
        self._violations_lock = threading.Lock()

        emu = self.emulator
        self.ann = emu.make_user("Ann", "ann", "en")
        self.bo = emu.make_user("Bo", "bo", "en")
        self.private = emu.make_private_chat(self.ann)
        self.group = emu.make_group("Dance crew", [self.ann, self.bo], admins=[self.ann])

    # ---- lifecycle

    def start(self) -> Sandbox:
        self.emulator.start()
        self.settings = dataclasses.replace(self.base_settings, token=self.emulator.token,
                                            api_base_url=self.emulator.base_url,
                                            api_file_url=self.emulator.base_file_url)
        try:
            # Bind first: a busy port fails at once, before the bot's workers warm up.
            server = _WebServer((self.host, self.port), _Handler, self)
            self._server = server
            self.port = server.server_address[1]
            self.bot = BotRunner(self.settings, cleanup=self._forget_previous_run)
            self.bot.start()
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                            name="sandbox-web", daemon=True)
            self._thread.start()
        except BaseException:
            self.stop()
            raise
        threading.Thread(target=self.songs.prepare_all, name="sandbox-songs", daemon=True).start()
        return self

    def stop(self) -> None:
        self.hub.close()
        if self._server is not None:
            if self._thread is not None:  # shutdown() waits for a serve_forever() that must be running
                self._server.shutdown()
                self._thread.join(5)
                self._thread = None
            self._server.server_close()
            self._server = None
        if self.bot is not None:
            self.bot.stop()
            self.bot = None
        self.emulator.stop()
        self._report_violations()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # ---- events from the emulator (its request threads, without its lock)

    def _on_event(self, event: dict[str, Any]) -> None:
        self._report_violations()
        kind = event.get("type")
        if kind in ("message", "edit"):
            message = event["message"]
            try:  # the current state: a late event then carries news, never an old state
                message = self.emulator.message(message["chat"]["id"], message["message_id"])
            except (KeyError, ValueError):
                pass
            self.hub.publish({"type": "message", "chat_id": event["chat_id"], "message": client_message(message)})
        elif kind == "delete":
            self.hub.publish({"type": "delete", "chat_id": event["chat_id"], "message_id": event["message_id"]})
        elif kind == "callback_answer":
            self.hub.publish({"type": "callback_answer", "chat_id": event.get("chat_id"),
                              "user_id": event.get("user_id"), "text": event.get("text"),
                              "show_alert": bool(event.get("show_alert")), "data": event.get("data")})
        elif kind == "chat_action":
            self.hub.publish({"type": "chat_action", "chat_id": event["chat_id"], "action": event["action"]})
        elif kind == "member":
            self.hub.publish({"type": "member", "chat_id": event["chat_id"], "status": event["status"]})

    async def _forget_previous_run(self) -> None:
        closed, dropped = await forget_sandbox_run(self.base_settings.engine.db_path,
                                                   [self.private["id"], self.group["id"]])
        if closed or dropped:
            log.info("sandbox: closed %d open session(s), forgot %d emulator file id(s)", closed, dropped)

    def _report_violations(self) -> None:
        """Bad requests the bot made (the emulator checks each against the Bot API spec)."""
        violations = self.emulator.violations
        with self._violations_lock:
            new, self._violations_seen = violations[self._violations_seen:], len(violations)
        for v in new:
            log.warning("the bot made a request Telegram would refuse: %s", v)

    # ---- what the page sees and does

    def state(self) -> dict[str, Any]:
        def user(u: dict[str, Any]) -> dict[str, Any]:
            return {"id": u["id"], "first_name": u["first_name"], "username": u.get("username")}

        bot_user = self.emulator.bot_user
        return {
            "bot": {"id": bot_user["id"], "first_name": bot_user["first_name"], "username": bot_user["username"]},
            "users": [user(self.ann), user(self.bo)],
            "chats": {
                "private": {"id": self.private["id"], "title": bot_user["first_name"], "members": [self.ann["id"]]},
                "group": {"id": self.group["id"], "title": self.group["title"],
                          "members": [self.ann["id"], self.bo["id"]], "owner": self.ann["id"]},
            },
            "songs": [{"key": s.key, "title": s.title, "style": s.style, "tempo": s.tempo,
                       "seconds": round(s.seconds, 1)} for s in BUNDLED_SONGS],
            "max_upload_mb": MAX_UPLOAD_MB,
        }

    def snapshot(self) -> dict[str, Any]:
        chats = {}
        for chat in (self.private, self.group):
            chats[str(chat["id"])] = [client_message(m) for m in self.emulator.messages(chat["id"])
                                      if not m["deleted"]]
        return {"type": "snapshot", "state": self.state(), "messages": chats}

    def check_actor(self, chat_id: Any, user_id: Any) -> tuple[int, int]:
        """The (chat, user) pair a request acts as: only the sandbox's own people and chats."""
        try:
            chat_id, user_id = int(chat_id), int(user_id)
        except (TypeError, ValueError):
            raise ValueError("chat and user must be numbers") from None
        allowed = {(self.private["id"], self.ann["id"]), (self.group["id"], self.ann["id"]),
                   (self.group["id"], self.bo["id"])}
        if (chat_id, user_id) not in allowed:
            raise ValueError("unknown chat or user")
        return chat_id, user_id

    def file_bytes(self, file_id: str) -> bytes | None:
        try:
            return self.emulator.file_bytes(file_id)
        except KeyError:
            return None


# --------------------------------------------------------------------------- HTTP


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
                 ".ico": "image/x-icon", ".json": "application/json"}


class _Handler(BaseHTTPRequestHandler):
    server: _WebServer
    protocol_version = "HTTP/1.0"  # one request per connection: simple, and an SSE stream ends with it
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    # ---- plumbing

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8",
                   {"Cache-Control": "no-store"})

    def _host_ok(self) -> bool:
        """On a loopback address, only loopback Host headers (a rebound DNS name gets nothing)."""
        if self.sandbox.host not in _LOOPBACK_HOSTS:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in _LOOPBACK_HOSTS

    def do_HEAD(self) -> None:  # noqa: N802
        if urlsplit(self.path).path == "/events":
            self._json(405, {"error": "GET only"})
            return
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        if not self._host_ok():
            self._json(403, {"error": "wrong host"})
            return
        path = urlsplit(self.path).path
        try:
            if path == "/events":
                self._events()
            elif path.startswith("/file/"):
                self._file(unquote(path[len("/file/"):]))
            elif path == "/api/state":
                self._json(200, self.sandbox.state())
            elif path in ("/", "/index.html"):
                self._static("index.html")
            elif path.startswith("/static/"):
                self._static(path[len("/static/"):])
            elif path == "/favicon.ico":
                self._static("favicon.svg")
            else:
                self._json(404, {"error": "not found"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok():
            self._json(403, {"error": "wrong host"})
            return
        if self.headers.get("X-Choreo-Sandbox") != "1":
            self._json(403, {"error": "missing X-Choreo-Sandbox header"})
            return
        url = urlsplit(self.path)
        try:
            if url.path == "/api/upload":
                result = self._upload({k: v[-1] for k, v in parse_qs(url.query).items()})
            else:
                body = self._read_json()
                handler = {"/api/text": self._api_text, "/api/song": self._api_song,
                           "/api/press": self._api_press}.get(url.path)
                if handler is None:
                    raise _ClientError(404, "not found")
                result = handler(body)
            self._json(200, {"ok": True, **result})
        except _ClientError as exc:
            self._json(exc.status, {"ok": False, "error": exc.message})
        except ValueError as exc:
            self._json(400, {"ok": False, "error": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # the page shows it; the server keeps going
            log.exception("sandbox request %s failed", url.path)
            self._json(500, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            raise _ClientError(413, "request too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            raise _ClientError(400, f"bad JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _ClientError(400, "expected a JSON object")
        return body

    @staticmethod
    def _reply_to(value: Any) -> int | None:
        return int(value) if value not in (None, "", 0, "0") else None

    # ---- API

    def _api_text(self, body: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = self.sandbox.check_actor(body.get("chat"), body.get("user"))
        text = str(body.get("text") or "").strip()
        if not text:
            raise _ClientError(400, "empty message")
        if len(text) > 4096:
            raise _ClientError(400, "a message holds at most 4096 characters")
        msg = self.sandbox.emulator.send_text(chat_id, user_id, text, reply_to=self._reply_to(body.get("reply_to")))
        return {"message_id": msg["message_id"]}

    def _api_song(self, body: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = self.sandbox.check_actor(body.get("chat"), body.get("user"))
        try:
            song = self.sandbox.songs.get(str(body.get("song")))
        except KeyError:
            raise _ClientError(404, "no such song") from None
        path = self.sandbox.songs.path(song.key)
        msg = self.sandbox.emulator.send_file(
            chat_id, user_id, path, kind="audio", mime_type="audio/ogg", file_name=song.file_name,
            caption=(str(body.get("caption") or "").strip() or None), duration=round(song.seconds),
            reply_to=self._reply_to(body.get("reply_to")))
        return {"message_id": msg["message_id"]}

    def _api_press(self, body: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = self.sandbox.check_actor(body.get("chat"), body.get("user"))
        data = body.get("data")
        if not isinstance(data, str) or not data:
            raise _ClientError(400, "no callback data")
        try:
            message_id = int(body.get("message_id"))
        except (TypeError, ValueError):
            raise _ClientError(400, "no message id") from None
        # As a Telegram app does, send what the button on screen says, even if the keyboard has
        # just changed: the bot answers stale buttons itself.
        try:
            query_id = self.sandbox.emulator.press_button(chat_id, user_id, message_id, data, check=False)
        except ValueError as exc:
            raise _ClientError(410, str(exc)) from None
        return {"query_id": query_id}

    def _upload(self, params: dict[str, str]) -> dict[str, Any]:
        chat_id, user_id = self.sandbox.check_actor(params.get("chat"), params.get("user"))
        length = int(self.headers.get("Content-Length") or -1)
        name = (params.get("name") or "file").replace("/", "_").replace("\\", "_")[:200] or "file"
        if length < 0:
            raise _ClientError(411, "the upload needs a Content-Length")
        if length > MAX_UPLOAD_BYTES:
            self._drain(length)
            raise _ClientError(413, f"«{name}» is {length / 1024 / 1024:.1f} MB. Telegram bots can receive files "
                                    f"up to {MAX_UPLOAD_MB} MB: send a shorter or smaller file.")
        if length == 0:
            raise _ClientError(400, f"«{name}» is empty.")
        data = self.rfile.read(length)
        if len(data) != length:
            raise _ClientError(400, "the upload was cut short")
        mime = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0] or ""
        kind = upload_kind(mime)
        msg = self.sandbox.emulator.send_file(
            chat_id, user_id, data, kind=kind, mime_type=mime or None, file_name=name,
            caption=(params.get("caption") or "").strip() or None, reply_to=self._reply_to(params.get("reply_to")))
        return {"message_id": msg["message_id"], "kind": kind}

    def _drain(self, length: int) -> None:
        """Read (and drop) a refused upload, so the browser gets to read our answer."""
        left = min(length, 256 * 1024 * 1024)
        self.connection.settimeout(30)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    # ---- static files, stored files, events

    def _static(self, name: str) -> None:
        target = (STATIC_DIR / name).resolve()
        if STATIC_DIR not in target.parents or not target.is_file():
            self._json(404, {"error": "not found"})
            return
        ctype = _STATIC_TYPES.get(target.suffix, "application/octet-stream")
        self._send(200, target.read_bytes(), ctype, {"Cache-Control": "no-cache"})

    def _file(self, file_id: str) -> None:
        data = self.sandbox.file_bytes(file_id)
        if data is None:
            self._json(404, {"error": "no such file"})
            return
        ctype = _sniff_type(data)
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=86400",
                   "ETag": f'"{file_id}"'}
        total = len(data)
        ranged = self.headers.get("Range")
        m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", ranged or "")
        if not ranged or not m or (not m.group(1) and not m.group(2)):
            self._send(200, data, ctype, headers)
            return
        if m.group(1):
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else min(total, start + RANGE_CHUNK) - 1
        else:  # the last N bytes
            start, end = max(0, total - int(m.group(2))), total - 1
        end = min(end, total - 1)
        if start >= total or start > end:
            self._send(416, b"", ctype, {**headers, "Content-Range": f"bytes */{total}"})
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        self._send(206, data[start:end + 1], ctype, headers)

    def _events(self) -> None:
        """Server-Sent Events: a snapshot, then every change, until the page goes away."""
        hub = self.sandbox.hub
        q = hub.subscribe()  # before the snapshot: nothing falls in between (duplicates are harmless)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self._sse(self.sandbox.snapshot())
            while not hub.closed:
                try:
                    event = q.get(timeout=SSE_PING_SECONDS)
                except queue.Empty:
                    self.wfile.write(b": ping\n\n")
                    self.wfile.flush()
                    continue
                if event is None:
                    break
                self._sse(event)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            hub.unsubscribe(q)

    def _sse(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, ensure_ascii=False)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()


# --------------------------------------------------------------------------- entry point


async def _ensure_library(engine_settings) -> dict | None:
    """The starter library on first start, with a progress bar in the terminal."""
    from bot.admin import starter_library

    return await starter_library.ensure_library(engine_settings, show_progress=True)


def run_sandbox(port: int = 8080, host: str = "127.0.0.1", settings=None) -> None:
    """Start the sandbox and serve until Ctrl-C. ``settings``: ``BotSettings`` (default: from the env)."""
    from bot.config import BotSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "telegram.ext", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = settings or BotSettings.from_env()
    built = asyncio.run(_ensure_library(settings.engine))
    if built:
        print(f"Built the starter library: {built['added']} clips, {built['segments']} segments "
              f"in {built['seconds']:.0f} s", flush=True)
    if host not in _LOOPBACK_HOSTS:
        print(f"Warning: serving on {host}: anyone who can reach this address can use the sandbox.", flush=True)
    try:
        sandbox = Sandbox(settings, host=host, port=port)
    except FileNotFoundError as exc:
        raise SystemExit(f"choreo sandbox: the Bot API spec is missing ({exc.filename}); "
                         "set CHOREO_SHARED_DATA to the shared data folder") from None
    try:
        sandbox.start()
    except OSError as exc:
        raise SystemExit(f"choreo sandbox: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager, a test) stops as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    print(f"\nChoreo sandbox: {sandbox.url}\n"
          f"Open it in a browser to chat with the bot (the real bot, on this computer). Ctrl-C stops it.\n",
          flush=True)
    try:
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping the sandbox...", file=sys.stderr, flush=True)
        sandbox.stop()
