"""Choreo's application layer: the Telegram bot, the local sandbox and the `choreo` command."""

import os

# Media durations as datetime.timedelta, as python-telegram-bot gives them from its next major
# version on (opting in now also silences its deprecation warnings); handlers.song_media reads both.
os.environ.setdefault("PTB_TIMEDELTA", "1")
