"""MusicIndex: group similar music segments and find the most similar ones (pipeline steps 2-3).

standardize -> PCA -> KMeans (k = 10 as in the original, fewer for a small library); a query
is ranked by cosine similarity within its own cluster, topped up from the nearest other
clusters when that cluster holds fewer than ``n``. Similarity is shown 0-100 with two decimals.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_CLUSTERS = 10
# A cluster should hold at least this many segments on average, or k shrinks.
MIN_PER_CLUSTER = 12
PCA_VARIANCE = 0.95


@dataclass
class Match:
    position: int  # row of the library descriptors the index was fitted on
    similarity: float  # 0-100, two decimals
    cluster: int


def similarity_percent(cosine: np.ndarray | float) -> np.ndarray | float:
    """Cosine similarity shown as a percentage with two decimals (negative shown as 0)."""
    return np.round(np.clip(cosine, 0.0, 1.0) * 100.0, 2)


class MusicIndex:
    def __init__(self, n_clusters: int = DEFAULT_CLUSTERS, seed: int = 0, pca_variance: float = PCA_VARIANCE) -> None:
        self.n_clusters = n_clusters
        self.seed = seed
        self.pca_variance = pca_variance

    # ------------------------------------------------------------------ fit
    def fit(self, descriptors: np.ndarray) -> "MusicIndex":
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        x = np.asarray(descriptors, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError("descriptors must be a non-empty (n, d) array")
        self.scaler_ = StandardScaler().fit(x)
        z = self.scaler_.transform(x)
        n_components = self.pca_variance if len(x) > x.shape[1] else min(len(x), x.shape[1])
        self.pca_ = PCA(n_components=n_components, svd_solver="full", random_state=self.seed).fit(z)
        p = self.pca_.transform(z)
        k = max(1, min(self.n_clusters, len(x) // MIN_PER_CLUSTER))
        self.kmeans_ = KMeans(n_clusters=k, n_init=10, random_state=self.seed).fit(p)
        self.labels_ = self.kmeans_.labels_.astype(int)
        self.unit_ = unit_rows(p)
        return self

    @property
    def k(self) -> int:
        return int(self.kmeans_.n_clusters)

    def project(self, descriptors: np.ndarray) -> np.ndarray:
        z = self.scaler_.transform(np.atleast_2d(np.asarray(descriptors, dtype=np.float64)))
        return self.pca_.transform(z)

    # ------------------------------------------------------------------ query
    def cluster_order(self, descriptor: np.ndarray) -> np.ndarray:
        """Clusters from the query's own to the farthest (by centroid distance)."""
        p = self.project(descriptor)[0]
        dist = np.linalg.norm(self.kmeans_.cluster_centers_ - p, axis=1)
        return np.argsort(dist, kind="stable")

    def similarities(self, descriptor: np.ndarray) -> np.ndarray:
        """Cosine similarity (-1..1) of the query to every library segment."""
        q = unit_rows(self.project(descriptor))[0]
        return self.unit_ @ q

    def query(self, descriptor: np.ndarray, n: int = 6, exclude: set[int] | None = None) -> list[Match]:
        """The ``n`` most similar segments: own cluster first, then the nearest clusters."""
        cos = self.similarities(descriptor)
        out: list[Match] = []
        for cluster in self.cluster_order(descriptor):
            members = np.flatnonzero(self.labels_ == cluster)
            if exclude:
                members = np.array([m for m in members if m not in exclude], dtype=int)
            ranked = members[np.argsort(-cos[members], kind="stable")]
            for pos in ranked[: n - len(out)]:
                out.append(Match(int(pos), float(similarity_percent(cos[pos])), int(cluster)))
            if len(out) >= n:
                break
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path: str | Path) -> "MusicIndex":
        with open(path, "rb") as fh:
            index = _IndexUnpickler(fh).load()
        if not isinstance(index, MusicIndex):
            raise TypeError(f"{path} does not hold a MusicIndex")
        return index


class _IndexUnpickler(pickle.Unpickler):
    """Reads indexes saved before the engine's modules moved into subpackages (``choreo_engine.index``)."""

    def find_class(self, module: str, name: str):
        if module == "choreo_engine.index":
            module = __name__
        return super().find_class(module, name)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero), so dot products are cosines."""
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)
