"""The fuzz tests run the targets of `bench/fuzz.py`: its modules are put on the import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
