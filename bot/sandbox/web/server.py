"""The sandbox's web server: the chat page, its JSON API, uploads, stored files and the event stream.

Only 127.0.0.1 by default. The page's POSTs need an ``X-Choreo-Sandbox`` header (a form on
another site cannot send one), and on a loopback address the ``Host`` header must be loopback
too (no DNS rebinding). Uploads are limited to 20 MB, as Telegram's Bot API download limit.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import queue
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from .sandbox import Sandbox

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024  # Telegram: bots download files up to 20 MB
# An open-ended range request ("bytes=0-", what <video> sends) gets at most this much per
# answer, so a paused video never holds a connection (the browser allows six per host).
RANGE_CHUNK = 1024 * 1024
SSE_PING_SECONDS = 15.0
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _sniff_type(data: bytes) -> str:
    """A stored file's Content-Type, from its first bytes (the page plays what it is told)."""
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


class SandboxServer(ThreadingHTTPServer):
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


class SandboxRequestHandler(BaseHTTPRequestHandler):
    server: SandboxServer
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
        if self.sandbox.host not in LOOPBACK_HOSTS:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK_HOSTS

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
