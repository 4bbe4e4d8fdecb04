"""The synthesizer's music styles: what makes each one sound like itself.

A :class:`StyleSpec` holds a style's tempo range, meter, harmony, drum, bass and chord patterns,
instrument palette and mix; :data:`STYLES` has the eleven the starter library is made of. (The
dancer has dance styles of its own, :data:`choreo_engine.starter.moves.STYLES`;
:data:`choreo_engine.starter.choreograph.DANCE_STYLE_OF_MUSIC` says which dance each music gets.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["STYLES", "StyleSpec"]


@dataclass(frozen=True)
class StyleSpec:
    """Everything that makes a style: tempo, meter, harmony, patterns, sounds and mix.

    Patterns are strings on a sixteenth grid (``beats_per_bar * 4`` steps per bar, longer ones
    cycle over several bars). Drums: ``X x o g`` are hits from loud to ghost, ``.`` is silence.
    Bass: ``R`` root, ``O`` octave, ``F`` fifth, ``T`` third, ``B`` root on even bars and fifth on
    odd ones (lowercase = softer). Keys: ``C`` the chord, ``c`` softer, ``1 3 5 7 8`` single chord
    tones (8 = octave). In both, ``-`` holds the previous note and ``.`` rests.
    """

    name: str
    tempo_range: tuple[float, float]
    beats_per_bar: int
    modes: tuple[str, ...]
    progressions: dict[str, tuple[tuple[int, ...], ...]]  # mode -> chord roots as scale degrees
    chord_beats: int
    drums: dict[str, str]
    bass: tuple[str, ...]
    keys: tuple[str, ...]
    kit: str
    bass_insts: tuple[str, ...]
    keys_insts: tuple[str, ...]
    pad_insts: tuple[str, ...]  # "" = no pad
    lead_insts: tuple[str, ...]
    chorus_drums: dict[str, str] = field(default_factory=dict)  # added or replaced in choruses
    arp: str = ""  # keys-style pattern for a chorus arpeggiator
    arp_insts: tuple[str, ...] = ("pluck",)
    sevenths: bool = False
    swing: float = 0.5  # share of a swung pair given to its first note (0.5 = straight)
    swing_unit: int = 1  # steps per swung unit: 1 = sixteenths, 2 = eighths
    lead_grid: int = 2  # melody rhythm grid in steps
    lead_density: float = 0.5
    sidechain: float = 0.0  # pumping of bass/keys/pad by the kick
    reverb: float = 0.25
    echo: float = 0.0  # dotted-eighth echo on the lead
    drum_gain: float = 1.0
    drum_levels: dict[str, float] = field(default_factory=dict)  # per-voice level overrides
    fill: str = "snare"  # voice for build-up rolls


_MAJOR_POP = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 5, 4))
_MINOR_POP = ((0, 5, 2, 6), (0, 3, 6, 2), (0, 5, 3, 6))

STYLES: dict[str, StyleSpec] = {
    s.name: s
    for s in [
        StyleSpec(
            "house", (118, 128), 4, ("minor", "minor", "major"),
            {"minor": _MINOR_POP + ((0, 0, 5, 6),), "major": _MAJOR_POP[:2]}, 4,
            {"kick": "X...X...X...X...", "clap": "....X.......X...", "hat": "g.g.g.g.g.g.g.g.", "ohat": "..x...x...x...x."},
            ("..R-..R-..R-..R-", "..R...O...R..FO.", "R..R..R.R..R..R."),
            ("C..C..C.C..C..C.", "...C..C....C..C.", "C-..C-..C-..C-.."),
            "house", ("saw_bass", "fm_bass"), ("piano", "organ"), ("pad", "strings"),
            ("saw_lead", "square_lead"),
            chorus_drums={"shaker": "ogxgogxgogxgogxg"}, arp="1.3.5.8.5.3.1.3.", arp_insts=("pluck",),
            sidechain=0.55, reverb=0.3, echo=0.3, lead_density=0.45,
        ),
        StyleSpec(
            "hiphop", (84, 98), 4, ("minor", "minor", "major"),
            {"minor": ((0, 3), (0, 5, 3, 4), (0, 6, 5, 6), (0, 0, 3, 3)), "major": ((1, 4, 0, 0), (0, 5, 1, 4))}, 4,
            {"kick": "X......x..X.....X.x.......X..x..", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R-.....r..R-....R-.r......R-.r..", "R---......F-.R..", "R-....R...R-...."),
            ("C-----..C-----..", "C-------C---C---", "C-.C-----...C---"),
            "boom", ("sub808", "finger", "fm_bass"), ("epiano", "piano", "pluck"), ("", "strings"),
            ("bell", "flute", "epiano", "square_lead"),
            chorus_drums={"clap": "....x.......x..."},
            sevenths=True, swing=0.6, swing_unit=1, lead_density=0.35, reverb=0.2,
        ),
        StyleSpec(
            "pop", (100, 124), 4, ("major", "major", "minor"),
            {"major": _MAJOR_POP, "minor": _MINOR_POP}, 4,
            {"kick": "X.....x.X.......", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R.R.R.R.R.R.R.R.", "R--.R-.RR--.R-..", "R-..R-.R..R-R-.."),
            ("C-.C-.C-C-.C-.C-", "1.3.5.3.1.3.5.3.", "C---C---C---C-C-"),
            "pop", ("finger", "fm_bass"), ("piano", "pluck"), ("pad", "strings"),
            ("square_lead", "flute", "bell"),
            chorus_drums={"clap": "....X.......X...", "ohat": "..............x."},
            arp="1.5.8.5.1.5.8.5.", arp_insts=("pluck", "bell"), lead_density=0.55, reverb=0.3,
        ),
        StyleSpec(
            "dembow", (88, 100), 4, ("minor",),
            {"minor": _MINOR_POP + ((0, 3, 0, 6),)}, 4,
            {"kick": "X...X...X...X...", "snare": "...x..x....x..x.", "hat": "x.x.x.x.x.x.x.x."},
            ("R-..R-..R-..R-..", "R---R---R---F---", "R-------R---F---"),
            # Chords stay on the beat: with the snare's 3+3+2 on top, a tresillo comp makes beat
            # trackers hear dotted eighths (4/3 of the tempo), an off-beat comp shifts their beats.
            ("C-..C-..C-..C-..", "C---C---C---C---", "C-------C-------"),
            "latin", ("sub808",), ("pluck", "epiano"), ("pad",),
            ("square_lead", "flute"),
            chorus_drums={"perc": "..o...o...o...o."}, arp="1.3.5.3.8.3.5.3.", arp_insts=("bell",),
            sidechain=0.25, lead_density=0.5, reverb=0.25, fill="perc", drum_levels={"snare": 0.5, "hat": 0.3},
        ),
        StyleSpec(
            "dnb", (160, 175), 4, ("minor",),
            {"minor": ((0, 5), (0, 5, 2, 6), (0, 3), (0, 6, 5, 6))}, 8,
            {"kick": "X.........X.....X.X.......x.....", "snare": "....X..g.g..X..g....X..g.g..X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R-------------F-", "R-------R---O-R-", "R-----R-----F---"),
            ("C---------------", "C-------........", "........C-------"),
            "dnb", ("reese", "saw_bass"), ("epiano", "bell"), ("strings", "pad"),
            ("bell", "flute", "saw_lead"),
            chorus_drums={"ride": "o.o.o.o.o.o.o.o.", "shaker": "gogogogogogogogo"},
            lead_grid=4, lead_density=0.5, reverb=0.35, echo=0.3,
        ),
        StyleSpec(
            "ballad", (66, 80), 4, ("major", "minor"),
            {"major": _MAJOR_POP, "minor": _MINOR_POP}, 4,
            {"kick": "X.......x.o.....", "snare": "....o.......o...", "hat": "o.g.o.g.o.g.o.g."},
            ("R-------F-------", "R-------R---F---", "R-----------R-F-"),
            ("1.3.5.8.5.3.5.3.", "1.5.8.5.3.5.8.5.", "C-------C---C---"),
            "soft", ("finger", "tuba"), ("piano", "epiano"), ("strings", "pad"),
            ("flute", "epiano", "strings"),
            chorus_drums={"snare": "....x.......x..."},
            lead_grid=2, lead_density=0.3, reverb=0.5, drum_gain=0.7,
        ),
        StyleSpec(
            "waltz", (90, 174), 3, ("major", "major", "minor"),
            {"major": ((0, 3, 4, 0), (0, 4, 4, 0), (0, 5, 1, 4), (0, 0, 3, 4)), "minor": ((0, 3, 4, 0), (0, 5, 3, 4))}, 3,
            {"kick": "X...........", "snare": "....g...g...", "hat": "x...o...o..."},
            ("B---........", "B-------....", "B---....F-.."),
            ("....C-..C-..", "....C...C...", "....c-..C-.."),
            "soft", ("tuba",), ("accordion", "piano"), ("strings",),
            ("strings", "flute", "accordion"),
            chorus_drums={"ride": "x...o...o..."},
            lead_density=0.55, reverb=0.4, drum_gain=0.8, fill="perc",
        ),
        StyleSpec(
            "funk", (96, 112), 4, ("minor",),
            {"minor": ((0, 3), (0, 0, 3, 3), (0, 3, 0, 4))}, 4,
            # Syncopated, but every part keeps more hits a beat apart than three sixteenths apart,
            # or beat trackers hear 4/3 of the tempo.
            {"kick": "X.x.....X..x....", "snare": "....X..g....X...", "hat": "xgogxgogxgogxgog"},
            ("R-.RO-.RR-.RO-.F", "R-.RO-..R-.RO..F", "R-.RO...R-.RO..."),
            ("..C.C.C...C.C.C.", "..CC..C...CC..C.", "C.C...C.C.C...C."),
            "funk", ("slap", "finger"), ("clav", "epiano", "organ"), ("organ", ""),
            ("brass", "saw_lead", "square_lead"),
            chorus_drums={"perc": "x..x..x...x.x...", "ohat": "..............x."},
            sevenths=True, swing=0.54, lead_density=0.5, reverb=0.15,
        ),
        StyleSpec(
            "rock", (110, 150), 4, ("major", "minor"),
            {"major": ((0, 3, 4, 3), (0, 4, 5, 3), (0, 3, 0, 4)), "minor": ((0, 6, 5, 6), (0, 5, 6, 0), (0, 3, 6, 0))}, 4,
            {"kick": "X.......X.x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R.R.R.R.R.R.R.R.", "R.R.R.R.R.R.F.O."),
            ("C.C.C.C.C.C.C.C.", "C-------C---C---", "C-.C-.C-C-.C-.C-"),
            "rock", ("finger",), ("power",), ("organ", ""),
            ("dist_lead", "saw_lead"),
            chorus_drums={"kick": "X.x.....X.x.....", "ride": "x.x.x.x.x.x.x.x.", "hat": ""},
            lead_density=0.5, reverb=0.2, fill="perc",
        ),
        StyleSpec(
            "reggae", (68, 88), 4, ("major", "minor"),
            {"major": ((0, 3), (0, 3, 4, 3), (0, 4, 3, 4)), "minor": ((0, 3), (0, 6, 5, 6), (0, 3, 0, 6))}, 4,
            {"kick": "........X.......", "rim": "........X.......", "hat": "x.o.x.o.x.o.x.o."},
            ("..R-.R..F-..O-..", "R--.....F-.RO-.F", "R-..R-.F..R-O-.."),
            ("..C...C...C...C.", "..c...C...c...C."),
            "reggae", ("finger", "sub808"), ("organ", "pluck"), ("organ", ""),
            ("flute", "square_lead", "bell"),
            chorus_drums={"shaker": "g.o.g.o.g.o.g.o."},
            # A light shuffle: at 0.6 and more, trackers place their beats between the beat and the skank.
            swing=0.55, swing_unit=2, lead_density=0.4, reverb=0.3, echo=0.4,
        ),
        StyleSpec(
            "trap", (130, 150), 4, ("minor",),
            {"minor": ((0, 5), (0, 3, 5, 4), (0, 6, 5, 6))}, 8,
            {"kick": "X.........X..X..X.....X...X.....", "snare": "........X.......", "hat": "xgxgxgxgxgxgxgxgxgxgxgxgxgxgxxxx"},
            ("R---------R--R--R-----R---R-----", "R-------R-------"),
            ("C-------........", "1..3..5.8..5..3."),
            "808", ("sub808",), ("bell", "piano"), ("pad", "strings"),
            ("bell", "flute", "square_lead"),
            chorus_drums={"clap": "........X......."},
            lead_density=0.4, reverb=0.3, echo=0.25,
        ),
    ]
}
