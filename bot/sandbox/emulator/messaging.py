"""What the send and edit methods share: the checks Telegram makes beyond the spec's types.

Chat access (403 when kicked or blocked), flood limits (429), text and caption limits and
markup, inline keyboards, reply targets, file references, and applying an edit.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import NOT_MODIFIED, ApiError, bad_request
from .formatting import parse_formatted, utf16_len
from .limits import CALLBACK_DATA_LIMIT, CAPTION_LIMIT
from .media import StoredFile, media_object, real_mime
from .multipart import Upload
from .state import ChatRecord, EmulatorState, MessageRecord


class Messaging(EmulatorState):
    """Steps of the Bot API methods that send and edit messages (call with the lock held)."""

    def _resolve_chat(self, chat_id: int | str) -> ChatRecord:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for c in self._chats.values():
                if c.data.get("username", "").lower() == chat_id[1:].lower():
                    break
            else:
                raise bad_request("chat not found")
        else:
            c = self._chats.get(int(chat_id)) if str(chat_id).lstrip("-").isdigit() else None
            if c is None:
                raise bad_request("chat not found")
        if c.bot_status == "kicked":
            if c.is_private:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {c.data['type']} chat")
        if c.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {c.data['type']} chat")
        return c

    def _take_flood(self, method: str, c: ChatRecord, params: dict[str, Any]) -> None:
        """Consume one message from the chat's and the global bucket, or answer 429."""
        retry = self._flood_buckets.take(self.flood, method, c.id, c.is_private,
                                         bool(params.get("allow_paid_broadcast")))
        if retry:
            self.rate_limited.append((method, c.id))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _text_and_entities(
        self, text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None,
        limit: int, what: str,
    ) -> tuple[str, list[dict[str, Any]]]:
        plain, parsed = parse_formatted(text, parse_mode) if entities is None else (text, entities)
        size = utf16_len(plain.strip())
        if what == "text" and size == 0:
            raise bad_request("message text is empty")
        if utf16_len(plain) > limit:
            raise bad_request("message is too long" if what == "text" else "message caption is too long")
        for e in parsed:
            if e["offset"] < 0 or e["length"] <= 0 or e["offset"] + e["length"] > utf16_len(plain):
                raise bad_request(f"can't parse entities: entity {e} is out of the text bounds")
        return plain, parsed

    def _check_markup(self, markup: dict[str, Any] | None) -> None:
        if not markup or "inline_keyboard" not in markup:
            return
        for row in markup["inline_keyboard"]:
            for button in row:
                actions = [k for k in button if k not in ("text", "icon_custom_emoji_id", "style")]
                if not actions:
                    raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                if len(actions) > 1:
                    raise bad_request(f"can't parse inline keyboard button: exactly one of {actions} must be used")
                if not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if "callback_data" in button:
                    size = len(button["callback_data"].encode())
                    if not 1 <= size <= CALLBACK_DATA_LIMIT:
                        raise bad_request("BUTTON_DATA_INVALID")
                style = button.get("style")
                if style is not None and style not in ("danger", "success", "primary"):
                    raise bad_request(f"can't parse inline keyboard button: unknown style {style!r}")

    def _reply_target(self, c: ChatRecord, params: dict[str, Any]) -> int | None:
        rp = params.get("reply_parameters")
        if not rp:
            return None
        target_chat = self._resolve_chat(rp["chat_id"]) if "chat_id" in rp else c
        target = target_chat.messages.get(rp["message_id"])
        if target is None or target.deleted:
            if rp.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return rp["message_id"] if target_chat is c else None

    def _resolve_file(
        self, method: str, kind: str, ref: Any, uploads: dict[str, Upload], field_name: str,
        overrides: dict[str, Any] | None = None,
    ) -> StoredFile:
        """An InputFile argument -> stored file: new upload, attach://, file_id or URL."""
        upload: Upload | None = None
        if isinstance(ref, Upload):
            upload = ref
        elif isinstance(ref, str) and ref.startswith("attach://"):
            upload = uploads[ref[len("attach://"):]]
        if upload is not None:
            stored = self._store_file(kind, upload.data, upload.filename or None,
                                      real_mime(upload.content_type, upload.filename), overrides)
            self.uploads[method] += 1
            self.uploaded_files.append({
                "method": method, "field": field_name, "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id, "size": len(upload.data),
                "sha256": hashlib.sha256(upload.data).hexdigest(), "file_name": upload.filename,
            })
            return stored
        if isinstance(ref, str) and ref in self._files:
            stored = self._files[ref]
            if (stored.kind == "photo") != (kind == "photo"):
                raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
            return stored
        if isinstance(ref, str) and re.match(r"https?://", ref):
            # No internet here: accept the URL as an empty remote file.
            return self._store_file(kind, b"", Path(urlsplit(ref).path).name or None, None, overrides, url=ref)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _media_fields(self, kind: str, stored: StoredFile, params: dict[str, Any]) -> dict[str, Any]:
        """The Message fields for a media message (the media object + caption)."""
        media = copy.deepcopy(stored.media if stored.kind == kind else media_object(stored, kind))
        if kind == "photo":
            value: Any = [media]
        else:
            for key in ("duration", "width", "height", "performer", "title", "length"):
                if key in params and (key in media or key in ("performer", "title")):
                    media[key] = params[key]
            value = media
        fields: dict[str, Any] = {kind: value}
        if params.get("caption"):
            caption, entities = self._text_and_entities(
                params["caption"], params.get("parse_mode"), params.get("caption_entities"),
                CAPTION_LIMIT, "caption")
            if caption:
                fields["caption"] = caption
            if entities:
                fields["caption_entities"] = entities
        return fields

    def _edit_target(self, params: dict[str, Any]) -> MessageRecord | None:
        """The bot message an edit refers to; ``None`` for inline messages."""
        if "inline_message_id" in params:
            return None
        if "chat_id" not in params or "message_id" not in params:
            raise bad_request("message identifier is not specified (give chat_id and message_id, or inline_message_id)")
        c = self._resolve_chat(params["chat_id"])
        msg = c.messages.get(params["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if not msg.by_bot:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, method: str, msg: MessageRecord, changes: dict[str, Any], markup: dict[str, Any] | None,
                    drop: tuple[str, ...] = (), flood: bool = True) -> dict[str, Any]:
        """Apply an edit unless it changes nothing; keep history; return the Message."""
        new = copy.deepcopy(msg.data)
        for key in drop:
            new.pop(key, None)
        new.update(changes)
        if markup and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
        new.pop("edit_date", None)
        old = {k: v for k, v in msg.data.items() if k != "edit_date"}
        if new == old:
            raise ApiError(400, NOT_MODIFIED)
        if flood:
            self._take_flood(method, self._chats[msg.chat_id], {})
        msg.history.append({
            "date": msg.data.get("edit_date", msg.data["date"]), "kind": msg.kind,
            "file_id": msg.file_id,
            **{k: copy.deepcopy(msg.data.get(k)) for k in ("text", "entities", "caption", "reply_markup")},
        })
        new["edit_date"] = int(time.time())
        msg.data = new
        self._emit({"type": "edit", "chat_id": msg.chat_id, "message": self._view(msg)})
        return copy.deepcopy(new)
