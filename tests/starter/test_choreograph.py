"""Where music meets dance: every music style of the synthesizer has one dance style (choreo_engine.starter.choreograph)."""

from __future__ import annotations

import numpy as np
import pytest

from choreo_engine.starter import moves
from choreo_engine.starter.choreograph import DANCE_STYLE_OF_MUSIC, choreograph, dance_style_for
from choreo_engine.starter.music_styles import STYLES as MUSIC_STYLES


@pytest.mark.parametrize("music_style", sorted(MUSIC_STYLES))
def test_every_music_style_is_danced_in_a_dance_style_of_the_vocabulary(music_style):
    assert music_style in DANCE_STYLE_OF_MUSIC, f"music style {music_style!r} has no dance style"
    assert dance_style_for(music_style) in moves.STYLES


def test_the_mapping_names_only_music_styles():
    assert set(DANCE_STYLE_OF_MUSIC) == set(MUSIC_STYLES)


def test_an_unknown_music_style_has_no_dance_style():
    with pytest.raises(ValueError):
        dance_style_for("polka")


@pytest.mark.parametrize("music_style", sorted(MUSIC_STYLES))
def test_each_music_style_dances_as_it_did_before_the_mapping(music_style):
    """The mapping wrote out what choreographing with the music style's own name did (issue 11 changes
    no behaviour): the same moves for the same seed. A deliberate new mapping changes the starter
    library and this test with it."""
    beats = 0.3 + 0.5 * np.arange(64)
    energy = np.repeat(np.random.default_rng(0).integers(0, 11, 16), 4).astype(float)
    by_name = choreograph(beats, 33.0, 20.0, music_style, energy, seed=5)
    mapped = choreograph(beats, 33.0, 20.0, dance_style_for(music_style), energy, seed=5)
    assert by_name.moves == mapped.moves
    np.testing.assert_array_equal(by_name.world, mapped.world)
