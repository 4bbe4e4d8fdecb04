"""The songs the sandbox page offers: short synthesized ones, made on first use and cached."""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledSong:
    key: str
    title: str
    style: str
    tempo: float
    music_key: str
    n_beats: int
    seed: int

    @property
    def seconds(self) -> float:
        return self.n_beats * 60.0 / self.tempo

    @property
    def file_name(self) -> str:
        return f"{self.title}.ogg"


# Short songs (about 20 s: five or six 8-beat parts), synthesized on first use. Seeds differ
# from the starter library's, so none of them is a song the library already holds.
BUNDLED_SONGS: tuple[BundledSong, ...] = (
    BundledSong("sunny-pop", "Sunny Pop", "pop", 118.0, "D major", 40, 80_001),
    BundledSong("night-house", "Night House", "house", 124.0, "A minor", 40, 80_002),
    BundledSong("funk-walk", "Funk Walk", "funk", 104.0, "E minor", 36, 80_003),
    BundledSong("reggae-sun", "Reggae Sunrise", "reggae", 96.0, "G major", 32, 80_004),
)


class SongShelf:
    """The bundled songs as OGG files under ``<data dir>/sandbox/songs`` (made once, then cached)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def get(self, key: str) -> BundledSong:
        for song in BUNDLED_SONGS:
            if song.key == key:
                return song
        raise KeyError(key)

    def path(self, key: str) -> Path:
        song = self.get(key)
        path = self.folder / f"{song.key}.ogg"
        with self._lock:
            if not path.exists():
                import soundfile as sf

                from choreo_engine.starter import synth

                made = synth.synthesize_song(song.style, tempo=song.tempo, key=song.music_key,
                                             n_beats=song.n_beats, seed=song.seed)
                self.folder.mkdir(parents=True, exist_ok=True)
                buf = io.BytesIO()
                sf.write(buf, made.y, made.sr, format="OGG", subtype="VORBIS")
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(buf.getvalue())
                tmp.replace(path)
        return path

    def prepare_all(self) -> None:
        for song in BUNDLED_SONGS:
            try:
                self.path(song.key)
            except Exception:  # the page makes it again on demand and reports the error there
                log.exception("could not synthesize the bundled song %s", song.key)
