"""Music descriptors and the MusicIndex on real music (issue: foundation)."""

from __future__ import annotations

import numpy as np
import pytest

from choreo_engine.music import audio, features
from choreo_engine.music.index import MusicIndex, similarity_percent
from choreo_engine.bench.retrieval import AUGMENTATIONS, evaluate
from tests.support.data import music_tracks, shared


@pytest.fixture(scope="module")
def library() -> np.ndarray:
    descriptors = []
    for path in music_tracks()[:6]:
        y, analysis = audio.load_and_analyze(path)
        descriptors.append(features.describe_segments(y, analysis.segments))
    return np.concatenate(descriptors)


def test_descriptor_shapes():
    y, analysis = audio.load_and_analyze(shared("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"))
    default = features.describe_segments(y, analysis.segments)
    original = features.describe_segments(y, analysis.segments, kind="original")
    assert default.shape == (len(analysis.segments), 20 + 20 + 6 + 7)
    assert original.shape == (len(analysis.segments), 20)
    assert np.all(np.isfinite(default)) and np.all(np.isfinite(original))
    # segments of one song differ from each other
    assert np.unique(default.round(3), axis=0).shape[0] == len(default)
    with pytest.raises(ValueError):
        features.describe_segments(y, analysis.segments, kind="nope")


def test_key_invariant_chroma_ignores_transposition():
    profile = np.random.default_rng(1).random(12)
    assert np.allclose(features.key_invariant_chroma(profile), features.key_invariant_chroma(np.roll(profile, 3)))
    assert not np.allclose(features.key_invariant_chroma(profile), features.key_invariant_chroma(profile[::-1] ** 2))


def test_each_segment_ranks_itself_first(library):
    index = MusicIndex(seed=0).fit(library)
    assert index.k == min(10, len(library) // 12)
    for i, d in enumerate(library):
        top = index.query(d, n=6)
        assert top[0].position == i
        assert top[0].similarity == pytest.approx(100.0)
        assert len({m.position for m in top}) == 6
        sims = [m.similarity for m in top]
        assert all(0 <= s <= 100 and round(s, 2) == s for s in sims)


def test_query_tops_up_from_nearest_clusters(library):
    index = MusicIndex(seed=0).fit(library)
    sizes = np.bincount(index.labels_)
    small = int(np.argmin(sizes))
    member = int(np.flatnonzero(index.labels_ == small)[0])
    n = int(sizes[small]) + 3
    top = index.query(library[member], n=n)
    assert len(top) == n
    assert [m.cluster for m in top[: sizes[small]]] == [small] * int(sizes[small])
    assert all(m.cluster != small for m in top[sizes[small]:])


def test_small_library_uses_fewer_clusters(library):
    index = MusicIndex(seed=0).fit(library[:30])
    assert 1 <= index.k < 10


def test_deterministic_and_save_load(library, tmp_path):
    a = MusicIndex(seed=7).fit(library)
    b = MusicIndex(seed=7).fit(library)
    assert np.array_equal(a.labels_, b.labels_)
    a.save(tmp_path / "index.pkl")
    c = MusicIndex.load(tmp_path / "index.pkl")
    for d in library[::5]:
        assert [m.position for m in a.query(d)] == [m.position for m in c.query(d)]


def test_similarity_percent_two_decimals():
    assert similarity_percent(0.123456) == 12.35
    assert similarity_percent(-0.2) == 0.0


def test_altered_copies_find_their_original():
    """Pitch +-1 semitone, time stretch +-5 %, noise at 20 dB SNR: original in the top 6 for >= 90 %.

    Every segment of every shared track (552 segments, about a minute), as ``choreo bench retrieval``.
    """
    result = evaluate(music_tracks(), kind="default")
    print(result)
    assert result["self_ranked_first"] == 1.0
    assert result["top6_recall_overall"] >= 0.90
    for kind in AUGMENTATIONS:
        assert result["top6_recall"][kind] >= 0.85, kind


def test_index_saved_before_the_layout_change_loads(tmp_path):
    """Indexes cached in a data dir by earlier versions name the class ``choreo_engine.index.MusicIndex``."""
    import pickle

    index = MusicIndex(seed=0).fit(np.random.default_rng(0).normal(size=(60, 8)))
    old = pickle.dumps(index, protocol=0).replace(b"cchoreo_engine.music.index\n", b"cchoreo_engine.index\n")
    assert b"cchoreo_engine.index\n" in old
    path = tmp_path / "music-index-v1-default-s0.pkl"
    path.write_bytes(old)
    loaded = MusicIndex.load(path)
    assert isinstance(loaded, MusicIndex)
    np.testing.assert_allclose(loaded.unit_, index.unit_)
