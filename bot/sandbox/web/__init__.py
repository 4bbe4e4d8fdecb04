"""Try Choreo without Telegram: a chat page in the browser, on the bot's real code.

``choreo sandbox`` (and ``make run`` without a token) starts three things in one process:

* the Bot API emulator (:class:`~bot.sandbox.emulator.TelegramEmulator`) on a free port of
  127.0.0.1, with one user (Ann), her private chat with the bot, and a group "Dance crew"
  (Ann, the owner, and Bo);
* the **unchanged** bot (:func:`bot.app.build_application`) polling that emulator, on an asyncio
  loop of its own in the thread ``sandbox-bot``;
* a small web server (standard library :class:`~http.server.ThreadingHTTPServer`, thread
  ``sandbox-web`` plus one thread per request) serving the chat page in ``static/``.

Threads and data flow::

    browser ──POST /api/...──▶ web request thread ──send_text/send_file/press_button──▶ emulator
                                                                                        │ getUpdates
    bot loop (thread "sandbox-bot") ◀───────────────────────────────────────────────────┘
       │ sendVideo / editMessage* / answerCallbackQuery ...
       ▼
    emulator request thread ──on_event──▶ EventHub ──queue per page──▶ SSE thread ──▶ EventSource

Every change the bot makes reaches the page through the emulator's ``on_event`` hook as a
Server-Sent Event. Message events carry the message's *current* state and a version (its
number of edits; deletion wins), so a page that gets two of them out of order keeps the newest.
A page that (re)connects first gets a snapshot of every chat.

Files (songs, previews, the final video, the sheet) are served from the emulator's stored
bytes at ``/file/<file_id>``, with HTTP range requests so ``<video>`` can stream and seek.

Only 127.0.0.1 by default, and the page's requests are checked (see :mod:`.server`).

Modules: :mod:`.sandbox` (the :class:`Sandbox` that ties it together), :mod:`.bot_runner`
(the bot's thread), :mod:`.server` (HTTP: page, API, files, SSE), :mod:`.events` (the event
hub and what the page gets of a message), :mod:`.songs` (the bundled songs) and :mod:`.run`
(``choreo sandbox``).
"""

from .bot_runner import BotRunner
from .events import EventHub, client_message
from .run import run_sandbox
from .sandbox import Sandbox, forget_sandbox_run
from .server import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, STATIC_DIR, upload_kind
from .songs import BUNDLED_SONGS, BundledSong, SongShelf

__all__ = [
    "BUNDLED_SONGS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_MB",
    "STATIC_DIR",
    "BotRunner",
    "BundledSong",
    "EventHub",
    "Sandbox",
    "SongShelf",
    "client_message",
    "forget_sandbox_run",
    "run_sandbox",
    "upload_kind",
]
