"""Choreo's application layer: the Telegram bot, the local sandbox and the `choreo` command."""
