"""Media: the kinds of file a message carries, stored files, and probing their bytes.

Probing is stdlib only and best effort: width / height / duration are read from MP4, AVI,
WAV, Ogg and image headers; any failure just leaves the field out.
"""

from __future__ import annotations

import io
import mimetypes
import struct
import wave
from dataclasses import dataclass, field
from typing import Any, Iterator

# send method -> the message field / media kind it produces.
MEDIA_METHODS: dict[str, str] = {
    "sendPhoto": "photo",
    "sendVideo": "video",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendAnimation": "animation",
    "sendVoice": "voice",
    "sendVideoNote": "video_note",
    "sendSticker": "sticker",
}
KIND_FOLDER = {
    "photo": "photos", "video": "videos", "document": "documents", "audio": "music",
    "animation": "animations", "voice": "voice", "video_note": "video_notes",
    "sticker": "stickers",
}
KIND_MIME = {
    "photo": "image/jpeg", "video": "video/mp4", "document": "application/octet-stream",
    "audio": "audio/mpeg", "animation": "video/mp4", "voice": "audio/ogg",
    "video_note": "video/mp4", "sticker": "image/webp",
}


@dataclass
class StoredFile:
    """A file the emulator holds: a user's, or one the bot uploaded or named by URL."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    media: dict[str, Any] = field(default_factory=dict)  # the Telegram object (Video, ...)


def media_object(stored: StoredFile, kind: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Telegram object (Video, Audio, PhotoSize, ...) describing ``stored`` as ``kind``."""
    data, file_name, mime_type = stored.data, stored.file_name, stored.mime_type
    info = probe_media(data) if data else {}
    info.update(overrides or {})
    media: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                             "file_size": len(data)}
    width, height = int(info.get("width", 0)), int(info.get("height", 0))
    duration = int(round(info.get("duration", 0)))
    if kind in ("video", "animation"):
        media.update(width=width, height=height, duration=duration)
    elif kind in ("audio", "voice"):
        media["duration"] = duration
    elif kind == "video_note":
        media.update(length=min(width, height) if width and height else 240, duration=duration)
    elif kind == "photo":
        media.update(width=width, height=height)
    elif kind == "sticker":
        media.update(type="regular", width=width or 512, height=height or 512,
                     is_animated=file_name is not None and file_name.endswith(".tgs"),
                     is_video=mime_type == "video/webm")
    if kind in ("video", "animation", "audio", "document") and file_name:
        media["file_name"] = file_name
    if kind not in ("photo", "sticker", "video_note"):
        media["mime_type"] = mime_type
    return media


def real_mime(content_type: str, filename: str) -> str | None:
    """The part's content type unless it is the generic default; then guess from the name."""
    if content_type and content_type != "application/octet-stream":
        return content_type.split(";")[0].strip()
    return mimetypes.guess_type(filename or "")[0]


def _mp4_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header:
            return
        yield kind, i + header, min(i + size, end)
        i += size


def _probe_mp4(data: bytes) -> dict[str, float]:
    info: dict[str, float] = {}
    for kind, s, e in _mp4_boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for k2, s2, e2 in _mp4_boxes(data, s, e):
            if k2 == b"mvhd":
                if data[s2] == 1:
                    timescale, duration = struct.unpack(">IQ", data[s2 + 20:s2 + 32])
                else:
                    timescale, duration = struct.unpack(">II", data[s2 + 12:s2 + 20])
                if timescale:
                    info["duration"] = duration / timescale
            elif k2 == b"trak":
                width = height = 0
                handler = b""
                for k3, s3, e3 in _mp4_boxes(data, s2, e2):
                    if k3 == b"tkhd":
                        width, height = (v >> 16 for v in struct.unpack(">II", data[e3 - 8:e3]))
                    elif k3 == b"mdia":
                        for k4, s4, _ in _mp4_boxes(data, s3, e3):
                            if k4 == b"hdlr":
                                handler = data[s4 + 8:s4 + 12]
                if handler == b"vide" and width and height and "width" not in info:
                    info["width"], info["height"] = width, height
    return info


def _probe_avi(data: bytes) -> dict[str, float]:
    at = data.find(b"avih", 0, 65536)
    if at < 0:
        return {}
    h = at + 8
    usec_per_frame, _, _, _, frames = struct.unpack("<5I", data[h:h + 20])
    width, height = struct.unpack("<II", data[h + 32:h + 40])
    return {"duration": frames * usec_per_frame / 1e6, "width": width, "height": height}


def _probe_ogg(data: bytes) -> dict[str, float]:
    packet = data[27 + data[26]:]
    pre_skip = 0
    if packet.startswith(b"\x01vorbis"):
        rate = struct.unpack("<I", packet[12:16])[0]
    elif packet.startswith(b"OpusHead"):
        rate, pre_skip = 48000, struct.unpack("<H", packet[10:12])[0]
    else:
        return {}
    last = data.rfind(b"OggS")
    granule = struct.unpack("<q", data[last + 6:last + 14])[0]
    return {"duration": max(0, granule - pre_skip) / rate} if rate else {}


def _probe_image(data: bytes) -> dict[str, float]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        w, h = struct.unpack(">II", data[16:24])
        return {"width": w, "height": h}
    if data[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", data[6:10])
        return {"width": w, "height": h}
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
                i += 2 if marker != 0xFF else 1
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return {"width": w, "height": h}
            i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return {"width": w, "height": h}
    return {}


def probe_media(data: bytes) -> dict[str, float]:
    """width / height / duration (seconds) from the bytes, whatever of them can be read."""
    try:
        if data[4:8] == b"ftyp":
            return _probe_mp4(data)
        if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
            return _probe_avi(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            with wave.open(io.BytesIO(data)) as w:
                return {"duration": w.getnframes() / w.getframerate()}
        if data[:4] == b"OggS":
            return _probe_ogg(data)
        return _probe_image(data)
    except (struct.error, IndexError, ValueError, EOFError, wave.Error, ZeroDivisionError):
        return {}
