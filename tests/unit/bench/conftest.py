"""The bench helpers' pure parts are tested here: `bench/` is put on the import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
