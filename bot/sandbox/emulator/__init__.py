"""A Telegram Bot API emulator on 127.0.0.1 for tests and the local sandbox chat.

python-telegram-bot (PTB) runs against it as a real HTTP client::

    with TelegramEmulator() as emu:
        app = (ApplicationBuilder().token(emu.token)
               .base_url(emu.base_url).base_file_url(emu.base_file_url).build())
        user = emu.make_user("Ann")
        chat = emu.make_private_chat(user)
        emu.send_text(chat, user, "/start")
        ...  # run the app, then
        emu.wait_for(lambda e: e.bot_messages(chat["id"]))
        assert emu.violations == []

What it checks
--------------
Every request is validated against the machine-readable Bot API spec (vendored in
``vendor/api.json``; see :func:`default_spec_path`): unknown method, unknown parameter, missing
required parameter, wrong type (recursively through objects, arrays and unions such
as ``InputMedia``), dangling ``attach://`` references. On top of that, the semantic
checks Telegram itself makes: text empty / too long, bad ``parse_mode`` markup,
``callback_data`` over 64 bytes, editing / deleting / replying to a message that does
not exist, answering an unknown callback query, unknown ``file_id`` or chat, ...

*Violations.* Every 400 answer is recorded in :attr:`TelegramEmulator.violations`
**except** "message is not modified": Telegram answers that to a perfectly correct bot
(a double tap re-sends the same edit), so callers must cope with it, but it is not a
bug. 403 (bot kicked), 409 (two pollers) and 429 (flood) are not violations either;
every non-200 answer is in :attr:`TelegramEmulator.errors`, 429s also in
:attr:`TelegramEmulator.rate_limited`. In JSON request bodies types are strict
(``"1"`` is not an Integer); in form posts (what PTB sends) every value is a string and
is coerced by the declared type, as Telegram does.

Flood limits (see :class:`FloodLimits`)
---------------------------------------
Telegram's documented limits (Bot API FAQ), read literally as sliding windows, a model of their
own rather than a copy of any client's limiter:

* private chat: no more than 1 message per second;
* group / supergroup / channel (chat id < 0): no more than 20 messages per minute;
* overall: no more than 30 messages per second (skipped for ``allow_paid_broadcast``).

Counted: every ``send*`` method except ``sendChatAction`` (a media group counts once,
as PTB's limiter counts one request), ``copyMessage``/``forwardMessage`` and, since
Telegram limits edits too, every ``editMessage*`` against the *same* per-chat budget
(``FloodLimits.count_edits``). Rejected requests consume nothing. A small time grace
(default 0.25 s) absorbs the jitter between the client's send time and our receive time.

Webhooks (:mod:`.webhook`): setWebhook makes getUpdates answer 409 and POSTs every update to the
URL (JSON, the secret header, retried with growing pauses until answered 2xx), as a local Bot API
server does (``http://`` and any port allowed).

Not emulated: inline-message edits
(accepted and answered ``True``), privacy mode (the bot sees every group message),
business/forum/payment features. Spec methods without a handler here answer ``True``.

Modules
-------
* :mod:`.telegram_emulator`: :class:`TelegramEmulator`, its lifecycle and one call from
  request to answer; it mixes in :mod:`.user_side` (what tests and the sandbox do),
  :mod:`.methods` (the Bot API methods), :mod:`.messaging` (their shared checks) and
  :mod:`.state` (users, chats, messages, updates);
* :mod:`.spec`: the Bot API spec and the request validator; :mod:`.formatting`:
  ``parse_mode`` and entities; :mod:`.media`: files and probing their bytes;
  :mod:`.flood`: the flood limits; :mod:`.multipart` and :mod:`.server`: HTTP; :mod:`.webhook`:
  webhooks and their delivery;
  :mod:`.errors` and :mod:`.limits`: answers and Telegram's numbers.

It imports nothing from the rest of the project; only the standard library.
"""

from .errors import NOT_MODIFIED, QUERY_TOO_OLD, ApiError, EmulatorViolation, bad_request
from .flood import FloodLimits
from .formatting import detect_entities, parse_formatted, utf16_len
from .limits import CALLBACK_ANSWER_LIMIT, CALLBACK_DATA_LIMIT, CAPTION_LIMIT, GET_FILE_LIMIT, TEXT_LIMIT
from .media import MEDIA_METHODS, probe_media
from .methods import CHAT_ACTIONS, DEFAULT_EXCLUDED_UPDATES
from .multipart import Upload, parse_multipart
from .spec import VENDORED_SPEC, ApiSpec, default_spec_path
from .state import ChatRef, UserRef
from .telegram_emulator import DEFAULT_TOKEN, TelegramEmulator
from .webhook import SECRET_HEADER, WebhookRetry

__all__ = [
    "CALLBACK_ANSWER_LIMIT",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "CHAT_ACTIONS",
    "DEFAULT_EXCLUDED_UPDATES",
    "DEFAULT_TOKEN",
    "GET_FILE_LIMIT",
    "MEDIA_METHODS",
    "NOT_MODIFIED",
    "QUERY_TOO_OLD",
    "SECRET_HEADER",
    "TEXT_LIMIT",
    "VENDORED_SPEC",
    "ApiError",
    "ApiSpec",
    "ChatRef",
    "EmulatorViolation",
    "FloodLimits",
    "TelegramEmulator",
    "Upload",
    "UserRef",
    "WebhookRetry",
    "bad_request",
    "default_spec_path",
    "detect_entities",
    "parse_formatted",
    "parse_multipart",
    "probe_media",
    "utf16_len",
]
