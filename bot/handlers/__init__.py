"""python-telegram-bot callbacks: read the update, check it, hand over to the service.

``private`` (songs and commands in a private chat), ``groups`` (/choreo, /mode, the bot leaving
a group), ``buttons`` (callback queries), ``inline`` (sharing a finished dance); ``common``
holds what they share. Handlers call :class:`bot.service.ChoreoService` only.
"""
