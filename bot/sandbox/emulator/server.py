"""The HTTP side: a threading server and the handler that turns requests into Bot API calls.

``/bot<token>/<method>`` (query string, form, multipart or JSON body) goes to
:meth:`TelegramEmulator._handle_api`; ``/file/bot<token>/<path>`` downloads a stored file.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .multipart import Upload, header_params, parse_multipart

if TYPE_CHECKING:
    from .telegram_emulator import TelegramEmulator

_LOG = logging.getLogger(__name__)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True  # a long poll must not keep the process alive
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], emulator: TelegramEmulator):
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop idle keep-alive connections so their threads end now."""
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        _LOG.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _read_body(self) -> bytes | None:
        """The request's body, or None when the client hung up before sending all of it."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline()
                if not line:
                    return None
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    return None
                chunks.append(chunk)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a cancelled long poll)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _handle(self) -> None:
        emu = self.server.emulator
        url = urlsplit(self.path)
        path = url.path
        body = self._read_body()
        if body is None:
            # A process killed mid-request (the restart tests do that): Telegram would never
            # see a request cut short, so neither do we, and it is no violation of the bot's.
            self.close_connection = True
            return
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot"):].partition("/")
            data = emu._file_download(unquote(token), unquote(file_path))
            if data is None:
                self._send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            else:
                self._send(200, data, "application/octet-stream")
            return
        if not path.startswith("/bot") or path.count("/") != 2:
            self._send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, _, method = path[len("/bot"):].partition("/")
        try:
            raw, uploads, form = self._parse_params(url.query, body)
        except (ValueError, UnicodeDecodeError) as exc:
            with emu._lock:
                emu.violations.append(f"{method}: unparseable request body ({exc})")
            self._send_json(400, {"ok": False, "error_code": 400, "description": f"Bad Request: can't parse request: {exc}"})
            return
        emu._local.client_alive = self._client_alive
        status, payload = emu._handle_api(unquote(token), method, raw, uploads, form)
        if status == 499:
            self.close_connection = True
            return
        self._send_json(status, payload)

    def _client_alive(self) -> bool:
        """Peek at the socket: EOF means the client closed the connection."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # open, just nothing to read
        except OSError:
            return False

    def _parse_params(self, query: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload], bool]:
        """(params, file parts, values-are-form-strings) from query string + body."""
        raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        uploads: dict[str, Upload] = {}
        form = True
        ctype = self.headers.get("Content-Type", "")
        mime = ctype.split(";")[0].strip().lower()
        if mime == "application/json":
            parsed = json.loads(body or b"{}")
            if not isinstance(parsed, dict):
                raise ValueError("JSON body must be an object")
            if raw:
                raise ValueError("mixing query-string and JSON parameters")
            return parsed, uploads, False
        if mime == "multipart/form-data":
            boundary = header_params(ctype).get("boundary")
            if not boundary:
                raise ValueError("multipart body without boundary")
            fields, uploads = parse_multipart(body, boundary)
            raw.update(fields)
        elif body:
            raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return raw, uploads, form
