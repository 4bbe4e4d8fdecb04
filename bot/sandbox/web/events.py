"""Events for the page: the emulator's changes fanned out to every open page as SSE payloads."""

from __future__ import annotations

import queue
import threading
from typing import Any


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
