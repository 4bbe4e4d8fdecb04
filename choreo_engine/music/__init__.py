"""The song: decoding, tempo and beats, 8-beat segments, loudness levels (:mod:`.audio`, steps 1 and 5),
descriptors of each segment's music (:mod:`.features`, step 2) and the :class:`~.index.MusicIndex`
that finds the library segments with the most similar music (:mod:`.index`, steps 2 and 3)."""
