"""Frame recorder: appends raw feed frames to a JSON-lines file that `ReplayTickSource` plays back."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import IO

__all__ = ["FrameRecorder", "frame_line"]

_logger = logging.getLogger(__name__)

_BUFFER_BYTES = 1 << 20


def frame_line(frame: str | bytes) -> str:
    """Return the one-line form of a frame, without the line end.

    A Massive frame is already a one-line JSON array and is kept exactly. A frame with a line break
    is re-serialised compactly when it is valid JSON (the same value, so the same ticks on replay),
    and otherwise written as a JSON string literal (still rejected on replay, as `not_an_array`
    rather than `invalid_json`).

    Args:
        frame: The frame's text; bytes are decoded as UTF-8 (invalid bytes replaced).
    """
    text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
    if "\n" not in text and "\r" not in text:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return json.dumps(text)
    return json.dumps(value, separators=(",", ":"))


class FrameRecorder:
    """Appends frames to a file, one per line, buffered.

    Data reaches the file at the latest one `flush_interval_s` after it was appended (a timer on the
    running event loop, so a quiet feed is flushed too), and on `close`. Writes go to a large buffer;
    the flush is a blocking write of at most about one second of feed, small next to the feed's pace.
    """

    def __init__(self, path: Path, *, flush_interval_s: float = 1.0) -> None:
        """Open `path` for appending, creating its directory when needed.

        Args:
            path: The JSON-lines file; an existing file is appended to.
            flush_interval_s: Longest time appended data stays in the buffer, seconds.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._flush_interval_s = flush_interval_s
        self._file: IO[str] | None = path.open("a", encoding="utf-8", newline="\n", buffering=_BUFFER_BYTES)
        self._flush_timer: asyncio.TimerHandle | None = None
        self.frames_written = 0
        """Frames appended so far."""

    def append(self, frame: str | bytes) -> None:
        """Append one frame as one line. Must be called on the event loop that flushes it.

        Raises:
            OSError: The file cannot be written (disk full, closed by `close`).
        """
        if self._file is None:
            raise OSError(f"recording {self.path} is closed")
        self._file.write(frame_line(frame))
        self._file.write("\n")
        self.frames_written += 1
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(
                self._flush_interval_s, self._timed_flush
            )

    def flush(self) -> None:
        """Write the buffered frames to the file now."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file; further appends raise `OSError`. Closing twice is harmless."""
        if self._file is None:
            return
        try:
            self.flush()
        finally:
            self._file.close()
            self._file = None

    def _timed_flush(self) -> None:
        self._flush_timer = None
        try:
            self.flush()
        except OSError:
            # A timer callback has no caller to raise to; the next append or close raises again.
            _logger.exception("Could not flush the frame recording %s", self.path)
