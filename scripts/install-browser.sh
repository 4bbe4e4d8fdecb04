#!/bin/sh
# Debian's Chromium for the browser test (tests/test_sandbox_browser.py), driven by Playwright.
# Idempotent: does nothing when /usr/bin/chromium is there. Playwright never downloads a
# browser of its own here: the test launches /usr/bin/chromium.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

# chromium-driver: ChromeDriver, for anyone who prefers Selenium; fonts-noto-color-emoji: the
# bot's messages are full of emoji, which would be empty boxes in the test's screenshots.
PACKAGES="chromium chromium-driver fonts-noto-color-emoji"

# Without the browser its test is skipped, except in CI (CI=true), where that fails the run.
case "$(echo "${CI:-}" | tr '[:upper:]' '[:lower:]')" in true|1|yes) CANNOT=1 ;; *) CANNOT=0 ;; esac

if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser.sh: /usr/bin/chromium is missing and this is not root; run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $PACKAGES" >&2
    echo "(without it the browser test is skipped; in CI it fails)" >&2
    exit $CANNOT
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser.sh: no apt-get here; install Chromium as /usr/bin/chromium to run the browser test" >&2
    exit $CANNOT
fi

echo "install-browser.sh: installing $PACKAGES (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086  # the list is meant to split
apt-get install -y -q --no-install-recommends $PACKAGES
/usr/bin/chromium --version
