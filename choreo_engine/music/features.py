"""Per-segment music descriptors (pipeline step 2's features).

Two descriptors, selectable by name:

``default``
    MFCC (20) mean and standard deviation, the chroma (12) mean's key-invariant profile, and
    rhythm/onset statistics (onset strength level and spread, pulse clarity, and the onset
    pattern within the beat). The mel spectrum and chroma are computed once over the whole
    song; MFCCs and onsets per segment from its slice of the mel spectrum.
    Three choices make it robust (``choreo bench retrieval``): the log-mel spectrum is taken
    relative to the segment's own peak, so a segment reads the same whatever the rest of its
    song does (loudness is matched separately, by the levels); it is floored 45 dB below that
    peak, so noise at 20 dB SNR barely moves the MFCCs; and the chroma enters as the
    magnitudes of its 12-point DFT, which do not change when the song is transposed - a dance
    does not depend on the key.
``original``
    The original service's: per segment, ``PCA(n_components=1, whiten=True)`` fitted on the
    20 x T MFCC matrix, giving 20 numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .audio import HOP_LENGTH, SAMPLE_RATE

N_MFCC = 20
LOG_MEL_RANGE_DB = 45.0
DESCRIPTORS = ("default", "original")
# Bumped whenever a descriptor's computation changes: stored descriptors carry the tag they
# were made with, and ones with another tag are computed again (bot.admin.library).
DESCRIPTOR_REVISIONS = {"default": 2, "original": 1}


def descriptor_tag(kind: str) -> str:
    if kind not in DESCRIPTOR_REVISIONS:
        raise ValueError(f"unknown descriptor {kind!r}; choose one of {DESCRIPTORS}")
    return f"{kind}-r{DESCRIPTOR_REVISIONS[kind]}"

# Where within a beat the onset pattern is sampled (fractions of the beat): on, e, and, a.
_SUBDIVISIONS = np.array([0.0, 0.25, 0.5, 0.75])


@dataclass
class SongFrames:
    """Frame-level features of a whole song, computed once and pooled per segment."""

    mel: np.ndarray  # (64, T) mel power; the dB reference is chosen per segment
    chroma: np.ndarray  # (12, T)
    times: np.ndarray  # (T,) frame times in seconds

    @cached_property
    def mfcc(self) -> np.ndarray:
        """(20, T) MFCCs with the whole song's peak as reference (the original variant's)."""
        return _mfcc(_log_mel(self.mel))


def song_frames(y: np.ndarray, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> SongFrames:
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=hop_length, n_mels=64)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop_length)
    n = min(mel.shape[1], chroma.shape[1])
    times = librosa.frames_to_time(np.arange(n), sr=sr, hop_length=hop_length)
    return SongFrames(mel[:, :n].astype(np.float32), chroma[:, :n], times)


def _log_mel(mel: np.ndarray) -> np.ndarray:
    """dB relative to the peak of ``mel``, floored LOG_MEL_RANGE_DB below it."""
    import librosa

    return librosa.power_to_db(mel, ref=np.max, top_db=LOG_MEL_RANGE_DB)


def _mfcc(log_mel: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)


def _frame_range(frames: SongFrames, start: float, end: float) -> slice:
    lo = int(np.searchsorted(frames.times, start))
    hi = int(np.searchsorted(frames.times, end))
    return slice(lo, max(hi, lo + 2))


def _rhythm_stats(onset: np.ndarray, times: np.ndarray, beats: np.ndarray, end: float) -> np.ndarray:
    """Onset statistics: level, variability, pulse clarity and the within-beat pattern."""
    if len(onset) == 0:
        return np.zeros(3 + len(_SUBDIVISIONS))
    scale = float(onset.mean()) + 1e-9
    norm = onset / scale
    ac = np.correlate(norm - norm.mean(), norm - norm.mean(), mode="full")[len(norm) - 1 :]
    clarity = float(ac[2 : len(ac) // 2].max() / (ac[0] + 1e-9)) if len(ac) > 8 else 0.0
    pattern = np.zeros(len(_SUBDIVISIONS))
    if len(beats) >= 1:
        grid = np.append(beats, end)
        points = (grid[:-1, None] + np.diff(grid)[:, None] * _SUBDIVISIONS[None, :]).ravel()
        pattern = np.interp(points, times, norm).reshape(-1, len(_SUBDIVISIONS)).mean(axis=0)
        pattern = pattern / (pattern.sum() + 1e-9)
    return np.concatenate([[np.log1p(scale), norm.std(), clarity], pattern])


def describe_segment(frames: SongFrames, start: float, end: float, beats: np.ndarray, kind: str = "default") -> np.ndarray:
    """The descriptor of one segment ``[start, end)`` of a song whose frames are given."""
    import librosa

    sl = _frame_range(frames, start, end)
    if kind == "original":
        return original_descriptor(frames.mfcc[:, sl])
    if kind != "default":
        raise ValueError(f"unknown descriptor {kind!r}; choose one of {DESCRIPTORS}")
    log_mel = _log_mel(frames.mel[:, sl])
    mfcc = _mfcc(log_mel)
    chroma = frames.chroma[:, sl]
    # From the segment alone, so a part reads the same wherever it sits (librosa leaves its first
    # ~70 ms at zero, for every segment alike). Giving it the frames before the segment measured
    # worse in `choreo bench retrieval` (91.2 against 92.5 %): a stand-alone clip has none.
    onset = librosa.onset.onset_strength(S=log_mel, sr=SAMPLE_RATE)
    rhythm = _rhythm_stats(onset, frames.times[sl], np.asarray(beats, dtype=float), end)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), key_invariant_chroma(chroma.mean(axis=1)), rhythm]).astype(np.float32)


def key_invariant_chroma(chroma_mean: np.ndarray) -> np.ndarray:
    """The 12-bin chroma profile as the magnitudes of its DFT (bins 1-6): transposition-invariant."""
    profile = chroma_mean / (chroma_mean.sum() + 1e-9)
    return np.abs(np.fft.rfft(profile))[1:]


def original_descriptor(mfcc: np.ndarray) -> np.ndarray:
    """PCA(n_components=1, whiten=True) on the 20 x T MFCC matrix -> 20 numbers (as the original)."""
    from sklearn.decomposition import PCA

    if mfcc.shape[1] < 2:
        return np.zeros(mfcc.shape[0], dtype=np.float32)
    return PCA(n_components=1, whiten=True).fit_transform(mfcc).ravel().astype(np.float32)


def describe_segments(
    y: np.ndarray, segments: list, sr: int = SAMPLE_RATE, kind: str = "default"
) -> np.ndarray:
    """Descriptors of every segment (objects with ``start``, ``end``, ``beats``) of one song."""
    from .compiled import ensure_compiled

    ensure_compiled()
    frames = song_frames(y, sr)
    return np.stack([describe_segment(frames, s.start, s.end, s.beats, kind) for s in segments])


def describe_clip(y: np.ndarray, sr: int = SAMPLE_RATE, beats: np.ndarray | None = None, kind: str = "default") -> np.ndarray:
    """The descriptor of a stand-alone clip (the whole of ``y`` is one segment)."""
    frames = song_frames(y, sr)
    duration = len(y) / sr
    if beats is None:
        beats = np.zeros(0)
    return describe_segment(frames, 0.0, duration, beats, kind)
