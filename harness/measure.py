"""Client-side measurement: peak resident memory sampled while a run executes."""

from __future__ import annotations

import threading

import psutil


class PeakMemory:
    """Samples this process's RSS every `interval` seconds; `peak_mb` is the highest value seen.

    RSS (not tracemalloc) is what a user's machine pays for, and sampling costs nothing measurable.
    A very short allocation spike between samples can be missed; 20 ms is fine for runs of seconds.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        self._peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True, name="peak-memory")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = self._proc.memory_info().rss
            if rss > self._peak:
                self._peak = rss

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return round(self._peak / 1_048_576, 1)
