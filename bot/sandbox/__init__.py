"""Local stand-ins for Telegram: a Bot API emulator (tests, browser sandbox chat)."""

from bot.sandbox.emulator import ApiSpec, EmulatorViolation, FloodLimits, TelegramEmulator

__all__ = ["ApiSpec", "EmulatorViolation", "FloodLimits", "TelegramEmulator"]
