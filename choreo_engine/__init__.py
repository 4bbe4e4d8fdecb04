"""Choreo's engine: song analysis, dance library, planning and rendering.

A plain library: it never imports ``bot`` or ``storage``.
"""

import os
from pathlib import Path

__version__ = "0.1.0"

# librosa compiles with numba on first use (~25 s); a persistent cache makes it ~3 s.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "choreo" / "numba"))
