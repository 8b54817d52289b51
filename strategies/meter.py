"""What a session's requests cost: every HTTP request counted by phase and API family, and the org's
own ``Sforce-Limit-Info`` readings.

Kept apart from `transport` (which sends the requests) because the counting is read by people who never
send anything: the run template takes a run's share with `MeterSnapshot.since`, the harness compares it
with the org's counters, and the baselines' metering adapter feeds the same `Meter` from other libraries.

Every request is tagged with one *family* (which API it spoke; it decides the auth header and the error
format) and one *phase* (what the request was for), so a summary can say where each API call went.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

FAMILY_REST = "rest"
FAMILY_BULK1 = "bulk1"
FAMILY_BULK2 = "bulk2"
FAMILY_AUTH = "auth"
"""Login/token requests: counted by us, but not against DailyApiRequests (Salesforce counts them against
the login rate instead)."""

PHASES = (
    "auth",
    "describe",
    "limits",
    "create",
    "upload",
    "close",
    "poll",
    "results",
    "dml",
    "query",
    "abort",
    "resolve",
)
"""Phases a request can be tagged with. `limits` is the GET /limits call `auto` makes; `abort` is cleanup;
`resolve` finds out what the org did with a request whose answer was lost (`strategies.journal`)."""

_LIMIT_RE = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class LimitInfo:
    """One ``Sforce-Limit-Info: api-usage=used/max`` reading."""

    used: int
    max: int

    @property
    def remaining(self) -> int:
        return self.max - self.used

    @classmethod
    def parse(cls, header: str | None) -> LimitInfo | None:
        if not header:
            return None
        match = _LIMIT_RE.search(header)
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    def to_dict(self) -> dict[str, int]:
        return {"used": self.used, "max": self.max}


@dataclass
class MeterSnapshot:
    """A meter's counters at one moment, so a run can report only its own share (`since`)."""

    calls: Counter = field(default_factory=Counter)  # (phase, family) -> n
    seconds: dict[str, float] = field(default_factory=dict)
    retries: int = 0
    reauths: int = 0

    def since(self, earlier: MeterSnapshot) -> MeterSnapshot:
        calls = Counter(self.calls)
        calls.subtract(earlier.calls)
        seconds = {k: v - earlier.seconds.get(k, 0.0) for k, v in self.seconds.items()}
        return MeterSnapshot(
            Counter({k: v for k, v in calls.items() if v}),
            {k: v for k, v in seconds.items() if v > 0},
            self.retries - earlier.retries,
            self.reauths - earlier.reauths,
        )

    def by_phase(self) -> dict[str, int]:
        out: Counter = Counter()
        for (phase, _family), n in self.calls.items():
            out[phase] += n
        return dict(out)

    def by_family(self) -> dict[str, int]:
        out: Counter = Counter()
        for (_phase, family), n in self.calls.items():
            out[family] += n
        return dict(out)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def api_total(self) -> int:
        """Calls that count against DailyApiRequests: everything except auth (token/login) requests."""
        return sum(n for (phase, family), n in self.calls.items() if family != FAMILY_AUTH)


class Meter:
    """Counts every HTTP request (retries and re-auth included) by phase and family; thread-safe.

    It also keeps the first and the last ``Sforce-Limit-Info`` seen: their difference is the org-wide
    movement during the run, which the harness compares with our own count (other integrations move it too).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._seconds: dict[str, float] = {}
        self.retries = 0
        self.reauths = 0
        self.limit_first: LimitInfo | None = None
        self.limit_last: LimitInfo | None = None
        self.observers: list[Callable[[LimitInfo], None]] = []
        """Called with every `LimitInfo` read (a run uses this to keep its own first and last)."""

    def record(self, phase: str, family: str, limit_header: str | None = None) -> None:
        info = LimitInfo.parse(limit_header)
        with self._lock:
            self._calls[(phase, family)] += 1
            if info is not None:
                if self.limit_first is None:
                    self.limit_first = info
                self.limit_last = info
            observers = list(self.observers)
        if info is not None:
            for observer in observers:
                observer(info)

    def add_time(self, phase: str, seconds: float) -> None:
        with self._lock:
            self._seconds[phase] = self._seconds.get(phase, 0.0) + seconds

    def note_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def note_reauth(self) -> None:
        with self._lock:
            self.reauths += 1

    def snapshot(self) -> MeterSnapshot:
        with self._lock:
            return MeterSnapshot(Counter(self._calls), dict(self._seconds), self.retries, self.reauths)

    def calls_by_phase(self) -> dict[str, int]:
        return self.snapshot().by_phase()

    @property
    def total(self) -> int:
        return self.snapshot().total


__all__ = [
    "FAMILY_AUTH",
    "FAMILY_BULK1",
    "FAMILY_BULK2",
    "FAMILY_REST",
    "PHASES",
    "LimitInfo",
    "Meter",
    "MeterSnapshot",
]
