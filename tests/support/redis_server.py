"""The session's throw-away Redis (:mod:`bot.localcluster`) for the tests that need a broker.

CI installs the binary (``scripts/install-services.sh``); a developer without it gets a skip,
CI a failure.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from bot.localcluster import LocalRedis, RedisMissing, start_redis
from tests.support.data import skip_or_fail


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedis]:
    with tempfile.TemporaryDirectory(prefix="choreo-redis-") as folder:
        try:
            server = start_redis(Path(folder))
        except RedisMissing as exc:
            skip_or_fail(f"{exc}; scripts/install-services.sh installs it")
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        try:
            yield server
        finally:
            server.stop()
