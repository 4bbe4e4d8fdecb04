"""Every benchmark and evaluation of the engine (``choreo bench ...``); each returns a JSON-ready dict.

Speed is measured here, never asserted in tests. Figures are medians over several runs, with
the spread (max - min) / median as a reading of the machine's noise.

* :mod:`.analyze`: decoding, beats and features, per minute of audio;
* :mod:`.render`: previews and final videos against a plain ffmpeg concat;
* :mod:`.practice`: practice videos at each speed, a looped part, and the pose export;
* :mod:`.retrieval`: music retrieval accuracy on the shared tracks under augmentations;
* :mod:`.common`: what they share.

The benchmarks that need the bot's stored library and the bot itself (``library``, ``plan``,
``bot``) live in :mod:`bot.bench`, which builds on :mod:`.common`.
"""
