"""Background workers that move bulk jobs through their states on the active latency profile's clock.

Work units are Bulk 1.0 batches and Bulk 2.0 internal batches (10,000 records). A unit first waits out
its queue delay, then takes one of the profile's `bulk_parallelism` processing slots (shared by every job of the org,
as Salesforce's pod is), and, for Serial Bulk 1.0 jobs, that job's serial lane too. A unit that runs
out of its time limit goes back to the queue (its work returns the wait): it gives its slot and lane up
while it waits, then takes them again for its next attempt.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..profiles import OrgProfile

log = logging.getLogger(__name__)


class BulkEngine:
    def __init__(
        self, profile: Callable[[], OrgProfile], seed: int = 0, *, thread_done: Callable[[], None] = lambda: None
    ) -> None:
        """`thread_done` runs on a worker thread after each unit or driver: it hands that thread's
        per-thread resources (its SQLite connection and page cache) to the next unit, so memory stays
        flat however many pool threads a large job wakes up."""
        self._profile = profile
        self._thread_done = thread_done
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="bulk-worker")
        self._drivers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bulk-driver")
        self._slots_size = max(profile().timings.bulk_parallelism, 1)
        self._slots = threading.BoundedSemaphore(self._slots_size)
        self._slots_lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def profile(self) -> OrgProfile:
        return self._profile()

    def queue_delay(self, family: str) -> float:
        """A queue wait drawn from the profile's distribution for `family` (bulk1 or bulk2)."""
        with self._rng_lock:
            return self.profile.queue_delay(family, self._rng)

    def _current_slots(self) -> threading.BoundedSemaphore:
        wanted = max(self.profile.timings.bulk_parallelism, 1)
        with self._slots_lock:
            if wanted != self._slots_size:
                self._slots_size = wanted
                self._slots = threading.BoundedSemaphore(wanted)
            return self._slots

    def submit_unit(
        self, work: Callable[[], float | None], *, delay: float, lane: threading.Lock | None = None
    ) -> Future:
        """Run `work` after `delay` seconds, inside a processing slot (and `lane`, when given); when it
        returns a number of seconds, queue it again for that long and run it again (its next attempt).

        The delay runs from submission, not from when a pool thread picks the unit up: with more units
        queued than pool threads, a unit that waited for a thread must not wait its full delay again.
        """
        start_at = time.monotonic() + max(delay, 0.0)

        def run() -> None:
            wait = start_at - time.monotonic()
            while True:
                if self.sleep(wait):
                    return
                # A Serial job's unit waits for its lane *before* taking a processing slot: holding a slot
                # while blocked on the lane would starve every other job of the org's shared slots.
                if lane is not None:
                    with lane, self._current_slots():
                        again = work()
                else:
                    with self._current_slots():
                        again = work()
                if again is None:
                    return
                wait = again

        return self._pool.submit(_logged(run, self._thread_done))

    def submit_driver(self, work: Callable[[], None]) -> Future:
        return self._drivers.submit(_logged(work, self._thread_done))

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the engine is shutting down; True when interrupted by shutdown."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)

    def shutdown(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._drivers.shutdown(wait=True, cancel_futures=True)


def _logged(fn: Callable[[], None], finally_: Callable[[], None]) -> Callable[[], None]:
    def wrapper() -> None:
        try:
            fn()
        except Exception:  # a worker must never die silently: the job records the failure itself
            log.exception("bulk worker failed")
        finally:
            finally_()

    return wrapper


def elapsed_ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
