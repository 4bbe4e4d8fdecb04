"""The real bot (PTB application) on a loop and thread of its own, polling the emulator."""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger(__name__)


class BotRunner:
    """The real PTB application, started as ``choreo bot`` would, on its own loop and thread."""

    def __init__(self, settings, cleanup=None) -> None:
        self.settings = settings
        self.cleanup = cleanup  # a coroutine function run before the bot starts and after it stops
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.app = None

    def start(self, timeout: float = 180.0) -> None:
        self._thread = threading.Thread(target=self._main, name="sandbox-bot", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the bot did not start in {timeout:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"the bot could not start: {self._error!r}") from self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported to start(); after start, logged
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("the bot stopped with an error")
        finally:
            self._ready.set()

    async def _run(self) -> None:
        from bot.app import polling

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.cleanup is not None:
            await self.cleanup()
        try:
            async with polling(self.settings) as app:
                self.app = app
                self._ready.set()
                await self._stop.wait()
        finally:
            if self.cleanup is not None:
                await self.cleanup()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop is already closed
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
