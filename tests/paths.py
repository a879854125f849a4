"""Where things are, for every tier (import from here, never from a conftest)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "sentiment"
CORPUS = ROOT.parent / "shared" / "data" / "vader-icwsm2014" / "corpus.csv"
INSIGHTS_DIR = ROOT / "functions" / "insights"
