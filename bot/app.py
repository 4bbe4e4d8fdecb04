"""The Telegram application: ``choreo bot`` runs it with long polling, or as a webhook server when
``CHOREO_WEBHOOK_URL`` is set."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from storage.owner import DataDirInUse, DataDirLock

from .config import BotSettings
from .handlers import admin, buttons, groups, inline, private
from .inbox import HANDLED_GROUP, DurableUpdateQueue, mark_handled
from .ratelimit import ChatRateLimiter
from .service import ChoreoService
from .service.learning import Learning

log = logging.getLogger(__name__)

SONG_FILTER = filters.AUDIO | filters.VOICE | filters.VIDEO | filters.VIDEO_NOTE | filters.Document.ALL


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update", exc_info=context.error)
    errors = context.application.bot_data.setdefault("errors", [])
    errors.append(context.error)


def build_application(settings: BotSettings | None = None, service: ChoreoService | None = None) -> Application:
    settings = settings or BotSettings.from_env()
    if not settings.token:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set (see .env.example)")
    service = service or ChoreoService(settings)

    updates = DurableUpdateQueue(service)

    async def post_init(app: Application) -> None:
        await service.start(app.bot)
        await updates.replay(app.bot)
        from telegram import BotCommand

        await app.bot.set_my_commands([
            BotCommand("start", "how Choreo works"), BotCommand("help", "how Choreo works"),
            BotCommand("cancel", "stop the current song"), BotCommand("history", "your dances"),
            BotCommand("choreo", "in groups: reply to a song to choreograph it"),
            BotCommand("mode", "in groups: /mode vote or /mode owner"),
        ])

    async def post_shutdown(app: Application) -> None:
        await service.stop()

    builder = (
        ApplicationBuilder()
        .token(settings.token)
        # Telegram's documented limits: 30 messages/s overall, 20/min per group, 1/s per chat;
        # a 429 is still retried.
        .rate_limiter(ChatRateLimiter(max_retries=3))
        .concurrent_updates(True)
        .media_write_timeout(300)
        .write_timeout(60)
        .read_timeout(30)
        .connect_timeout(15)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .update_queue(updates)
    )
    if settings.api_base_url:
        builder = builder.base_url(settings.api_base_url)
    if settings.api_file_url:
        builder = builder.base_file_url(settings.api_file_url)
    app = builder.build()
    app.bot_data["service"] = service
    app.bot_data["learning"] = Learning(settings)
    # admins teaching the bot (before the song handlers: a /learn caption is no song)
    app.add_handler(CommandHandler("learn", admin.learn))
    app.add_handler(MessageHandler(filters.CaptionRegex(r"^/learn(@\w+)?(\s|$)"), admin.learn))
    app.add_handler(CommandHandler("library", admin.library))
    app.add_handler(CommandHandler("forget", admin.forget))
    app.add_handler(CommandHandler(["start", "help"], private.start_or_help))
    app.add_handler(CommandHandler("cancel", private.cancel))
    app.add_handler(CommandHandler("history", private.history))
    app.add_handler(CommandHandler("choreo", groups.choreo_command))
    app.add_handler(CommandHandler("mode", groups.mode_command))
    app.add_handler(CallbackQueryHandler(buttons.button))
    app.add_handler(InlineQueryHandler(inline.inline_share))
    app.add_handler(ChatMemberHandler(groups.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & SONG_FILTER, groups.group_song))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & SONG_FILTER, private.song))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, private.unsupported))
    app.add_handler(TypeHandler(Update, mark_handled), group=HANDLED_GROUP)
    app.add_error_handler(on_error)
    return app


@contextlib.asynccontextmanager
async def polling(settings: BotSettings, poll_timeout: int = 10) -> AsyncIterator[Application]:
    """The application started as ``run_polling`` starts it, inside an event loop someone else
    runs (the sandbox, the tests); stopped and shut down on leaving."""
    app = build_application(settings)
    await app.initialize()
    try:
        await app.post_init(app)
        try:
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES)
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.post_shutdown(app)
    finally:
        await app.shutdown()


def webhook_options(settings: BotSettings) -> dict[str, Any]:
    """``run_webhook``'s arguments: serve on listen:port at the public URL's path (a TLS proxy in
    front forwards there), and tell Telegram the URL and the secret it must send back."""
    return {"listen": settings.webhook_listen, "port": settings.webhook_port,
            "url_path": urlsplit(settings.webhook_url).path.lstrip("/"), "webhook_url": settings.webhook_url,
            "secret_token": settings.webhook_secret or None, "allowed_updates": Update.ALL_TYPES,
            "drop_pending_updates": False}


def run(settings: BotSettings | None = None) -> None:
    """Long polling (or the webhook server) until interrupted. The starter library is built first
    if the library is empty."""
    import asyncio

    from .admin.starter_library import ensure_library

    settings = settings or BotSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    owner = DataDirLock(settings.engine.data_dir)
    try:
        owner.acquire()  # before building the library into the data dir
    except DataDirInUse as exc:
        raise SystemExit(f"choreo bot: {exc}") from None
    built = asyncio.run(ensure_library(settings.engine, show_progress=True))
    if built:
        log.info("built the starter library: %s", built)
    app = build_application(settings)
    if settings.webhook_url:
        # the update inbox and the job runners are the same: PTB's webhook handler awaits the
        # queue's put (the inbox write) before it answers Telegram 200
        if not settings.webhook_secret:
            log.warning("CHOREO_WEBHOOK_SECRET is empty: anyone who finds the webhook URL can send updates")
        app.run_webhook(**webhook_options(settings))
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
