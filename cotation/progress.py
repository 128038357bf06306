"""A small progress reporter on stderr (no dependency): a bar on terminals, sparse lines
elsewhere so logs stay readable."""
from __future__ import annotations

import sys
import time

from cotation.i18n import _


class Progress:
    def __init__(self, label: str, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self._last = -1
        self._t0 = time.monotonic()
        self._phase_t = self._t0
        self._tty = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        pct = int(100 * done / total)
        if pct == self._last or (not self._tty and pct % 10 and done != total):
            return
        self._last = pct
        elapsed = time.monotonic() - self._t0
        if self._tty:
            bar = "#" * (pct // 4) + "-" * (25 - pct // 4)
            end = "\n" if done >= total else ""
            self.stream.write("\r" + _("{label} [{bar}] {pct:3d}% {done}/{total} {elapsed:.1f} s")
                              .format(label=self.label, bar=bar, pct=pct, done=done, total=total,
                                      elapsed=elapsed) + end)
        else:
            self.stream.write(_("{label}: {pct}% ({done}/{total}, {elapsed:.1f} s)")
                              .format(label=self.label, pct=pct, done=done, total=total,
                                      elapsed=elapsed) + "\n")
        self.stream.flush()

    def phase(self, name: str) -> None:
        """Report that a phase (reading, compiling, scoring, writing) is done, with the time
        since the previous phase; nothing when progress is off."""
        if not self.enabled:
            return
        now = time.monotonic()
        since = self._phase_t
        self._phase_t = now
        self.stream.write(_("{label}: {name} ({elapsed:.1f} s)").format(
            label=self.label, name=name, elapsed=now - since) + "\n")
        self.stream.flush()
