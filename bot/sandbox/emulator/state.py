"""State: users, chats, messages, stored files and the update queue, and the helpers that change them."""

from __future__ import annotations

import copy
import hashlib
import logging
import mimetypes
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .media import KIND_FOLDER, KIND_MIME, StoredFile, media_object

_LOG = logging.getLogger(__name__)


@dataclass
class MessageRecord:
    """A message as kept here: the Telegram Message, its sender side, main file and past states."""

    chat_id: int
    data: dict[str, Any]  # the Telegram Message, current state
    kind: str
    by_bot: bool
    file_id: str | None = None
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ChatRecord:
    """A chat: the Telegram Chat, its people, the bot's status in it and its messages."""

    data: dict[str, Any]  # the Telegram Chat
    members: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    owner: int | None = None
    bot_status: str = "member"  # member | administrator | kicked | left
    next_message_id: int = 1
    messages: dict[int, MessageRecord] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.data["id"]

    @property
    def is_private(self) -> bool:
        return self.data["type"] == "private"


# A chat or a user, given as its Telegram object or its id.
ChatRef = dict[str, Any] | int
UserRef = dict[str, Any] | int


class EmulatorState:
    """Helpers over the emulator's state, mixed into :class:`TelegramEmulator`.

    Its ``__init__`` makes the state (``_users``, ``_chats``, ``_files``, ``_updates``, ...).
    All of it is guarded by one re-entrant lock, ``_lock``: call these with it held, except
    :meth:`_flush_events`, which must run without it.
    """

    def _changed(self) -> None:
        """Wake everyone waiting on state: long polls, wait_for, wait_for_async."""
        self._version += 1
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # loop closed
                self._async_waiters.discard((loop, event))

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self._pending_events.append(event)

    def _flush_events(self) -> None:
        """Run ``on_event`` callbacks without the lock, so they may call back into us."""
        if self.on_event is None:
            return
        with self._lock:
            events, self._pending_events = self._pending_events, []
        for event in events:
            try:
                self.on_event(event)
            except Exception:  # a broken listener must not break the server
                _LOG.exception("on_event callback failed")

    def _user(self, ref: UserRef) -> dict[str, Any]:
        uid = ref["id"] if isinstance(ref, dict) else int(ref)
        if uid not in self._users:
            raise ValueError(f"unknown user {uid}; create it with make_user()")
        return self._users[uid]

    def _chat(self, ref: ChatRef) -> ChatRecord:
        cid = ref["id"] if isinstance(ref, dict) else int(ref)
        if cid not in self._chats:
            raise ValueError(f"unknown chat {cid}; create it with make_private_chat()/make_group()")
        return self._chats[cid]

    def _any_user(self, c: ChatRecord) -> dict[str, Any]:
        return self._users[c.members[0]] if c.members else self.bot_user

    def _view(self, m: MessageRecord) -> dict[str, Any]:
        view = copy.deepcopy(m.data)
        for key in ("text", "caption", "reply_markup"):
            view.setdefault(key, None)
        view.update(kind=m.kind, by_bot=m.by_bot, deleted=m.deleted, file_id=m.file_id,
                    edit_history=copy.deepcopy(m.history))
        return view

    def _queue_update(self, kind: str, obj: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: obj})
        self._changed()
        return update_id

    def _add_message(
        self, c: ChatRecord, sender: dict[str, Any], *, by_bot: bool, kind: str, fields: dict[str, Any],
        reply_to: int | None = None, markup: dict[str, Any] | None = None, file_id: str | None = None,
    ) -> MessageRecord:
        data: dict[str, Any] = {
            "message_id": c.next_message_id, "from": dict(sender), "chat": dict(c.data),
            "date": int(time.time()),
        }
        c.next_message_id += 1
        if reply_to is not None:
            target = c.messages.get(reply_to)
            if target is None or target.deleted:
                raise ValueError(f"message {reply_to} does not exist in chat {c.id}")
            replied = copy.deepcopy(target.data)
            replied.pop("reply_to_message", None)  # Telegram nests one level only
            data["reply_to_message"] = replied
        data.update(fields)
        if markup and "inline_keyboard" in markup:  # only inline keyboards show on a Message
            data["reply_markup"] = markup
        msg = MessageRecord(chat_id=c.id, data=data, kind=kind, by_bot=by_bot, file_id=file_id)
        c.messages[data["message_id"]] = msg
        self._emit({"type": "message", "chat_id": c.id, "message": self._view(msg)})
        self._changed()
        return msg

    def _deliver_user_message(self, c: ChatRecord, msg: MessageRecord) -> None:
        if c.bot_status in ("member", "administrator"):
            self._queue_update("message", copy.deepcopy(msg.data))

    def _store_file(
        self, kind: str, data: bytes, file_name: str | None, mime_type: str | None,
        overrides: dict[str, Any] | None = None, url: str | None = None,
    ) -> StoredFile:
        n = next(self._file_ids)
        file_id = f"{kind}-{self._tag}-{n:05d}"
        unique = "u" + hashlib.sha256(data if url is None else url.encode()).hexdigest()[:15]
        if mime_type is None:
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime_type = guessed or KIND_MIME[kind]
        ext = Path(file_name).suffix if file_name else (mimetypes.guess_extension(mime_type) or "")
        file_path = f"{KIND_FOLDER[kind]}/file_{n}{ext}"
        stored = StoredFile(file_id, unique, kind, data, file_path, mime_type, file_name)
        stored.media = media_object(stored, kind, overrides)
        self._files[file_id] = stored
        self._files_by_path[file_path] = stored
        return stored

    def _member_object(self, c: ChatRecord, user_id: int) -> dict[str, Any]:
        """ChatMember for ``user_id`` in ``c`` (the bot included)."""
        if user_id == self.bot_user["id"]:
            user, status = self.bot_user, c.bot_status
        else:
            user = self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "?"})
            if user_id == c.owner:
                status = "creator"
            elif user_id in c.admins:
                status = "administrator"
            elif user_id in c.members:
                status = "member"
            else:
                status = "left"
        obj: dict[str, Any] = {"status": status, "user": dict(user)}
        if status == "creator":
            obj["is_anonymous"] = False
            return obj
        if status == "administrator":
            for name in self.spec.type_fields("ChatMemberAdministrator"):
                if name.startswith("can_") and name != "can_be_edited":
                    obj[name] = True
            obj.update(can_be_edited=False, is_anonymous=False)
            return self.spec.fill_required("ChatMemberAdministrator", obj)
        if status == "kicked":
            obj["until_date"] = 0
        return obj
