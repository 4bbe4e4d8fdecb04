"""The starter library, made without any real dancer: synthesized songs (:mod:`.synth`), a move
vocabulary on a procedural skeleton (:mod:`.moves`), a mannequin drawn with OpenCV
(:mod:`.mannequin`), and the build that renders and ingests them like real dance videos (:mod:`.build`)."""
