"""``choreo health``: can this process reach what Choreo needs?

Three checks, each one JSON line (``check``, ``ok``, ``target``, ``detail``, ``seconds``):

* ``database``: the database opens (through ``storage``, as the bot opens it) and answers a query;
* ``broker``: with ``CHOREO_BROKER_URL`` set, a connection to it (kombu, the transport Celery
  uses) within the timeout; without it, nothing to reach (engine work runs in the bot's process);
* ``media``: the media root exists and takes a file written, renamed and deleted, as every
  preview and render is written (a half-written file is never seen under its final name).

:func:`main` prints them and answers 0 when all are fine, 1 otherwise, so container health
checks, systemd ``ExecStartPre`` and monitoring can call it as it is.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

from storage.health import database_answers

from .config import BotSettings

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    target: str  # what was checked, without passwords
    detail: str
    seconds: float


def redacted(url: str) -> str:
    """``scheme://user:***@host/…``: a URL fit for logs (health output ends up in them)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _timed(name: str, target: str, probe: Callable[[], str]) -> Check:
    """Run ``probe`` (its detail on success, an exception on failure) into a :class:`Check`."""
    started = time.monotonic()
    try:
        detail, ok = probe(), True
    except Exception as exc:  # every failure is an answer here, not a crash
        detail, ok = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, False
    return Check(name, ok, target, detail, round(time.monotonic() - started, 3))


def check_database(database: str | Path, timeout: float = DEFAULT_TIMEOUT) -> Check:
    def probe() -> str:
        version = asyncio.run(asyncio.wait_for(database_answers(database), timeout))
        return f"answers (schema {version})"

    return _timed("database", redacted(str(database)), probe)


def check_broker(url: str, timeout: float = DEFAULT_TIMEOUT) -> Check:
    if not url:
        return Check("broker", True, "", "not configured: engine work runs in the bot's own process pool", 0.0)

    def probe() -> str:
        from kombu import Connection  # installed with Celery; only needed with a broker

        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
        with Connection(url, connect_timeout=timeout, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
            return f"connected ({conn.transport_cls})"

    return _timed("broker", redacted(url), probe)


def check_media(root: Path) -> Check:
    def probe() -> str:
        if not root.is_dir():
            raise FileNotFoundError(f"{root} is not a directory" if root.exists() else f"{root} does not exist")
        # unique per host and process: every machine sharing the volume may probe at once
        stem = f".health-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        partial, final = root / f"{stem}.part", root / f"{stem}.probe"
        payload = secrets.token_bytes(64)
        try:
            partial.write_bytes(payload)
            os.replace(partial, final)
            if final.read_bytes() != payload:
                raise OSError(f"{final} reads back different bytes")
        finally:
            partial.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
        return "writable (write, rename, delete)"

    return _timed("media", str(root), probe)


def run_checks(settings: BotSettings, timeout: float = DEFAULT_TIMEOUT) -> list[Check]:
    return [check_database(settings.engine.database, timeout), check_broker(settings.broker_url, timeout),
            check_media(settings.engine.media_dir)]


def main(settings: BotSettings | None = None, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Print one JSON line per check; 0 when everything is reachable, else 1."""
    checks = run_checks(settings or BotSettings.from_env(), timeout)
    for check in checks:
        print(json.dumps(asdict(check), ensure_ascii=False), flush=True)
    return 0 if all(c.ok for c in checks) else 1
