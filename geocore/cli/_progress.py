"""A minimal text progress bar for the command line (stderr, only on a terminal)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Callable progress bar: ``bar(fraction)`` redraws it; ``bar.close()`` ends the line."""

    def __init__(self, label: str, width: int = 30, stream=None) -> None:
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(self.width * fraction)
        elapsed = time.perf_counter() - self.start
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {elapsed:5.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
