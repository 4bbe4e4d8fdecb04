"""The bot's service: the state machine between the handlers, the engine and the database.

``facade`` (:class:`ChoreoService`, what handlers call), ``jobs`` (process pool and job runners),
``stages`` (analyse, offer, render, deliver), ``choosing`` (picks, votes, buttons), ``keyboards``,
``messages`` (progress, failures, cached videos) and ``runtime`` (what the parts share).
"""

from storage.rows import Delivery, PickMode

from .facade import ChoreoService

__all__ = ["ChoreoService", "Delivery", "PickMode"]  # PickMode, Delivery: what /mode accepts
