"""Helpers shared by the tests: real data (:mod:`.data`) and the bot against the emulator (:mod:`.botkit`)."""
