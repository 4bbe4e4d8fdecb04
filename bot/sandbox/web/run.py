"""``choreo sandbox``: build the starter library if need be, start the sandbox, serve until stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading

from .sandbox import Sandbox
from .server import LOOPBACK_HOSTS


async def _ensure_library(engine_settings) -> dict | None:
    """The starter library on first start, with a progress bar in the terminal."""
    from bot.admin import starter_library

    return await starter_library.ensure_library(engine_settings, show_progress=True)


def run_sandbox(port: int = 8080, host: str = "127.0.0.1", settings=None) -> None:
    """Start the sandbox and serve until Ctrl-C. ``settings``: ``BotSettings`` (default: from the env)."""
    from bot.config import BotSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "telegram.ext", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = settings or BotSettings.from_env()
    built = asyncio.run(_ensure_library(settings.engine))
    if built:
        print(f"Built the starter library: {built['added']} clips, {built['segments']} segments "
              f"in {built['seconds']:.0f} s", flush=True)
    if host not in LOOPBACK_HOSTS:
        print(f"Warning: serving on {host}: anyone who can reach this address can use the sandbox.", flush=True)
    try:
        sandbox = Sandbox(settings, host=host, port=port)
    except FileNotFoundError as exc:
        raise SystemExit(f"choreo sandbox: the Bot API spec is missing ({exc.filename}); "
                         "set CHOREO_SHARED_DATA to the shared data folder") from None
    try:
        sandbox.start()
    except OSError as exc:
        raise SystemExit(f"choreo sandbox: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager, a test) stops as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    print(f"\nChoreo sandbox: {sandbox.url}\n"
          f"Open it in a browser to chat with the bot (the real bot, on this computer). Ctrl-C stops it.\n",
          flush=True)
    try:
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping the sandbox...", file=sys.stderr, flush=True)
        sandbox.stop()
