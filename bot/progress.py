"""A tiny progress bar for long CLI runs (exports): one redrawn line on stderr, throttled."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
MIN_TOTAL = 1000  # smaller runs finish before a bar would help


class Progress:
    """`with Progress(total, "exporting") as bar: bar.update()`; silent when total < min_total."""

    def __init__(self, total: int, label: str, *, stream: TextIO | None = None,
                 min_total: int | None = None, interval: float = 0.1) -> None:
        self.total, self.label, self.done = total, label, 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = total > 0 and total >= (MIN_TOTAL if min_total is None else min_total)
        self._interval, self._last = interval, 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._enabled and now - self._last >= self._interval:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        share = min(1.0, self.done / self.total)
        filled = int(share * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        self._stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {share:4.0%}")
        self._stream.flush()
