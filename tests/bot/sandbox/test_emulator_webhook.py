"""The emulator's webhooks, against python-telegram-bot as the client and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict

from bot.sandbox.emulator import SECRET_HEADER, FloodLimits, TelegramEmulator, WebhookRetry
from tests.support.net import free_port


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every POST and answers with ``statuses`` in
    turn (200 once they run out)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.calls: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.calls.append({"path": self.path, "secret": self.headers.get(SECRET_HEADER),
                                       "type": self.headers.get("Content-Type"), "update": json.loads(body),
                                       "answered": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def emu():
    with TelegramEmulator(flood=FloodLimits.off()) as emulator:
        emulator.webhook_retry = WebhookRetry(first=0.05, longest=0.2, timeout=2.0)
        yield emulator


def run(emu: TelegramEmulator, scenario) -> Any:
    async def main() -> Any:
        async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
            return await scenario(bot)

    return asyncio.run(main())


def test_updates_are_posted_with_the_secret_and_get_updates_conflicts(emu):
    receiver = Receiver()
    ann = emu.make_user("Ann")
    chat = emu.make_private_chat(ann)

    async def scenario(bot: Bot) -> None:
        assert await bot.set_webhook(receiver.url, secret_token="s3cret_-X", allowed_updates=["message"])
        info = await bot.get_webhook_info()
        assert (info.url, info.max_connections, info.allowed_updates) == (receiver.url, 40, ("message",))
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        emu.send_text(chat, ann, "hello")
        offer = await bot.send_message(chat["id"], "tap", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("tap", callback_data="tap")]]))
        emu.press_button(chat, ann, offer.message_id, "tap")  # a callback_query: not asked for
        emu.send_text(chat, ann, "second")
        await emu.wait_for_async(lambda e: len(e.webhook_deliveries) == 2, 10)
        assert (await bot.get_webhook_info()).pending_update_count == 0
        # without the webhook, getUpdates gets what came after it
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        emu.send_text(chat, ann, "after")
        assert [u.message.text for u in await bot.get_updates()] == ["after"]

    try:
        run(emu, scenario)
    finally:
        receiver.close()
    assert [c["update"]["message"]["text"] for c in receiver.calls] == ["hello", "second"]  # no callback_query
    assert {(c["path"], c["secret"], c["type"]) for c in receiver.calls} == {("/hook", "s3cret_-X", "application/json")}
    assert receiver.calls[0]["update"]["update_id"] < receiver.calls[1]["update"]["update_id"]
    assert emu.violations == []


def test_failed_deliveries_are_retried_until_answered_2xx(emu):
    receiver = Receiver(statuses=[500, 403])
    ann = emu.make_user("Ann")
    chat = emu.make_private_chat(ann)

    async def scenario(bot: Bot) -> tuple:
        await bot.set_webhook(receiver.url)
        emu.send_text(chat, ann, "again and again")
        await emu.wait_for_async(lambda e: len(e.webhook_deliveries) >= 2, 10)
        failing = await bot.get_webhook_info()
        await emu.wait_for_async(lambda e: e.webhook_deliveries[-1]["error"] is None, 10)
        return failing, await bot.get_webhook_info()

    try:
        failing, after = run(emu, scenario)
    finally:
        receiver.close()
    assert [c["answered"] for c in receiver.calls] == [500, 403, 200]
    assert len({c["update"]["update_id"] for c in receiver.calls}) == 1  # the same update, three times
    assert failing.pending_update_count == 1 and failing.last_error_message.startswith("Wrong response from the webhook")
    assert after.pending_update_count == 0 and "403" in after.last_error_message  # the last error stays reported
    assert [d["status"] for d in emu.webhook_deliveries] == [500, 403, 200]


def test_a_webhook_nobody_listens_on_keeps_the_update(emu):
    url = f"http://127.0.0.1:{free_port()}/hook"  # a closed port
    ann = emu.make_user("Ann")
    chat = emu.make_private_chat(ann)

    async def scenario(bot: Bot):
        await bot.set_webhook(url)
        emu.send_text(chat, ann, "anyone?")
        await emu.wait_for_async(lambda e: len(e.webhook_deliveries) >= 2, 10)
        return await bot.get_webhook_info()

    info = run(emu, scenario)
    assert info.pending_update_count == 1
    assert info.last_error_message.startswith("Connection failed")
    assert all(d["status"] is None for d in emu.webhook_deliveries)


@pytest.mark.parametrize("kwargs, match", [
    ({"url": "ftp://127.0.0.1/hook"}, "invalid webhook URL"),
    ({"url": "http://127.0.0.1/hook", "secret_token": "not allowed!"}, "secret token"),
    ({"url": "http://127.0.0.1/hook", "max_connections": 101}, "max_connections"),
])
def test_bad_webhooks_are_refused(emu, kwargs, match):
    async def scenario(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=f"(?i){match}"):  # PTB re-cases the description
            await bot.set_webhook(**kwargs)
        assert (await bot.get_webhook_info()).url == ""

    run(emu, scenario)
    assert len(emu.violations) == 1 and match.lower() in emu.violations[0].lower()


def test_setting_an_empty_url_removes_the_webhook(emu):
    receiver = Receiver()

    async def scenario(bot: Bot) -> list:
        await bot.set_webhook(receiver.url, drop_pending_updates=True)
        await bot.set_webhook("")
        return await bot.get_updates()

    try:
        assert run(emu, scenario) == ()
    finally:
        receiver.close()
