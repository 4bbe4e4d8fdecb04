"""Webhooks: setWebhook / deleteWebhook / getWebhookInfo, and the thread that POSTs updates.

As Telegram does: while a webhook is set, getUpdates answers 409 Conflict; every pending update
(filtered by ``allowed_updates``, shared with getUpdates) is POSTed as JSON, one update per
request, with the ``X-Telegram-Bot-Api-Secret-Token`` header when a secret was set; a 2xx answer
confirms it, anything else (another status, a refused or timed-out connection) keeps it pending
and it is tried again after a growing pause, recorded in getWebhookInfo's ``last_error_*``.

The rules are those of a *local* Bot API server, which is what the emulator stands in for
(``TELEGRAM_API_BASE_URL``): plain ``http://`` URLs and any port are accepted. Updates go out one
at a time, in order (``max_connections`` is checked and reported, not used for parallel
deliveries); an answer's body is ignored (Telegram would run a method call found there).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from .errors import ApiError, bad_request
from .multipart import Upload

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first")


@dataclass
class Webhook:
    """The webhook as set, and how its deliveries went."""

    url: str
    secret: str | None
    max_connections: int
    ip_address: str | None
    has_custom_certificate: bool
    last_error_date: int | None = None
    last_error_message: str | None = None
    failures: int = 0  # in a row: the pause before the next try grows with them
    retry_at: float = 0.0  # monotonic time before which nothing is delivered


@dataclass(frozen=True)
class WebhookRetry:
    """How long to wait after a failed delivery: ``first`` seconds, doubling up to ``longest``
    (Telegram's own pauses are longer; tests want seconds). ``timeout``: how long one POST may take."""

    first: float = 0.2
    longest: float = 5.0
    timeout: float = 10.0

    def pause(self, failures: int) -> float:
        return min(self.longest, self.first * 2 ** max(0, failures - 1))


class WebhookMethods:
    """The webhook methods and the delivery thread, mixed into :class:`TelegramEmulator`.

    State (guarded by the emulator's lock): ``_webhook`` (None: getUpdates mode),
    ``webhook_deliveries`` (every POST tried: update id, HTTP status or None, error, time).
    """

    webhook_retry: WebhookRetry = WebhookRetry()

    def _init_webhook(self) -> None:
        self._webhook: Webhook | None = None
        self._webhook_thread: threading.Thread | None = None
        self.webhook_deliveries: list[dict[str, Any]] = []

    def _webhook_handlers(self) -> dict[str, Callable[[dict[str, Any], dict[str, Upload]], Any]]:
        return {"setWebhook": self._api_set_webhook, "deleteWebhook": self._api_delete_webhook,
                "getWebhookInfo": self._api_get_webhook_info}

    def _check_no_webhook(self) -> None:
        """getUpdates may not run while a webhook is set (Telegram answers 409)."""
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)

    def webhook_info(self) -> dict[str, Any]:
        """What getWebhookInfo would answer now (for tests)."""
        with self._lock:
            return self._api_get_webhook_info({}, {})

    # ---- methods (lock held) ------------------------------------------------------------

    def _api_set_webhook(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        url = p["url"]
        if not url:
            return self._api_delete_webhook(p, files)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: invalid webhook URL specified")
        try:
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise bad_request("bad webhook: invalid port specified") from None
        secret = p.get("secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("bad webhook: secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        max_connections = p.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        if "allowed_updates" in p:
            self._allowed_updates = list(p["allowed_updates"])
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = Webhook(url=url, secret=secret, max_connections=max_connections,
                                ip_address=p.get("ip_address"), has_custom_certificate="certificate" in p)
        self._ensure_delivery()
        self._changed()
        return True

    def _api_delete_webhook(self, p: dict[str, Any], files: dict[str, Upload]) -> bool:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._changed()
        return True

    def _api_get_webhook_info(self, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
        hook = self._webhook
        info: dict[str, Any] = {"url": hook.url if hook else "", "has_custom_certificate": False,
                                "pending_update_count": len(self._updates)}
        if hook is not None:
            info.update(has_custom_certificate=hook.has_custom_certificate, max_connections=hook.max_connections)
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
        return info

    # ---- delivery -----------------------------------------------------------------------

    def _ensure_delivery(self) -> None:
        """The delivery thread runs while a webhook is set and the emulator serves (lock held)."""
        if self._webhook is not None and self._webhook_thread is None and not self._closing:
            self._webhook_thread = threading.Thread(target=self._deliver_forever, daemon=True,
                                                    name=f"telegram-emulator-webhook:{self.port}")
            self._webhook_thread.start()

    def _stop_delivery(self, timeout: float = 5.0) -> None:
        """Wait for the delivery thread to notice the emulator stopped (lock not held)."""
        thread = self._webhook_thread
        if thread is not None:
            thread.join(timeout)

    def _next_delivery(self) -> tuple[Webhook, dict[str, Any]] | None:
        """Wait (lock held) for an update to POST now; None once the emulator stops."""
        while not self._closing:
            hook, timeout = self._webhook, 1.0
            if hook is not None:
                allowed = set(self._allowed_updates)
                self._updates = [u for u in self._updates if self._update_allowed(u, allowed)]
                pause = hook.retry_at - time.monotonic()
                if self._updates and pause <= 0:
                    return hook, copy.deepcopy(self._updates[0])
                if self._updates:
                    timeout = pause
            self._cond.wait(timeout)
        return None

    def _deliver_forever(self) -> None:
        while True:
            with self._lock:
                job = self._next_delivery()
                if job is None:
                    self._webhook_thread = None
                    return
            hook, update = job
            status, error = self._post_update(hook, update)
            with self._lock:
                self.webhook_deliveries.append({"update_id": update["update_id"], "url": hook.url, "status": status,
                                                "error": error, "time": time.time()})
                if error is None:  # confirmed: Telegram forgets it
                    self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                    hook.failures = 0
                else:
                    hook.failures += 1
                    hook.last_error_date, hook.last_error_message = int(time.time()), error
                    hook.retry_at = time.monotonic() + self.webhook_retry.pause(hook.failures)
                self._changed()

    def _post_update(self, hook: Webhook, update: dict[str, Any]) -> tuple[int | None, str | None]:
        """POST one update (no lock held: the bot calls us back while handling it).
        (HTTP status or None, None on success or the error as getWebhookInfo words it)."""
        headers = {"Content-Type": "application/json"}
        if hook.secret:
            headers[SECRET_HEADER] = hook.secret
        request = urllib.request.Request(hook.url, data=json.dumps(update).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.webhook_retry.timeout) as answer:
                answer.read()
                return answer.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"Wrong response from the webhook: {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"Connection failed: {reason}"
