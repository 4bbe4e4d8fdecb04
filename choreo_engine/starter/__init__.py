"""The starter library, made without any real dancer.

Songs: :mod:`.synth` synthesizes them from a music style (:mod:`.music_styles`), arranged in
sections, chords and motifs (:mod:`.arrangement`) and played on instruments (:mod:`.instruments`,
built on the signal primitives of :mod:`.dsp`).

Dancer: a procedural skeleton with MediaPipe's 33 landmarks (:mod:`.skeleton`), a vocabulary of moves
with the dance styles they suit (:mod:`.moves`, written with :mod:`.keyframes`), and the choreographer
that dances a song in the dance style of its music style (:mod:`.choreograph`); a mannequin drawn
with OpenCV shows it (:mod:`.mannequin`).

:mod:`.build` renders and ingests them like real dance videos.
"""
