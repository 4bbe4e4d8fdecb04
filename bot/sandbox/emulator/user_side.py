"""The test side: what Telegram users do (write, send files, tap buttons) and what the bot did.

Tests and the sandbox chat page drive the emulator through these methods; the bot only sees
the updates they queue.
"""

from __future__ import annotations

import asyncio
import copy
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .errors import EmulatorViolation
from .formatting import detect_entities
from .media import KIND_FOLDER
from .state import ChatRecord, ChatRef, EmulatorState, UserRef

if TYPE_CHECKING:
    from .telegram_emulator import TelegramEmulator

T = TypeVar("T")


class UserSide(EmulatorState):
    """People and chats, what users do, and what the bot did: the API of tests and the sandbox."""

    # ---- test side: people and chats -------------------------------------------------

    def make_user(
        self, first_name: str, username: str | None = None, language_code: str | None = "en",
        *, last_name: str | None = None,
    ) -> dict[str, Any]:
        """A new (human) Telegram user."""
        with self._lock:
            user: dict[str, Any] = {"id": next(self._user_ids), "is_bot": False, "first_name": first_name}
            if last_name:
                user["last_name"] = last_name
            if username:
                user["username"] = username
            if language_code:
                user["language_code"] = language_code
            self._users[user["id"]] = user
            return dict(user)

    def make_private_chat(self, user: UserRef) -> dict[str, Any]:
        """The private chat between ``user`` and the bot (same id as the user)."""
        with self._lock:
            u = self._user(user)
            if u["id"] in self._chats:
                return dict(self._chats[u["id"]].data)
            data = {"id": u["id"], "type": "private", "first_name": u["first_name"]}
            for key in ("last_name", "username"):
                if key in u:
                    data[key] = u[key]
            self._chats[u["id"]] = ChatRecord(data=data, members=[u["id"]])
            return dict(data)

    def make_group(
        self, title: str, members: list[UserRef], admins: list[UserRef] | None = None,
        *, supergroup: bool = False, bot_is_admin: bool = False, username: str | None = None,
    ) -> dict[str, Any]:
        """A group with the bot in it. The owner is the first admin (or first member)."""
        with self._lock:
            n = next(self._group_ids)
            chat_id = -(1001000000000 + n) if supergroup else -(4000000000 + n)
            data: dict[str, Any] = {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}
            if username:
                data["username"] = username
            member_ids = [self._user(m)["id"] for m in members]
            admin_ids = [self._user(a)["id"] for a in admins or []]
            for a in admin_ids:
                if a not in member_ids:
                    member_ids.append(a)
            owner = admin_ids[0] if admin_ids else (member_ids[0] if member_ids else None)
            self._chats[chat_id] = ChatRecord(
                data=data, members=member_ids, admins=admin_ids, owner=owner,
                bot_status="administrator" if bot_is_admin else "member",
            )
            return dict(data)

    def remove_bot_from_chat(self, chat: ChatRef, by: UserRef | None = None) -> None:
        """Kick the bot (group) / block it (private); later sends answer 403."""
        with self._lock:
            c = self._chat(chat)
            old = self._member_object(c, self.bot_user["id"])
            c.bot_status = "kicked"
            actor = self._user(by) if by is not None else self._users.get(c.owner or 0, self._any_user(c))
            self._queue_update("my_chat_member", {
                "chat": dict(c.data), "from": dict(actor), "date": int(time.time()),
                "old_chat_member": old,
                "new_chat_member": self._member_object(c, self.bot_user["id"]),
            })
            self._emit({"type": "member", "chat_id": c.id, "status": "kicked"})
        self._flush_events()

    # ---- test side: what users do ----------------------------------------------------

    def send_text(
        self, chat: ChatRef, user: UserRef, text: str, reply_to: int | None = None,
        *, entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user writes ``text`` (entities auto-detected); returns the Message."""
        with self._lock:
            c, u = self._chat(chat), self._user(user)
            fields: dict[str, Any] = {"text": text}
            ents = detect_entities(text) if entities is None else entities
            if ents:
                fields["entities"] = ents
            msg = self._add_message(c, u, by_bot=False, kind="text", fields=fields, reply_to=reply_to)
            self._deliver_user_message(c, msg)
            result = copy.deepcopy(msg.data)
        self._flush_events()
        return result

    def send_file(
        self, chat: ChatRef, user: UserRef, path: str | Path | bytes, kind: str = "document",
        caption: str | None = None, duration: float | None = None, mime_type: str | None = None,
        file_name: str | None = None, reply_to: int | None = None,
        *, width: int | None = None, height: int | None = None,
    ) -> dict[str, Any]:
        """A user sends a file as ``kind`` (audio, voice, video, video_note, document,
        photo, sticker, animation); it can then be fetched with getFile. Returns the Message."""
        if kind not in KIND_FOLDER:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(KIND_FOLDER)}")
        if isinstance(path, bytes):
            data = path
        else:
            data = Path(path).read_bytes()
            file_name = file_name or Path(path).name
        with self._lock:
            c, u = self._chat(chat), self._user(user)
            overrides = {k: v for k, v in (("duration", duration), ("width", width), ("height", height)) if v is not None}
            stored = self._store_file(kind, data, file_name, mime_type, overrides)
            media = copy.deepcopy(stored.media)
            fields: dict[str, Any] = {kind: [media] if kind == "photo" else media}
            if caption:
                fields["caption"] = caption
                ents = detect_entities(caption)
                if ents:
                    fields["caption_entities"] = ents
            msg = self._add_message(c, u, by_bot=False, kind=kind, fields=fields, reply_to=reply_to, file_id=stored.file_id)
            self._deliver_user_message(c, msg)
            result = copy.deepcopy(msg.data)
        self._flush_events()
        return result

    def press_button(
        self, chat: ChatRef, user: UserRef, message_id: int, callback_data: str | None = None,
        *, text: str | None = None, check: bool = True,
    ) -> str:
        """A user taps an inline button (by ``callback_data`` or by label ``text``).

        With ``check`` the button must exist on the message as it is now (a stale
        keyboard can be tapped with ``check=False``). Returns the callback query id.
        """
        with self._lock:
            c, u = self._chat(chat), self._user(user)
            msg = c.messages.get(message_id)
            if msg is None or msg.deleted:
                raise ValueError(f"message {message_id} does not exist in chat {c.id}")
            buttons = [b for row in (msg.data.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            if text is not None or check:
                match = [b for b in buttons if (text is None or b.get("text") == text)
                         and (callback_data is None or b.get("callback_data") == callback_data)]
                if not match or "callback_data" not in match[0]:
                    raise ValueError(
                        f"message {message_id} has no callback button "
                        f"{text or callback_data!r}; buttons: {[(b.get('text'), b.get('callback_data')) for b in buttons]}"
                    )
                callback_data = match[0]["callback_data"]
            if callback_data is None:
                raise ValueError("give callback_data or text")
            query_id = f"{self._tag}{next(self._query_ids):08d}"
            query = {
                "id": query_id, "from": dict(u), "message": copy.deepcopy(msg.data),
                "chat_instance": str(abs(hash((self._tag, c.id)))), "data": callback_data,
            }
            self._callback_queries[query_id] = query
            self._query_pressed[query_id] = time.monotonic()
            self._queue_update("callback_query", query)
            return query_id

    def inline_query(self, user: UserRef, query: str, offset: str = "", chat_type: str | None = "private") -> str:
        """A user types ``@bot query``; returns the inline query id."""
        with self._lock:
            u = self._user(user)
            query_id = f"{self._tag}{next(self._query_ids):08d}"
            obj: dict[str, Any] = {"id": query_id, "from": dict(u), "query": query, "offset": offset}
            if chat_type:
                obj["chat_type"] = chat_type
            self._inline_queries[query_id] = obj
            self._queue_update("inline_query", obj)
            return query_id

    def inject_update(self, kind: str, obj: dict[str, Any]) -> int:
        """Queue any other update (``kind`` is the Update field, e.g. ``"poll_answer"``)."""
        with self._lock:
            return self._queue_update(kind, copy.deepcopy(obj))

    # ---- test side: what the bot did -------------------------------------------------

    def messages(self, chat_id: ChatRef) -> list[dict[str, Any]]:
        """All messages of the chat in order (users' and bot's, deleted ones flagged).

        Each is the Telegram Message plus ``kind``, ``by_bot``, ``deleted``,
        ``file_id`` (main media), ``edit_history`` (earlier states, oldest first);
        ``text``, ``caption`` and ``reply_markup`` are always present (maybe None).
        """
        with self._lock:
            c = self._chat(chat_id)
            return [self._view(m) for m in c.messages.values()]

    def bot_messages(self, chat_id: ChatRef, include_deleted: bool = True) -> list[dict[str, Any]]:
        return [m for m in self.messages(chat_id) if m["by_bot"] and (include_deleted or not m["deleted"])]

    def message(self, chat_id: ChatRef, message_id: int) -> dict[str, Any]:
        with self._lock:
            return self._view(self._chat(chat_id).messages[message_id])

    def buttons(self, chat_id: ChatRef, message_id: int) -> list[list[tuple[str, str | None]]]:
        """The message's inline keyboard as rows of (label, callback_data)."""
        markup = self.message(chat_id, message_id)["reply_markup"] or {}
        return [[(b["text"], b.get("callback_data")) for b in row] for row in markup.get("inline_keyboard", [])]

    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].data

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def wait_for(
        self, predicate: Callable[[TelegramEmulator], T], timeout: float = 5.0,
        *, fail_on_violation: bool = True,
    ) -> T:
        """Block until ``predicate(emu)`` is truthy; return its value.

        Raises :class:`TimeoutError` (with the last requests, for diagnosis), or
        :class:`EmulatorViolation` at once if the bot makes an invalid request while we
        wait (``fail_on_violation``). The predicate runs without the lock held, so it
        may do anything (even call the server). Do not call this on the event loop the
        bot runs on: use :meth:`wait_for_async` there.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            seen = len(self.violations)
        while True:
            with self._lock:
                version = self._version  # read before the check, so no change is missed
            result = predicate(self)
            if result:
                return result
            with self._cond:
                if fail_on_violation and len(self.violations) > seen:
                    raise EmulatorViolation(f"bot made an invalid request: {self.violations[seen:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; {self.describe_recent()}")
                if self._version == version:
                    self._cond.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[TelegramEmulator], T], timeout: float = 5.0,
        *, fail_on_violation: bool = True,
    ) -> T:
        """:meth:`wait_for` for async code: the predicate runs on the caller's loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._lock:
            self._async_waiters.add(entry)
            seen = len(self.violations)
        try:
            deadline = loop.time() + timeout
            while True:
                event.clear()  # clear before checking, so no wake-up is lost
                result = predicate(self)
                if result:
                    return result
                if fail_on_violation and len(self.violations) > seen:
                    raise EmulatorViolation(f"bot made an invalid request: {self.violations[seen:]}")
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; {self.describe_recent()}")
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self._lock:
                self._async_waiters.discard(entry)

    def describe_recent(self, n: int = 8) -> str:
        """The last ``n`` requests and all violations, one line each."""
        with self._lock:
            lines = [f"{r['method']} -> {r['status']} {r.get('description') or ''}".rstrip() for r in self.requests[-n:]]
            return f"last requests: {lines}; violations: {self.violations}"
