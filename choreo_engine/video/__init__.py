"""Making the videos of step 7: candidate previews, the final cross-edited dance (clips or the
mannequin avatar) and the choreography sheet (:mod:`.render`), frames piped to ffmpeg (:mod:`.encode`)."""
