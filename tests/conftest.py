"""Shared test set-up: tests import their helpers (factory.py) from this folder."""

import sys
from pathlib import Path

TESTS = Path(__file__).parent
SHARED = TESTS.parent.parent / "shared"
sys.path.insert(0, str(TESTS))
