"""The emulator itself: its state, its lifecycle, and one Bot API call from request to answer."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from .errors import NOT_MODIFIED, ApiError, ClientGone, bad_request
from .flood import FloodBuckets, FloodLimits
from .media import StoredFile
from .methods import BotApiMethods
from .multipart import Upload
from .server import ApiRequestHandler, ApiServer
from .spec import ApiSpec, default_spec_path
from .state import ChatRecord
from .user_side import UserSide

_LOG = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAEmulatorTestToken_0123456789abcdefgh"


class TelegramEmulator(UserSide, BotApiMethods):
    """A thread-safe fake Bot API server; see the package docstring.

    All state is guarded by one re-entrant lock; a condition variable on it wakes
    long polls and :meth:`wait_for` whenever anything changes.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        spec_path: Path | str | None = None,
        flood: FloodLimits | None = None,
        bot_first_name: str = "Choreo",
        bot_username: str = "choreo_test_bot",
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.token = token
        self.host = host
        self.port = port
        self.spec = ApiSpec.load(Path(spec_path) if spec_path else default_spec_path())
        self.flood = flood if flood is not None else FloodLimits()
        self.on_event = on_event
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id), "is_bot": True, "first_name": bot_first_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": True, "supports_inline_queries": True,
        }

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._pending_events: list[dict[str, Any]] = []
        self._tag = secrets.token_hex(3)  # keeps file ids of two emulators apart
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, ChatRecord] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._callback_queries: dict[str, dict[str, Any]] = {}  # unanswered
        self._query_pressed: dict[str, float] = {}  # query id -> monotonic time of the tap
        self._inline_queries: dict[str, dict[str, Any]] = {}  # unanswered
        self._flood_buckets = FloodBuckets()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._closing = False
        self._version = 0  # bumped on every change; lets waiters detect missed wake-ups
        self._local = threading.local()  # per request thread: .client_alive() callback
        self._server: ApiServer | None = None
        self._thread: threading.Thread | None = None

        # What happened, for tests to assert on (append-only, guarded by the lock).
        self.violations: list[str] = []
        self.errors: list[dict[str, Any]] = []
        self.rate_limited: list[tuple[str, int]] = []  # (method, chat id)
        self.requests: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.inline_answers: list[dict[str, Any]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.uploads: Counter[str] = Counter()  # method -> number of new files uploaded
        self.uploaded_files: list[dict[str, Any]] = []  # method, field, file_id, sha256, size

        self._faults: dict[str, list[tuple[int, str]]] = {}  # method -> injected failures to answer
        self._init_webhook()

        self._handlers = self._method_handlers()

    def inject_failure(self, method: str, status: int = 502, description: str = "Bad Gateway",
                       times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with ``status`` (a passing server error:
        recorded in :attr:`errors`, not a violation), as Telegram's servers sometimes do."""
        with self._lock:
            self._faults.setdefault(method, []).extend([(status, description)] * times)

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> TelegramEmulator:
        """Serve in a background thread (idempotent). Returns ``self``."""
        with self._lock:
            if self._server is not None:
                return self
            self._closing = False
            server = ApiServer((self.host, self.port), ApiRequestHandler, self)
            self._server = server
            self.port = server.server_address[1]
            self._ensure_delivery()  # a webhook set before a stop
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"telegram-emulator:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake long polls, close connections, join the thread."""
        with self._lock:
            server, self._server = self._server, None
            self._closing = True
            self._changed()
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._stop_delivery()

    def __enter__(self) -> TelegramEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    # ---- internals: HTTP dispatch ----------------------------------------------------

    def _handle_api(
        self, token: str, method_name: str, raw: dict[str, Any], uploads: dict[str, Upload], form: bool
    ) -> tuple[int, dict[str, Any]]:
        """One Bot API call -> (HTTP status, JSON body). Records it."""
        with self._lock:
            method = self.spec.canonical_method(method_name) or method_name
            errors: list[str] = []
            try:
                if token != self.token:
                    raise ApiError(401, "Unauthorized")
                if self.spec.canonical_method(method_name) is None:
                    raise ApiError(404, "Not Found")
                params, errors = self.spec.validate_request(method, raw, uploads, form)
                if errors:  # the answer carries the first; all are recorded below
                    raise bad_request(errors[0])
                if self._faults.get(method):  # an injected passing failure (Telegram's servers hiccup)
                    raise ApiError(*self._faults[method].pop(0))
                handler = self._handlers.get(method)
                result = handler(params, uploads) if handler else True
                status, body = 200, {"ok": True, "result": result}
            except ClientGone:
                return 499, {}  # nobody to answer, nothing to record
            except ApiError as err:
                status, body = err.code, err.payload()
                if err.code == 404:
                    self.violations.append(f"{method_name}: no such Bot API method")
                elif errors:
                    self.violations.extend(f"{method}: Bad Request: {e}" for e in errors)
                elif err.code in (400, 401) and err.description != NOT_MODIFIED:
                    self.violations.append(f"{method}: {err.description}")
                self.errors.append({"method": method, "status": err.code, "description": err.description})
            except Exception as exc:  # our bug: make it loud
                _LOG.exception("emulator failed on %s", method)
                status, body = 500, {"ok": False, "error_code": 500, "description": f"Internal emulator error: {exc!r}"}
                self.violations.append(f"{method}: internal emulator error {exc!r}")
                self.errors.append({"method": method, "status": 500, "description": body["description"]})
            logged = {k: (repr(v) if isinstance(v, Upload) else v) for k, v in raw.items()}
            logged.update({k: repr(v) for k, v in uploads.items()})
            self.requests.append({"method": method, "params": logged, "status": status,
                                  "description": body.get("description"), "time": time.time()})
            self._changed()
        self._flush_events()
        return status, body

    def _file_download(self, token: str, file_path: str) -> bytes | None:
        with self._lock:
            stored = self._files_by_path.get(file_path)
            ok = token == self.token and stored is not None
            self.requests.append({"method": "<file download>", "params": {"file_path": file_path},
                                  "status": 200 if ok else 404, "description": None, "time": time.time()})
            if not ok:
                self.violations.append(f"file download: no file at {file_path!r} (or wrong token)")
                self.errors.append({"method": "<file download>", "status": 404, "description": "Not Found"})
                return None
            return stored.data  # type: ignore[union-attr]
