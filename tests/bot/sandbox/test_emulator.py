"""The Bot API emulator, driven by python-telegram-bot as a real HTTP client.

Async tests run with ``asyncio.run`` (no pytest plugin needed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import struct
import threading
import time
import zlib
from typing import Any, Awaitable, Callable

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputMediaPhoto,
    InputMediaVideo,
    InputTextMessageContent,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
)

import bot.sandbox.emulator as emulator_package
from bot.sandbox.emulator import (
    VENDORED_SPEC,
    ApiSpec,
    EmulatorViolation,
    FloodLimits,
    TelegramEmulator,
    default_spec_path,
    parse_formatted,
)
from tests.support.data import SHARED, skip_or_fail

# Raw do_api_request calls are deliberate here: they send what Bot's methods would refuse.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.:telegram.warnings.PTBUserWarning"),
]

VIDEO = SHARED / "people" / "pose2sim" / "single_cam01.mp4"
SONG = SHARED / "music" / "xmoto" / "menu.ogg"


@pytest.fixture
def emu() -> TelegramEmulator:
    """Flood limits off: these tests send as fast as they like (the limits have tests of their own)."""
    with TelegramEmulator(flood=FloodLimits.off()) as emulator:
        yield emulator


@pytest.fixture
def limited_emu() -> TelegramEmulator:
    """Telegram's documented flood limits on."""
    with TelegramEmulator() as emulator:
        yield emulator


def run(coro_fn: Callable[[Bot], Awaitable[Any]], emu: TelegramEmulator, **bot_kwargs: Any) -> Any:
    """Run ``coro_fn(bot)`` with a PTB Bot pointed at the emulator."""

    async def main() -> Any:
        bot_cls = ExtBot if "rate_limiter" in bot_kwargs else Bot
        async with bot_cls(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url, **bot_kwargs) as bot:
            return await coro_fn(bot)

    return asyncio.run(main())


def png(width: int, height: int) -> bytes:
    """A tiny valid PNG (stdlib only)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


def test_get_me(emu: TelegramEmulator) -> None:
    me = run(lambda bot: bot.get_me(), emu)
    assert me.is_bot and me.username == "choreo_test_bot" and me.id == 123456789
    assert [r["method"] for r in emu.requests] == ["getMe", "getMe"]  # Bot.__aenter__ + ours
    assert emu.violations == []


def test_keyboard_then_edit_reply_markup(emu: TelegramEmulator) -> None:
    user = emu.make_user("Ann", "ann")
    chat = emu.make_private_chat(user)

    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(chat["id"], "Pick <b>one</b>", parse_mode="HTML", reply_markup=keyboard("a", "b"))
        assert sent.text == "Pick one" and sent.entities[0].type == "bold"
        assert sent.from_user.is_bot and sent.chat.id == chat["id"]
        edited = await bot.edit_message_reply_markup(chat["id"], sent.message_id, reply_markup=keyboard("c"))
        assert edited.reply_markup.inline_keyboard[0][0].callback_data == "c"
        # The same markup again: Telegram says "not modified"; a caller must cope, no violation.
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_reply_markup(chat["id"], sent.message_id, reply_markup=keyboard("c"))
        assert emu.violations == []
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=chat["id"], message_id=999)

    run(scenario, emu)
    [msg] = emu.bot_messages(chat["id"])
    assert msg["kind"] == "text" and msg["text"] == "Pick one"
    assert emu.buttons(chat["id"], msg["message_id"]) == [[("C", "c")]]
    assert [h["reply_markup"]["inline_keyboard"][0][0]["callback_data"] for h in msg["edit_history"]] == ["a"]
    assert len(emu.violations) == 1 and "message to edit not found" in emu.violations[0]


def test_video_upload_reuse_and_file_download(emu: TelegramEmulator) -> None:
    user = emu.make_user("Bo")
    chat = emu.make_private_chat(user)
    song_msg = emu.send_file(chat, user, SONG, kind="audio", caption="my song")
    song_id = song_msg["audio"]["file_id"]

    async def scenario(bot: Bot) -> tuple[Any, Any, bytes]:
        with VIDEO.open("rb") as fh:
            first = await bot.send_video(chat["id"], fh, caption="preview", supports_streaming=True)
        again = await bot.send_video(chat["id"], first.video.file_id)  # by file_id: no upload
        tg_file = await bot.get_file(song_id)
        assert "%3A" not in tg_file.file_path  # PTB encodes the token's colon when downloading
        return first, again, bytes(await tg_file.download_as_bytearray())

    first, again, downloaded = run(scenario, emu)
    assert (first.video.width, first.video.height) == (1080, 1920)
    assert emu.message(chat, first.message_id)["video"]["duration"] == 2  # probed: 1.67 s
    assert first.caption == "preview" and again.video.file_id == first.video.file_id
    assert emu.uploads["sendVideo"] == 1 and len(emu.uploaded_files) == 1
    assert emu.file_bytes(first.video.file_id) == VIDEO.read_bytes()
    assert downloaded == SONG.read_bytes()
    assert song_msg["audio"]["duration"] == 129 and song_msg["audio"]["mime_type"] == "audio/ogg"
    assert [m["kind"] for m in emu.messages(chat["id"])] == ["audio", "video", "video"]
    assert emu.violations == []


def test_edit_message_media_uploads_via_attach(emu: TelegramEmulator) -> None:
    user = emu.make_user("Cy")
    chat = emu.make_private_chat(user)
    events: list[dict[str, Any]] = []
    emu.on_event = events.append

    async def scenario(bot: Bot) -> None:
        photo = emu.send_file(chat, user, VIDEO, kind="document")  # a user's file, reused by id
        sent = await bot.send_document(chat["id"], photo["document"]["file_id"], caption="doc")
        with VIDEO.open("rb") as fh:
            await bot.edit_message_media(InputMediaVideo(fh, caption="now a video"), chat["id"], sent.message_id)
        await bot.delete_message(chat["id"], sent.message_id)

    run(scenario, emu)
    msg = emu.bot_messages(chat["id"])[0]
    assert msg["kind"] == "video" and msg["caption"] == "now a video" and msg["deleted"]
    assert msg["edit_history"][0]["kind"] == "document"
    assert emu.uploads == {"editMessageMedia": 1}
    assert [e["type"] for e in events] == ["message", "message", "edit", "delete"]
    assert emu.violations == []


def test_unknown_parameter_is_rejected_and_recorded(emu: TelegramEmulator) -> None:
    chat = emu.make_private_chat(emu.make_user("Di"))
    with pytest.raises(BadRequest, match='(?i)unknown parameter "bogus"'):
        run(lambda bot: bot.do_api_request("sendMessage", api_kwargs={"chat_id": chat["id"], "text": "x", "bogus": 1}), emu)
    assert emu.violations == ['sendMessage: Bad Request: unknown parameter "bogus" for method sendMessage']
    with pytest.raises(BadRequest):  # several problems at once: every one is recorded, in order
        run(lambda bot: bot.do_api_request("sendMessage", api_kwargs={"text": 5, "bogus": 1}), emu)
    assert [v.split(": ", 2)[2] for v in emu.violations[1:]] == [
        'unknown parameter "bogus" for method sendMessage', 'parameter "chat_id" is required']
    assert emu.bot_messages(chat["id"]) == []


def test_missing_required_parameter_is_rejected(emu: TelegramEmulator) -> None:
    chat = emu.make_private_chat(emu.make_user("Ed"))
    with pytest.raises(BadRequest, match='(?i)parameter "text" is required'):
        run(lambda bot: bot.do_api_request("sendMessage", api_kwargs={"chat_id": chat["id"]}), emu)
    assert emu.violations == ['sendMessage: Bad Request: parameter "text" is required']


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": 5}]]}},
         r"reply_markup\.inline_keyboard\[0\]\[0\]\.callback_data: expected String"),
        ({"reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}}, "BUTTON_DATA_INVALID"),
        ({"reply_markup": {"inline_keyboard": [[{"text": "a", "colour": "red"}]]}}, 'unknown field "colour"'),
        ({"disable_notification": "maybe"}, "disable_notification: expected Boolean"),
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": "   "}, "message text is empty"),
        ({"text": "<blink>hi</blink>", "parse_mode": "HTML"}, "Unsupported start tag"),
        ({"text": "v1.5 *ready*", "parse_mode": "MarkdownV2"}, "Character '.' is reserved"),
        ({"reply_parameters": {"message_id": 777}}, "message to be replied not found"),
    ],
)
def test_bad_content_is_rejected(emu: TelegramEmulator, kwargs: dict[str, Any], match: str) -> None:
    chat = emu.make_private_chat(emu.make_user("Fay"))
    params = {"chat_id": chat["id"], "text": "hello", **kwargs}
    with pytest.raises(BadRequest, match="(?i)(?i)" + match):
        run(lambda bot: bot.do_api_request("sendMessage", api_kwargs=params), emu)
    assert len(emu.violations) == 1


def test_unknown_method_is_404_and_recorded(emu: TelegramEmulator) -> None:
    with pytest.raises(EndPointNotFound):
        run(lambda bot: bot.do_api_request("sendTeleport", api_kwargs={"chat_id": 1}), emu)
    assert emu.violations == ["sendTeleport: no such Bot API method"]
    assert emu.requests[-1]["status"] == 404


def test_request_cut_short_by_a_killed_client_is_not_a_call(emu: TelegramEmulator) -> None:
    """A bot killed mid-request leaves half a body: not a request Telegram would see, nor a violation."""
    import socket
    from urllib.parse import urlsplit

    chat = emu.make_private_chat(emu.make_user("Hal"))
    url = urlsplit(f"{emu.base_url}{emu.token}/sendMessage")
    body = f"chat_id={chat['id']}&text=cut".encode()
    for cut in (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (url.path.encode(), len(body) + 40, body),
                b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s" % (url.path.encode(), len(body) + 40, body)):
        with socket.create_connection((url.hostname, url.port)) as sock:
            sock.sendall(cut)
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(100) == b""  # hung up without an answer
    with httpx.Client() as http:  # the emulator still serves whole requests
        ok = http.post(f"{emu.base_url}{emu.token}/sendMessage", data={"chat_id": str(chat["id"]), "text": "whole"})
        assert ok.status_code == 200
    assert [m["text"] for m in emu.bot_messages(chat["id"])] == ["whole"]
    assert emu.violations == []


def test_json_and_form_bodies(emu: TelegramEmulator) -> None:
    """Other clients (the browser sandbox) may post JSON: types are strict there."""
    chat = emu.make_private_chat(emu.make_user("Gus"))
    with httpx.Client() as http:  # one client: building one per call costs ~0.3 s
        url = f"{emu.base_url}{emu.token}/sendMessage"
        ok = http.post(url, json={"chat_id": chat["id"], "text": "json", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}})
        assert ok.status_code == 200 and ok.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
        bad = http.post(url, json={"chat_id": str(chat["id"]), "text": 5})
        assert bad.status_code == 400 and "text: expected String" in bad.json()["description"]
        form = http.post(url, data={"chat_id": str(chat["id"]), "text": "form", "disable_notification": "true"})
        assert form.status_code == 200 and form.json()["result"]["text"] == "form"
        assert http.get(f"{emu.base_url}123:wrong/getMe").status_code == 401
    assert [m["text"] for m in emu.bot_messages(chat["id"])] == ["json", "form"]
    assert len(emu.violations) == 2  # the wrong type and the wrong token


def test_flood_limit_in_group_answers_429(limited_emu: TelegramEmulator) -> None:
    emu = limited_emu
    users = [emu.make_user(n) for n in ("Hal", "Ivy")]
    group = emu.make_group("Dance crew", users, admins=users[:1])

    async def scenario(bot: Bot) -> tuple[int, RetryAfter | None]:
        sent, limited = 0, None
        for i in range(25):
            try:
                await bot.send_message(group["id"], f"msg {i}")
                sent += 1
            except RetryAfter as exc:
                limited = limited or exc
        return sent, limited

    sent, limited = run(scenario, emu)
    assert sent == 20  # no more than 20 messages per minute in a group
    # the first of them leaves the minute's window about a minute from now
    assert limited is not None and 55 <= limited.retry_after.total_seconds() <= 60
    assert emu.errors[-1]["status"] == 429 and emu.errors[-1]["description"].startswith("Too Many Requests: retry after")
    assert emu.rate_limited == [("sendMessage", group["id"])] * (25 - sent)
    assert emu.violations == []


def test_flood_limit_in_private_chat(limited_emu: TelegramEmulator) -> None:
    emu = limited_emu
    chat = emu.make_private_chat(emu.make_user("Jo"))

    async def scenario(bot: Bot) -> None:
        await bot.send_message(chat["id"], "m0")
        with pytest.raises(RetryAfter):  # a second message within the second
            await bot.send_message(chat["id"], "m1")
        await asyncio.sleep(1.0)
        with pytest.raises(RetryAfter):
            for _ in range(2):  # edits count too
                await bot.edit_message_text(f"edited {_}", chat_id=chat["id"], message_id=1)

    run(scenario, emu)
    assert emu.rate_limited == [("sendMessage", chat["id"]), ("editMessageText", chat["id"])]


def test_long_poll_blocks_and_wakes_on_injection(emu: TelegramEmulator) -> None:
    user = emu.make_user("Max")
    chat = emu.make_private_chat(user)

    async def scenario(bot: Bot) -> None:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert time.monotonic() - started >= 0.9  # it really waited

        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.3)
        injected_at = time.monotonic()
        emu.send_text(chat, user, "/start@choreo_test_bot hi @someone")
        updates = await poll
        assert time.monotonic() - injected_at < 1.0
        [update] = updates
        entities = [(e.type, update.message.parse_entity(e)) for e in update.message.entities]
        assert entities == [("bot_command", "/start@choreo_test_bot"), ("mention", "@someone")]
        # The next offset confirms it.
        assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
        assert emu.pending_updates() == 0

        # A second bot instance polling at the same time ends the first poll with 409.
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as other:
            await other.post(f"{emu.base_url}{emu.token}/getUpdates", data={"timeout": "0"})
        with pytest.raises(Conflict):
            await first

    run(scenario, emu)


def test_updates_and_answers_match_the_spec(emu: TelegramEmulator) -> None:
    """Everything we hand out validates against the spec types PTB expects."""
    user = emu.make_user("Ned", "ned")
    group = emu.make_group("Crew", [user], admins=[user], supergroup=True)
    emu.send_text(group, user, "hello")
    emu.send_file(group, user, VIDEO, kind="video")
    emu.send_file(group, user, VIDEO, kind="photo", caption="snap")  # unprobeable as an image: 0x0
    emu.inline_query(user, "salsa")

    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(group["id"], "pick", reply_markup=keyboard("x"))
        emu.press_button(group, user, sent.message_id, "x")
        emu.remove_bot_from_chat(group, by=user)
        updates = await bot.do_api_request("getUpdates", api_kwargs={"allowed_updates": list(Update.ALL_TYPES)})
        assert [next(k for k in u if k != "update_id") for u in updates] == [
            "message", "message", "message", "inline_query", "callback_query", "my_chat_member"]
        for u in updates:
            assert emu.spec.check_value(u, "Update") == [], u
        with pytest.raises(Forbidden, match="kicked"):
            await bot.send_message(group["id"], "still here?")

    run(scenario, emu)
    assert emu.violations == [] and emu.errors[-1]["status"] == 403


def test_callback_answers_and_wait_for(emu: TelegramEmulator) -> None:
    user = emu.make_user("Oli")
    chat = emu.make_private_chat(user)

    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(chat["id"], "go?", reply_markup=keyboard("yes"))
        query_id = emu.press_button(chat, user, sent.message_id, text="YES")
        await bot.answer_callback_query(query_id, text="ok!")
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(query_id)

    run(scenario, emu)
    assert emu.callback_answers[0]["text"] == "ok!" and emu.callback_answers[0]["data"] == "yes"
    with pytest.raises(ValueError, match="no callback button"):
        emu.press_button(chat, user, 1, "nope")
    # wait_for fails fast on a violation instead of waiting for its timeout.
    bad_call = lambda: httpx.post(f"{emu.base_url}{emu.token}/sendMessage", json={"chat_id": chat["id"]})  # noqa: E731
    threading.Timer(0.2, bad_call).start()
    started = time.monotonic()
    with pytest.raises(EmulatorViolation, match='"text" is required'):
        emu.wait_for(lambda e: False, timeout=5)
    assert time.monotonic() - started < 2
    # ... and the predicate runs without the lock, so it may even call the server.
    assert emu.wait_for(lambda e: httpx.post(f"{e.base_url}{e.token}/getMe").json()["ok"], timeout=2)


def test_application_replies_to_start_and_handles_buttons(emu: TelegramEmulator) -> None:
    """A whole PTB Application polls the emulator, like the real bot will."""
    user = emu.make_user("Pia", "pia")
    chat = emu.make_private_chat(user)
    errors: list[BaseException] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"Hi {update.effective_user.first_name}!", reply_markup=keyboard("go"))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Going")
        await update.callback_query.edit_message_text("Gone")

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    async def main() -> None:
        app = (ApplicationBuilder().token(emu.token).base_url(emu.base_url)
               .base_file_url(emu.base_file_url).rate_limiter(AIORateLimiter(max_retries=2)).build())
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(pressed))
        app.add_error_handler(on_error)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            emu.send_text(chat, user, "/start")
            reply = await emu.wait_for_async(lambda e: e.bot_messages(chat["id"]), timeout=10)
            assert reply[0]["text"] == "Hi Pia!"
            emu.press_button(chat, user, reply[0]["message_id"], "go")
            await emu.wait_for_async(lambda e: e.bot_messages(chat["id"])[0]["text"] == "Gone", timeout=10)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

    asyncio.run(main())
    assert errors == []
    assert emu.errors == []  # not even a 409 from the poll PTB cancels on shutdown
    assert emu.callback_answers[0]["text"] == "Going"
    assert emu.bot_messages(chat["id"])[0]["reply_markup"] is None  # the edit dropped the keyboard
    assert emu.violations == [], emu.violations


def test_parse_modes() -> None:
    assert parse_formatted("<b>Salsa</b> &amp; <i>bachata</i>", "HTML") == (
        "Salsa & bachata",
        [{"type": "bold", "offset": 0, "length": 5}, {"type": "italic", "offset": 8, "length": 7}],
    )
    text, entities = parse_formatted("*1\\.* [salsa](http://x.y/a\\)b) 💃 __u__", "MarkdownV2")
    assert text == "1. salsa 💃 u"
    assert entities[1] == {"type": "text_link", "offset": 3, "length": 5, "url": "http://x.y/a)b"}
    assert entities[2] == {"type": "underline", "offset": 12, "length": 1}  # the emoji is 2 UTF-16 units
    with pytest.raises(Exception, match="Can't find end of Bold"):
        parse_formatted("*open", "MarkdownV2")


def test_commands_roundtrip(emu: TelegramEmulator) -> None:
    from telegram import BotCommand, BotCommandScopeAllPrivateChats

    async def scenario(bot: Bot) -> None:
        await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("dance", "Make a dance")],
                                  scope=BotCommandScopeAllPrivateChats(), language_code="ko")
        got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ko")
        assert [c.command for c in got] == ["start", "dance"]
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])

    run(scenario, emu)
    assert json.loads(json.dumps(emu.requests))  # the log is plain JSON (no file bytes)


def test_every_supported_method_through_ptb() -> None:
    """PTB accepts every answer (it parses them into its types) and nothing it sends is flagged."""
    with TelegramEmulator(flood=FloodLimits.off()) as emu:
        ann, bob = emu.make_user("Ann", "ann_dancer"), emu.make_user("Bob")
        chat = emu.make_private_chat(ann)["id"]
        group = emu.make_group("Crew", [ann, bob], admins=[ann], bot_is_admin=True)["id"]

        async def scenario(bot: Bot) -> None:
            photo = await bot.send_photo(chat, png(64, 48), caption="<i>pose</i>", parse_mode="HTML")
            assert (photo.photo[-1].width, photo.photo[-1].height) == (64, 48)
            doc = await bot.send_document(chat, io.BytesIO(b"sheet"), filename="sheet.txt")
            assert doc.document.mime_type == "text/plain"
            with SONG.open("rb") as fh:
                assert (await bot.send_audio(chat, fh, title="Menu")).audio.title == "Menu"
            with VIDEO.open("rb") as fh:  # with a thumbnail sent as attach://
                assert (await bot.send_animation(chat, fh, thumbnail=png(32, 32))).animation.height == 1920
            await bot.send_voice(chat, emu.file_bytes(doc.document.file_id), filename="v.ogg")
            await bot.send_video_note(chat, doc.document.file_id)
            await bot.send_sticker(chat, png(512, 512))
            with VIDEO.open("rb") as fh:
                album = await bot.send_media_group(chat, [InputMediaVideo(fh), InputMediaPhoto(png(8, 8))])
            assert album[0].media_group_id == album[1].media_group_id
            assert await bot.send_chat_action(chat, "upload_video")
            edited = await bot.edit_message_caption(chat, photo.message_id, caption="*new* caption", parse_mode="MarkdownV2")
            assert edited.caption == "new caption"
            assert (await bot.get_chat(group)).title == "Crew"
            assert (await bot.get_chat_member(group, ann["id"])).status == "creator"
            assert (await bot.get_chat_member(group, bot.id)).status == "administrator"
            assert [m.user.id for m in await bot.get_chat_administrators(group)] == [ann["id"], bot.id]
            assert (await bot.get_webhook_info()).url == ""
            assert await bot.delete_webhook(drop_pending_updates=True)
            query = emu.inline_query(ann, "salsa")
            assert await bot.answer_inline_query(query, [InlineQueryResultArticle("1", "Salsa", InputTextMessageContent("salsa!"))])
            first = await bot.send_message(group, "first")
            reply = await bot.send_message(group, "second", reply_parameters=ReplyParameters(first.message_id))
            assert reply.reply_to_message.message_id == first.message_id
            keyboard_msg = await bot.send_message(group, "k", reply_markup=ReplyKeyboardMarkup([["a", "b"]]))
            assert keyboard_msg.reply_markup is None  # only inline keyboards show on a Message
            assert await bot.delete_messages(group, [first.message_id, 999])
            assert await bot.leave_chat(group)
            with pytest.raises(Forbidden, match="not a member"):
                await bot.send_message(group, "still there?")

        run(scenario, emu)
        assert emu.violations == []
        assert emu.inline_answers[0]["query"] == "salsa"
        assert emu.chat_actions == [(chat, "upload_video")]
        assert [m["deleted"] for m in emu.bot_messages(group)] == [True, False, False]
        assert emu.uploads["sendMediaGroup"] == 2 and "sendVideoNote" not in emu.uploads  # reused file_id


# --------------------------------------------------------------------------- its own spec


def test_vendored_spec_is_the_shared_one() -> None:
    """The spec the emulator carries is the one in the shared data, byte for byte."""
    shared_spec = SHARED / "telegram" / "api.json"
    if not shared_spec.exists():
        skip_or_fail(f"no shared spec to compare with at {shared_spec}")
    assert VENDORED_SPEC.read_bytes() == shared_spec.read_bytes()


def test_spec_without_shared_data(tmp_path, monkeypatch) -> None:
    """A clone without ../shared: the emulator validates against its vendored spec."""
    monkeypatch.setenv("CHOREO_SHARED_DATA", str(tmp_path))  # an empty folder
    assert default_spec_path() == VENDORED_SPEC
    spec = json.loads(VENDORED_SPEC.read_text(encoding="utf-8"))
    assert "sendVideo" in spec["methods"] and "InputMediaVideo" in spec["types"]
    with TelegramEmulator() as emu:
        assert emu.spec.version == spec["version"]
        chat = emu.make_private_chat(emu.make_user("Ann"))

        async def scenario(bot: Bot) -> None:
            assert (await bot.get_me()).username == emu.bot_user["username"]
            with pytest.raises(BadRequest, match="(?i)unknown parameter"):
                await bot.do_api_request("sendMessage", api_kwargs={"chat_id": chat["id"], "text": "hi", "colour": "red"})

        run(scenario, emu)
        assert emu.violations == ['sendMessage: Bad Request: unknown parameter "colour" for method sendMessage']


def test_shared_data_spec_overrides_the_vendored_one(tmp_path, monkeypatch) -> None:
    spec_path = tmp_path / "telegram" / "api.json"
    spec_path.parent.mkdir()
    spec_path.write_text(json.dumps({"version": "Bot API test", "methods": {}, "types": {}}))
    monkeypatch.setenv("CHOREO_SHARED_DATA", str(tmp_path))
    assert default_spec_path() == spec_path
    assert ApiSpec.load(spec_path).version == "Bot API test"


def test_emulator_imports_nothing_from_choreo() -> None:
    """The emulator stands alone: only the standard library, so it can serve any bot."""
    import ast
    from pathlib import Path

    package_dir = Path(emulator_package.__file__).parent
    imported = set()
    for module in package_dir.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert imported & {"bot", "choreo_engine", "storage", "telegram"} == set()
