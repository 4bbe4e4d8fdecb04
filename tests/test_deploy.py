"""The deployment files (deploy/) against what the project documents: every variable they read is
in .env.example, so someone copying them knows what to set (issue 13, item 5)."""

from __future__ import annotations

import re

from tests.support.data import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


def documented() -> set[str]:
    text = (PROJECT_ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.M))


def test_every_choreo_variable_in_deploy_files_is_documented():
    used = {name for path in DEPLOY.rglob("*") if path.is_file()
            for name in re.findall(r"\bCHOREO_[A-Z0-9_]+", path.read_text())}
    assert {"CHOREO_DATABASE_URL", "CHOREO_BROKER_URL", "CHOREO_MEDIA_DIR"} <= used
    assert used - documented() == set()


def test_compose_reads_only_documented_variables_from_env():
    compose = (DEPLOY / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
    assert "POSTGRES_PASSWORD" in interpolated
    assert interpolated - documented() == set()
