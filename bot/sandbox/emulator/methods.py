"""The Bot API methods the emulator implements (others in the spec answer ``True``)."""

from __future__ import annotations

import copy
import functools
import json
import re
import time
from typing import Any, Callable

from .errors import QUERY_TOO_OLD, ApiError, ClientGone, bad_request
from .limits import CALLBACK_ANSWER_LIMIT, CAPTION_LIMIT, GET_FILE_LIMIT, TEXT_LIMIT
from .media import KIND_FOLDER, MEDIA_METHODS
from .messaging import Messaging
from .multipart import Upload
from .state import ChatRecord
from .webhook import WebhookMethods

CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)
# Telegram's default when allowed_updates was never set.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

MethodHandler = Callable[[dict[str, Any], dict[str, Upload]], Any]


class BotApiMethods(Messaging, WebhookMethods):
    """One ``_api_*`` handler per implemented Bot API method."""

    def _method_handlers(self) -> dict[str, MethodHandler]:
        """Method name (as the spec spells it) -> its handler."""
        handlers: dict[str, MethodHandler] = {
            "getMe": self._api_get_me,
            "getUpdates": self._api_get_updates,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "getFile": self._api_get_file,
            "sendMessage": self._api_send_message,
            "sendMediaGroup": self._api_send_media_group,
            "sendChatAction": self._api_send_chat_action,
            "editMessageText": self._api_edit_message_text,
            "editMessageCaption": self._api_edit_message_caption,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "editMessageMedia": self._api_edit_message_media,
            "answerCallbackQuery": self._api_answer_callback_query,
            "answerInlineQuery": self._api_answer_inline_query,
            "deleteMessage": self._api_delete_message,
            "deleteMessages": self._api_delete_messages,
            "getChat": self._api_get_chat,
            "getChatMember": self._api_get_chat_member,
            "getChatAdministrators": self._api_get_chat_administrators,
            "leaveChat": self._api_leave_chat,
        }
        for method in MEDIA_METHODS:
            handlers[method] = functools.partial(self._api_send_media, method)
        handlers.update(self._webhook_handlers())
        return handlers

    # Each handler takes (validated params, uploads) with the lock held, returns the result
    # or raises ApiError.

    def _api_get_me(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        return self.spec.fill_required("User", dict(self.bot_user))

    def _api_get_updates(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        self._check_no_webhook()
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed()  # an older poll still waiting ends with 409, as on Telegram
        if "allowed_updates" in p:
            self._allowed_updates = list(p["allowed_updates"])
        offset = p.get("offset")
        if offset is not None and offset > 0:  # confirms everything before it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        limit = min(max(p.get("limit", 100), 1), 100)
        deadline = time.monotonic() + max(0, p.get("timeout", 0))
        while True:
            if generation != self._poll_generation:
                client_alive = getattr(self._local, "client_alive", None)
                if client_alive is not None and not client_alive():
                    raise ClientGone  # PTB cancelled this poll and started another: no conflict
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
            self._check_no_webhook()  # set while this poll waited
            allowed = set(self._allowed_updates)
            wanted = [u for u in self._updates if self._update_allowed(u, allowed)]
            if len(wanted) != len(self._updates):  # Telegram drops what the bot did not ask for
                self._updates = wanted
            remaining = deadline - time.monotonic()
            if wanted or remaining <= 0 or self._closing:
                return copy.deepcopy(wanted[:limit])
            self._cond.wait(remaining)

    @staticmethod
    def _update_allowed(update: dict[str, Any], allowed: set[str]) -> bool:
        kind = next(k for k in update if k != "update_id")
        return kind in allowed if allowed else kind not in DEFAULT_EXCLUDED_UPDATES

    @staticmethod
    def _commands_key(p: dict[str, Any]) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.get("language_code", "")

    def _api_set_my_commands(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise bad_request("too many commands (at most 100)")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd["command"]):
                raise bad_request(f"BOT_COMMAND_INVALID: {cmd['command']!r} (1-32 of a-z, 0-9, _)")
            if not 1 <= len(cmd["description"]) <= 256:
                raise bad_request(f"command description must be 1-256 characters: {cmd['command']!r}")
        self._commands[self._commands_key(p)] = copy.deepcopy(commands)
        return True

    def _api_get_my_commands(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    def _api_delete_my_commands(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _api_get_file(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        stored = self._files.get(p["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > GET_FILE_LIMIT:
            raise bad_request("file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data), "file_path": stored.file_path}

    def _api_send_message(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        c = self._resolve_chat(p["chat_id"])
        text, entities = self._text_and_entities(p["text"], p.get("parse_mode"), p.get("entities"), TEXT_LIMIT, "text")
        markup = p.get("reply_markup")
        self._check_markup(markup)
        reply_to = self._reply_target(c, p)
        self._take_flood("sendMessage", c, p)
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        msg = self._add_message(c, self.bot_user, by_bot=True, kind="text", fields=fields,
                                reply_to=reply_to, markup=markup)
        return copy.deepcopy(msg.data)

    def _api_send_media(self, method: str, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        kind = MEDIA_METHODS[method]
        c = self._resolve_chat(p["chat_id"])
        markup = p.get("reply_markup")
        self._check_markup(markup)
        reply_to = self._reply_target(c, p)
        if p.get("caption"):  # check the caption before storing anything
            self._text_and_entities(p["caption"], p.get("parse_mode"), p.get("caption_entities"), CAPTION_LIMIT, "caption")
        self._take_flood(method, c, p)
        overrides = {k: p[k] for k in ("duration", "width", "height") if k in p}
        stored = self._resolve_file(method, kind, p[kind], files, kind, overrides)
        fields = self._media_fields(kind, stored, p)
        msg = self._add_message(c, self.bot_user, by_bot=True, kind=kind, fields=fields,
                                reply_to=reply_to, markup=markup, file_id=stored.file_id)
        return copy.deepcopy(msg.data)

    def _api_send_media_group(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        c = self._resolve_chat(p["chat_id"])
        media = p["media"]
        if not 2 <= len(media) <= 10:
            raise bad_request("media group must contain 2-10 items")
        kinds = {item["type"] for item in media}
        if len(kinds) > 1 and kinds & {"audio", "document"}:
            raise bad_request("audio and documents can be grouped only with media of the same type")
        for item in media:  # check every reference before storing anything
            ref = item["media"]
            if isinstance(ref, str) and not ref.startswith("attach://") and ref not in self._files \
                    and not re.match(r"https?://", ref):
                raise bad_request("wrong file identifier/HTTP URL specified")
        reply_to = self._reply_target(c, p)
        self._take_flood("sendMediaGroup", c, p)
        group_id = f"{self._tag}{next(self._query_ids):010d}"
        out = []
        for item in media:
            kind = item["type"]
            stored = self._resolve_file("sendMediaGroup", kind, item["media"], files, "media")
            fields = self._media_fields(kind, stored, item)
            fields["media_group_id"] = group_id
            msg = self._add_message(c, self.bot_user, by_bot=True, kind=kind, fields=fields,
                                    reply_to=reply_to, file_id=stored.file_id)
            out.append(copy.deepcopy(msg.data))
        return out

    def _api_send_chat_action(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        c = self._resolve_chat(p["chat_id"])
        if p["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append((c.id, p["action"]))
        self._emit({"type": "chat_action", "chat_id": c.id, "action": p["action"]})
        return True

    def _api_edit_message_text(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        if "text" not in p:
            raise bad_request("message text is empty")
        text, entities = self._text_and_entities(p["text"], p.get("parse_mode"), p.get("entities"), TEXT_LIMIT, "text")
        markup = p.get("reply_markup")
        self._check_markup(markup)
        msg = self._edit_target(p)
        if msg is None:
            return True
        if msg.kind != "text":
            raise bad_request("there is no text in the message to edit")
        changes: dict[str, Any] = {"text": text}
        if entities:
            changes["entities"] = entities
        return self._apply_edit("editMessageText", msg, changes, markup, drop=("entities",))

    def _api_edit_message_caption(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        markup = p.get("reply_markup")
        self._check_markup(markup)
        caption, entities = self._text_and_entities(
            p.get("caption", ""), p.get("parse_mode"), p.get("caption_entities"), CAPTION_LIMIT, "caption")
        msg = self._edit_target(p)
        if msg is None:
            return True
        if msg.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        changes: dict[str, Any] = {}
        if caption:
            changes["caption"] = caption
        if entities:
            changes["caption_entities"] = entities
        return self._apply_edit("editMessageCaption", msg, changes, markup, drop=("caption", "caption_entities"))

    def _api_edit_message_reply_markup(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        markup = p.get("reply_markup")
        self._check_markup(markup)
        msg = self._edit_target(p)
        if msg is None:
            return True
        return self._apply_edit("editMessageReplyMarkup", msg, {}, markup)

    def _api_edit_message_media(self, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        markup = p.get("reply_markup")
        self._check_markup(markup)
        media = p["media"]
        msg = self._edit_target(p)
        if msg is None:
            return True
        if msg.kind == "text":
            raise bad_request("there is no media in the message to edit")
        kind = media["type"]
        if kind not in KIND_FOLDER:
            raise bad_request(f"unsupported media type {kind!r} for editMessageMedia")
        media_ref = media["media"]
        # Count the flood budget before storing an upload, so a 429 leaves no file behind.
        self._take_flood("editMessageMedia", self._chats[msg.chat_id], p)
        if msg.file_id is not None and media_ref == msg.file_id and kind == msg.kind:
            stored = self._files[msg.file_id]
        else:
            stored = self._resolve_file("editMessageMedia", kind, media_ref, files, "media")
        changes = self._media_fields(kind, stored, media)
        new = self._apply_edit("editMessageMedia", msg, changes, markup,
                               drop=(msg.kind, "caption", "caption_entities"), flood=False)
        msg.kind, msg.file_id = kind, stored.file_id
        return new

    def _api_answer_callback_query(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        query = self._callback_queries.pop(p["callback_query_id"], None)
        if query is None:
            raise ApiError(400, QUERY_TOO_OLD)
        if len(p.get("text", "")) > CALLBACK_ANSWER_LIMIT:
            self._callback_queries[p["callback_query_id"]] = query  # not consumed
            raise bad_request("MESSAGE_TOO_LONG (callback answer text is limited to 200 characters)")
        answer = {"callback_query_id": p["callback_query_id"], "text": p.get("text"),
                  "show_alert": p.get("show_alert", False), "url": p.get("url"),
                  "cache_time": p.get("cache_time"), "data": query.get("data"),
                  "user_id": query["from"]["id"],
                  # from the tap to its answer, as the user waits for it (for latency figures)
                  "seconds": time.monotonic() - self._query_pressed.pop(p["callback_query_id"], time.monotonic())}
        self.callback_answers.append(answer)
        chat = (query.get("message") or {}).get("chat", {}).get("id")
        self._emit({"type": "callback_answer", "chat_id": chat, **answer})
        return True

    def _api_answer_inline_query(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        query = self._inline_queries.pop(p["inline_query_id"], None)
        if query is None:
            raise ApiError(400, QUERY_TOO_OLD)
        results = p["results"]
        ids = [r["id"] for r in results]
        problem = None
        if len(results) > 50:
            problem = "too many inline query results (at most 50)"
        elif len(set(ids)) != len(ids):
            problem = "RESULT_ID_DUPLICATE"
        elif any(not 1 <= len(i.encode()) <= 64 for i in ids):
            problem = "RESULT_ID_INVALID (1-64 bytes)"
        if problem:
            self._inline_queries[p["inline_query_id"]] = query
            raise bad_request(problem)
        for r in results:
            self._check_markup(r.get("reply_markup"))
        self.inline_answers.append({**copy.deepcopy(p), "query": query["query"], "user_id": query["from"]["id"]})
        return True

    def _delete(self, c: ChatRecord, message_id: int) -> None:
        msg = c.messages.get(message_id)
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        msg.deleted = True
        self._emit({"type": "delete", "chat_id": c.id, "message_id": message_id})
        self._changed()

    def _api_delete_message(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        self._delete(self._resolve_chat(p["chat_id"]), p["message_id"])
        return True

    def _api_delete_messages(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        c = self._resolve_chat(p["chat_id"])
        ids = p["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must hold 1-100 identifiers")
        for message_id in ids:  # Telegram skips the ones it can't find
            if message_id in c.messages and not c.messages[message_id].deleted:
                self._delete(c, message_id)
        return True

    def _api_get_chat(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        c = self._resolve_chat(p["chat_id"])
        info = dict(c.data)
        info.update(accent_color_id=0, max_reaction_count=11)
        return self.spec.fill_required("ChatFullInfo", info)

    def _api_get_chat_member(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        c = self._resolve_chat(p["chat_id"])
        if p["user_id"] not in self._users and p["user_id"] != self.bot_user["id"]:
            raise bad_request("user not found")
        return self._member_object(c, p["user_id"])

    def _api_get_chat_administrators(self, p: dict[str, Any], files: dict[str, Upload]) -> list[dict[str, Any]]:
        c = self._resolve_chat(p["chat_id"])
        if c.is_private:
            raise bad_request("there are no administrators in the private chat")
        ids = ([c.owner] if c.owner is not None else []) + [a for a in c.admins if a != c.owner]
        if c.bot_status == "administrator":
            ids.append(self.bot_user["id"])
        return [self._member_object(c, i) for i in ids]

    def _api_leave_chat(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        c = self._resolve_chat(p["chat_id"])
        if c.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        old = self._member_object(c, self.bot_user["id"])
        c.bot_status = "left"
        self._queue_update("my_chat_member", {
            "chat": dict(c.data), "from": dict(self.bot_user), "date": int(time.time()),
            "old_chat_member": old, "new_chat_member": self._member_object(c, self.bot_user["id"]),
        })
        self._emit({"type": "member", "chat_id": c.id, "status": "left"})
        return True
