"""The sandbox chat page in a real browser (issue 8): `choreo sandbox` + headless Chromium.

The sandbox runs as the command a person starts (`python -m bot.cli sandbox --port 0`) on a
copy of the test library; Debian's Chromium, driven by Playwright, uses the page as a person
would: uploads a song, taps moves, auto-picks the rest, plays the final video.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.botkit import copy_library, song_excerpt
from tests.support.data import PROJECT_ROOT, skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
ROOT = PROJECT_ROOT
VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
# As the machine notes say: without the background-networking flags Chromium keeps trying to
# reach Google's hosts, which this closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def chromium() -> Path:
    if not CHROMIUM.exists():  # (in CI a failure: the browser must be installable there)
        skip_or_fail("/usr/bin/chromium is missing: run scripts/install-browser.sh (Debian's chromium)")
    return CHROMIUM

OFFERS = ".pane.active .msg.bot[data-kind='video']:has(.kb-btn[data-callback])"


class SandboxProcess:
    """`choreo sandbox` in a subprocess; its output is kept for the failure message."""

    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "CHOREO_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--port", "0"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.url: str | None = None
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            m = re.search(r"Choreo sandbox: (http://\S+)", line)
            if m:
                self.url = m.group(1)
                self._found.set()
        self._found.set()

    def wait_ready(self, timeout: float = 120.0) -> str:
        self._found.wait(timeout)
        if not self.url:
            self.stop()
            raise AssertionError("the sandbox did not start:\n" + self.output())
        return self.url

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            # SIGTERM, not SIGINT: a process started from a background job ignores SIGINT
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


@pytest.fixture(scope="module")
def sandbox(library_dir, tmp_path_factory):
    data = copy_library(library_dir, tmp_path_factory.mktemp("sandbox") / "data")
    sb = SandboxProcess(data)
    try:
        sb.wait_ready()
        yield sb
    finally:
        code = sb.stop()
    assert code == 0, f"the sandbox exited with {code}:\n{sb.output()}"
    assert "Traceback" not in sb.output(), sb.output()
    assert "would refuse" not in sb.output(), sb.output()  # the emulator found no invalid bot request


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # an empty --user-data-dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1100, "height": 860})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, sandbox):
    page = browser_context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.goto(sandbox.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    yield page
    page.close()
    assert problems == [], problems


def _duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


def _wait_offer_count(page, n: int, timeout: float) -> None:
    """Until the n-th preview with buttons is there (or the final dance)."""
    page.wait_for_function(
        """([sel, n]) => document.querySelectorAll(sel).length >= 1
             && document.querySelectorAll(".pane.active .msg.bot[data-kind='video']").length >= n
           || [...document.querySelectorAll('.pane.active .msg.bot .text')]
                .some(t => t.textContent.includes('Your dance'))""",
        arg=[OFFERS, n], timeout=timeout * 1000)


def test_song_to_dance_in_the_browser(page, sandbox, tmp_path, output_dir):
    song = song_excerpt(tmp_path, VIBE_ACE, 20, "mp3")
    song_seconds = _duration(song)

    page.locator(".pane.active .file-input").set_input_files(str(song))
    page.wait_for_selector(".pane.active .msg.own[data-kind='audio']", timeout=15_000)

    picked, auto = 0, False
    for n in range(1, 40):
        _wait_offer_count(page, n, 120)
        offers = page.locator(OFFERS)
        if offers.count() == 0:
            break  # the final dance is there
        offer = offers.last
        message_id = offer.get_attribute("data-message-id")
        # the preview video loads and plays inline
        page.wait_for_function(
            "id => { const v = document.querySelector(`.msg[data-message-id='${id}'] video`);"
            " return v && v.readyState >= 2 }",
            arg=message_id, timeout=30_000)
        if n == 1:
            # the progress message was edited in place: one message ("queue" -> ... -> the parts)
            progress = page.locator(".pane.active .msg.bot[data-kind='text']:has(.reply-quote)")
            progress.filter(has_text="parts").wait_for(timeout=15_000)
            assert progress.count() == 1 and progress.locator(".edited").count() == 1
            page.screenshot(path=str(output_dir / "sandbox_preview.png"))
        if picked < 2:
            label = str(picked + 2)
            offer.locator(".kb-btn", has_text=re.compile(rf"^{label}$")).click()
            page.wait_for_selector(".pane.active .toast", timeout=15_000)  # the callback answer
            page.wait_for_function(
                "([id, label]) => { const m = document.querySelector(`.msg[data-message-id='${id}']`);"
                " return m && !m.querySelector('.kb-btn') && m.textContent.includes(`move ${label} ✓`) }",
                arg=[message_id, label], timeout=30_000)
            picked += 1
        else:
            offer.locator(".kb-btn", has_text="Auto-pick").click()
            auto = True
            break
    assert picked == 2 and auto, f"picked {picked}, auto {auto}: the song needs at least three parts"

    # the final video and the sheet
    final = page.locator(".pane.active .msg.bot[data-kind='video']", has_text="Your dance")
    final.wait_for(timeout=180_000)
    sheet = page.locator(".pane.active .msg.bot[data-kind='photo'] img")
    sheet.wait_for(timeout=60_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 200", arg=sheet.element_handle(), timeout=15_000)
    assert final.locator(".kb-btn", has_text="Mannequin").count() == 1
    assert final.locator(".kb-btn", has_text="New song").count() == 1


    # a person taps the final video: it plays, with sound, and lasts as long as the song
    video = final.locator("video")
    video.scroll_into_view_if_needed()
    video.click()
    page.wait_for_function("v => !v.paused && v.readyState >= 3 && v.currentTime > 0.3", arg=video.element_handle(),
                           timeout=20_000)
    t1 = video.evaluate("v => v.currentTime")
    time.sleep(1.0)
    state = video.evaluate(
        "v => ({t: v.currentTime, d: v.duration, muted: v.muted, paused: v.paused, w: v.videoWidth})")
    assert state["t"] > t1 + 0.3, state
    assert not state["paused"] and not state["muted"] and state["w"] > 0, state
    assert abs(state["d"] - song_seconds) <= 0.5, (state, song_seconds)

    page.locator(".pane.active .chat-scroll").evaluate("s => { s.scrollTop = s.scrollHeight }")
    time.sleep(0.5)
    page.screenshot(path=str(output_dir / "sandbox_final.png"))


def test_bad_and_oversized_files(page, sandbox, tmp_path):
    pdf = tmp_path / "lyrics.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.locator(".pane.active .file-input").set_input_files(str(pdf))
    page.wait_for_selector(".pane.active .msg.own[data-kind='document']", timeout=15_000)
    # the bot's own answer
    page.locator(".pane.active .msg.bot", has_text="only dance to sound").last.wait_for(timeout=30_000)

    big = tmp_path / "huge.mp3"
    with open(big, "wb") as fh:
        fh.truncate(21 * 1024 * 1024)
    page.locator(".pane.active .file-input").set_input_files(str(big))
    notice = page.locator(".pane.active .service.warn", has_text="20 MB")
    notice.wait_for(timeout=10_000)
    assert "huge.mp3" in notice.text_content()

    # the server refuses it too, with the same clear message (a page that skipped the check)
    state = json.load(urllib.request.urlopen(sandbox.url + "api/state", timeout=10))
    chat, user = state["chats"]["private"]["id"], state["chats"]["private"]["members"][0]
    request = urllib.request.Request(
        f"{sandbox.url}api/upload?chat={chat}&user={user}&name=huge.mp3", data=big.read_bytes(), method="POST",
        headers={"X-Choreo-Sandbox": "1", "Content-Type": "audio/mpeg"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert "20 MB" in json.load(refused.value)["error"]
    # and a POST without the page's header (another site's form) is refused
    forged = urllib.request.Request(
        f"{sandbox.url}api/text", data=json.dumps({"chat": chat, "user": user, "text": "hi"}).encode(),
        method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        urllib.request.urlopen(forged, timeout=10)
    assert forbidden.value.code == 403


def test_group_with_two_members(page, sandbox, output_dir):
    page.click(".mode-switch [data-mode='group']")
    panes = page.locator(".pane")
    assert panes.count() == 2
    ann, bo = panes.nth(0), panes.nth(1)
    assert "Ann" in ann.locator(".as-user").text_content() and "Bo" in bo.locator(".as-user").text_content()

    # Bo sends a bundled song (with the /choreo caption); both see it and the bot's preview
    bo.locator(".chip[data-song='sunny-pop']").click()
    ann.locator(".msg[data-kind='audio']", has_text="Sunny Pop").wait_for(timeout=15_000)
    offer_ann = ann.locator(".msg.bot[data-kind='video']:has(.kb-btn[data-callback])").last
    offer_ann.wait_for(timeout=120_000)
    bo.locator(".msg.bot[data-kind='video']:has(.kb-btn[data-callback])").last.wait_for(timeout=15_000)

    # Ann taps a move: only the starter picks, so Ann (and only Ann) gets the alert
    offer_ann.locator(".kb-btn", has_text=re.compile(r"^1$")).click()
    alert = ann.locator(".alert-box")
    alert.wait_for(state="visible", timeout=15_000)
    assert "Only" in alert.text_content() and "bo" in alert.text_content().lower()
    assert bo.locator(".alert-box").is_hidden()
    page.screenshot(path=str(output_dir / "sandbox_group.png"))
    alert.locator("button").click()

    # Bo cancels: both panes see the bot's answer
    offer_bo = bo.locator(".msg.bot[data-kind='video']:has(.kb-btn[data-callback])").last
    offer_bo.locator(".kb-btn", has_text="Cancel").click()
    for pane in (ann, bo):
        pane.locator(".msg.bot", has_text="Cancelled").wait_for(timeout=30_000)


def _first_event(url: str) -> dict:
    with urllib.request.urlopen(url + "events", timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        for raw in stream:
            line = raw.decode()
            if line.startswith("data: "):
                return json.loads(line[len("data: "):])
    raise AssertionError("no event")


def test_events_and_range_requests(sandbox):
    """Without the browser: the snapshot a page gets first, and byte ranges of stored files."""
    state = json.load(urllib.request.urlopen(sandbox.url + "api/state", timeout=10))
    group = state["chats"]["group"]
    # a song in the group without /choreo: the bot (rightly) ignores it, so no work starts
    send = urllib.request.Request(
        sandbox.url + "api/song", method="POST",
        data=json.dumps({"chat": group["id"], "user": group["members"][1], "song": "funk-walk"}).encode(),
        headers={"X-Choreo-Sandbox": "1", "Content-Type": "application/json"})
    message_id = json.load(urllib.request.urlopen(send, timeout=30))["message_id"]

    snapshot = _first_event(sandbox.url)
    assert snapshot["type"] == "snapshot" and snapshot["state"]["chats"] == state["chats"]
    song = next(m for m in snapshot["messages"][str(group["id"])] if m["message_id"] == message_id)
    assert song["kind"] == "audio" and song["media"]["file_name"] == "Funk Walk.ogg"

    url = f"{sandbox.url}file/{song['file_id']}"
    whole = urllib.request.urlopen(url, timeout=10)
    data = whole.read()
    assert whole.status == 200 and whole.headers["Content-Type"] == "audio/ogg" and data[:4] == b"OggS"
    for header, expected in (("bytes=0-99", data[:100]), ("bytes=-10", data[-10:]), ("bytes=100-", data[100:])):
        part = urllib.request.urlopen(urllib.request.Request(url, headers={"Range": header}), timeout=10)
        assert part.status == 206 and part.read() == expected, header
        assert part.headers["Content-Range"].endswith(f"/{len(data)}")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{sandbox.url}file/no-such-file", timeout=10)
    assert missing.value.code == 404
