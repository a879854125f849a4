"""Shared fixtures: the function package on sys.path (as Lambda puts the task root there) and a
moto server on loopback for the tiers that talk to AWS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "sentiment"
# The insights function's modules (insights_handler, csv_insights) never shadow the scoring
# function's (handler, csv_sentiment), so both task roots can be on sys.path at once.
INSIGHTS_DIR = ROOT / "functions" / "insights"
CORPUS = ROOT.parent / "shared" / "data" / "vader-icwsm2014" / "corpus.csv"

if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))
if str(INSIGHTS_DIR) not in sys.path:
    sys.path.insert(1, str(INSIGHTS_DIR))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
