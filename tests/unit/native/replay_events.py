"""Child of test_native_builds.py: replay a recorded Massive feed through the detectors, print the events.

Usage: python replay_events.py FEED.jsonl
The first line is the detection core's build (`tickstock_server.native.mode()`), then one line per
event and per bar, as `repr`, in emission order.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tickstock_server import native
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.feeds.massive_frames import MassiveFrameParser


def main() -> None:
    parser = MassiveFrameParser()
    engine = DetectionEngine()
    lines = [native.mode()]
    for frame in Path(sys.argv[1]).read_text().splitlines():
        for tick in parser.parse(frame, None):
            lines.extend(repr(event) for event in engine.process(tick))
    lines.extend(repr(bar) for bar in engine.flush_bars())
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
