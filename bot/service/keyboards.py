"""Inline keyboards and what their buttons do (the actions stored behind each opaque token)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage.rows import Button, ButtonAction, PickMode

from ..texts import t
from .practice import learn_actions, learn_row

RENDER_MODES = ("clips", "avatar")  # a "mode" button's value is the index of the mode it renders


def offer_actions(ranks: list[int], mode: PickMode) -> list[tuple[ButtonAction, int | None]]:
    """A part's buttons: one per candidate, auto, cancel, and in a vote: close the vote now."""
    actions = [(ButtonAction.PICK, r) for r in ranks] + [(ButtonAction.AUTO, None), (ButtonAction.CANCEL, None)]
    if mode == PickMode.VOTE:
        actions.append((ButtonAction.CLOSE, None))
    return actions


def offer_keyboard(lang: str, buttons: list[Button], counts: dict[int, int] | None = None) -> InlineKeyboardMarkup:
    """Candidates 1-6 in rows of three (with their vote counts), then auto, cancel and close."""
    picks = [b for b in buttons if b.action == ButtonAction.PICK]
    label = lambda b: f"{b.value}" + (f" · {counts[b.value]}" if counts and counts.get(b.value) else "")
    rows = [[InlineKeyboardButton(label(b), callback_data=b.token) for b in picks[i:i + 3]]
            for i in range(0, len(picks), 3)]
    extra = {b.action: b for b in buttons if b.action != ButtonAction.PICK}
    tail = [InlineKeyboardButton(t(lang, f"btn_{action}"), callback_data=extra[action].token)
            for action in (ButtonAction.AUTO, ButtonAction.CANCEL, ButtonAction.CLOSE) if action in extra]
    if ButtonAction.AUTO_DANCE in extra:  # the first part: the whole auto-picked dance at once
        rows.append([InlineKeyboardButton(t(lang, "btn_auto_dance"), callback_data=extra[ButtonAction.AUTO_DANCE].token)])
    return InlineKeyboardMarkup(rows + ([tail] if tail else []))


def result_actions(mode: str) -> list[tuple[ButtonAction, int | None]]:
    """Under a finished dance: render the other mode, and start again."""
    other = RENDER_MODES[1 - RENDER_MODES.index(mode)]
    return [(ButtonAction.MODE, RENDER_MODES.index(other)), (ButtonAction.AGAIN, None)] + learn_actions()


def result_keyboard(lang: str, mode: str, buttons: list[Button], song_name: str) -> InlineKeyboardMarkup:
    other = RENDER_MODES[1 - RENDER_MODES.index(mode)]
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(t(lang, f"btn_{other}"), callback_data=buttons[0].token),
         InlineKeyboardButton(t(lang, "btn_again"), callback_data=buttons[1].token)],
        learn_row(lang, buttons),
        [InlineKeyboardButton(t(lang, "btn_share"), switch_inline_query=song_name[:64])],
    ])


def with_change_button(markup: InlineKeyboardMarkup, lang: str, change: Button) -> InlineKeyboardMarkup:
    """A finished dance's keyboard with "Change a part" as its own row."""
    return InlineKeyboardMarkup([*markup.inline_keyboard,
                                 [InlineKeyboardButton(t(lang, "btn_change"), callback_data=change.token)]])
