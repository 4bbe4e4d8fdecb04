"""The section name in a part's caption ("Chorus · Part 5 of 41"), in every language (issue 14)."""

from __future__ import annotations

from bot.service.messages import section_prefix
from bot.texts import TEXTS, t
from choreo_engine.music.structure import LABELS

ANALYSIS = {"sections": [{"label": "intro", "group": 0, "first_segment": 0, "end_segment": 2, "start": 0.0, "end": 8.0},
                         {"label": "chorus", "group": 1, "first_segment": 2, "end_segment": 6, "start": 8.0, "end": 24.0}]}


def test_caption_names_the_section_in_every_language():
    for lang in TEXTS:
        assert all(f"section.{label}" in TEXTS[lang] for label in LABELS), lang
        chorus = section_prefix(lang, ANALYSIS, 4)
        assert t(lang, "section.chorus") in chorus and t(lang, "section.intro") not in chorus
        assert t(lang, "section.intro") in section_prefix(lang, ANALYSIS, 1)
    assert section_prefix("en", ANALYSIS, 4) + "Part 5" == "<b>Chorus</b> · Part 5"


def test_analyses_stored_before_sections_get_no_prefix():
    assert section_prefix("en", {"segments": []}, 0) == ""
    assert section_prefix("en", ANALYSIS, 9) == ""
