"""Shared fixtures: a moto server on loopback for the tiers that talk to AWS, and the corpus.

The repository root and the function package are on sys.path through pyproject.toml's
`pythonpath` (the function package as Lambda puts the task root there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import CORPUS


@pytest.fixture(scope="session")
def moto_server():
    """One moto server process for the session (another process, like the real endpoint)."""
    from infra.endpoint import start_moto_server

    server = start_moto_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    if not CORPUS.exists():
        pytest.fail(f"the shared corpus is missing: {CORPUS} (see DEVELOPERS.md)")
    return CORPUS
