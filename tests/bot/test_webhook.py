"""Webhook mode end to end: ``choreo bot`` with CHOREO_WEBHOOK_URL as a separate process, the
Bot API emulator POSTing the updates to it (issue 13, item 4)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.sandbox.emulator import SECRET_HEADER, TelegramEmulator
from tests.support.botkit import copy_library, previews, song_excerpt, wait
from tests.support.botproc import kill_group, query, start_bot_process, until
from tests.support.net import free_port, listening

SECRET = "dance_floor-42"
FORGED_UPDATE_ID = 900_000  # far above the emulator's own update ids


@pytest.fixture
def data_dir(library_dir, tmp_path) -> Path:
    return copy_library(library_dir, tmp_path / "data")


def post_update(url: str, update: dict, secret: str) -> int:
    """POST an update to the bot's webhook as Telegram would, with ``secret``: the HTTP status."""
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST",
                                     headers={"Content-Type": "application/json", SECRET_HEADER: secret})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_webhook_mode_answers_a_song_and_refuses_a_wrong_secret(data_dir, tmp_path):
    song = song_excerpt(tmp_path, ("music", "xmoto", "foxrun.ogg"), 16, "mp3")
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"

    async def scenario(emu: TelegramEmulator) -> None:
        proc = start_bot_process(emu, data_dir, tmp_path / "bot.log", CHOREO_WEBHOOK_URL=url,
                                 CHOREO_WEBHOOK_LISTEN="127.0.0.1", CHOREO_WEBHOOK_PORT=str(port),
                                 CHOREO_WEBHOOK_SECRET=SECRET)
        try:
            await wait(emu, lambda e: e.webhook_info()["url"] == url, 60, explain=lambda e: (tmp_path / "bot.log").read_text()[-3000:])
            # PTB sets the webhook first and listens right after (Telegram would retry meanwhile)
            await until(lambda: listening(port), 30, what="the bot's webhook server listening")
            ann, eve = emu.make_user("Ann", "ann"), emu.make_user("Eve", "eve")
            chat, eve_chat = emu.make_private_chat(ann), emu.make_private_chat(eve)
            # someone who is not Telegram: the same update shape, the wrong secret
            forged = {"update_id": FORGED_UPDATE_ID, "message": {
                "message_id": 1, "date": 1, "chat": eve_chat, "from": eve, "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
            refused = await asyncio.to_thread(post_update, url, forged, "not-the-secret")
            emu.send_file(chat, ann, song, kind="audio", mime_type="audio/mpeg")
            await wait(emu, lambda e: previews(e, chat["id"]), 120,
                       explain=lambda e: (e.webhook_deliveries[-3:], (tmp_path / "bot.log").read_text()[-3000:]))
            return refused, eve_chat["id"]
        finally:
            kill_group(proc)

    async def main():
        with TelegramEmulator() as emu:
            return emu, *await scenario(emu)

    emu, refused, eve_chat = asyncio.run(main())
    assert refused == 403
    assert emu.bot_messages(eve_chat) == []  # the forged /start was not answered
    assert emu.violations == []
    assert all(d["status"] == 200 for d in emu.webhook_deliveries) and emu.webhook_deliveries
    assert not any(r["method"] == "getUpdates" for r in emu.requests)  # no polling beside the webhook
    recorded = [row[0] for row in query(data_dir, "SELECT update_id FROM updates")]
    assert FORGED_UPDATE_ID not in recorded and recorded  # the song's update came in; the forged one did not
