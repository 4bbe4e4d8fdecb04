"""The dancers: MediaPipe poses (:mod:`.pose`, step 4), motion size and boundaries (:mod:`.motion`,
steps 4 and 5), beat-to-beat retiming (:mod:`.timewarp`), the dance as poses on the song's
timeline (:mod:`.composition`) and the library of dance clips with its ingest (:mod:`.library`)."""
