"""The sandbox: emulator + bot + web page, its people and chats, and what the page may do."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from choreo_engine.settings import Settings

from ..emulator import TelegramEmulator
from .bot_runner import BotRunner
from .events import EventHub, client_message
from .server import MAX_UPLOAD_MB, SandboxRequestHandler, SandboxServer
from .songs import BUNDLED_SONGS, SongShelf

log = logging.getLogger(__name__)

# The emulator's file ids: "<kind>-<6 hex digits>-<5 digits>" (Telegram's own are 50+ characters).
_EMULATOR_FILE_ID = "[a-z]*-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9][0-9][0-9][0-9][0-9]"


async def forget_sandbox_run(engine_settings: Settings, chat_ids: list[int]) -> tuple[int, int]:
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

    db = await Database.open(engine_settings.database, engine_settings.media_dir)
    try:
        repo = SessionRepo(db)
        closed = 0
        for chat_id in chat_ids:
            closed += await repo.close_chat(chat_id, "the sandbox stopped (its chats do not outlive it)")
        dropped = await FileCacheRepo(db).forget_file_ids(_EMULATOR_FILE_ID)
    finally:
        await db.close()
    return closed, dropped


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
        self._server: SandboxServer | None = None
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
            server = SandboxServer((self.host, self.port), SandboxRequestHandler, self)
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
        closed, dropped = await forget_sandbox_run(self.base_settings.engine,
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
