"""A dependency-free progress bar on stderr (redrawn in place on a terminal, one line per step
otherwise)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str = "", width: int = 30) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.label = label
        self.width = width
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def step(self, what: str = "", n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        secs = time.perf_counter() - self.start
        line = f"{self.label} [{bar}] {self.done}/{self.total} {secs:5.1f}s {what}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line[:160])
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
