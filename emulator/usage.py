"""API usage counters: what the org has spent of its daily allocations (fact sheet sections 1.5, 2.1, 2.6).

How much each request costs is the org profile's counting rules (`profiles.CountingRules`, applied by
api/gate.py and the Bulk services); the points the documentation leaves open (Bulk API 2.0 requests,
`/limits`, login, Composite Batch N or N+1, a lagging usage figure) are fields there, with the built-in
profiles' choices documented in docs/org-profile.md. Fixed here, as documented: `GET /services/data/`
(versions) is free; identity URLs are free; requests refused for a bad session are not counted (they
never reached the API). Counters cover the emulator's lifetime since the last reset rather than a
rolling 24 hours.

What the org *reports* (Sforce-Limit-Info and `/limits`) may lag behind what it has counted:
`report_lag_s` (the profile's `usage_report_lag_s`, time-scaled) makes both show the count as it was that
many seconds ago; `snapshot()` (the admin API's ground truth) is always exact.
The daily allocation follows the edition preset; `set_daily_api_max` (admin API: `configure(daily_api_max=N)`)
overrides it, e.g. to reach REQUEST_LIMIT_EXCEEDED in a test without thousands of calls.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from .constants import BULK2_DAILY_RECORDS, DAILY_BULK_API_BATCHES, DAILY_BULK_V2_QUERY_JOBS, EDITION_DAILY_API_REQUESTS


@dataclass
class ApiUsage:
    edition: str = "developer"
    daily_api_max: int = 15_000
    report_lag_s: float = 0.0
    api_used: int = 0
    batches_used: int = 0
    bulk2_query_jobs_used: int = 0
    bulk2_records_used: int = 0
    by_family: Counter = field(default_factory=Counter)
    by_endpoint: Counter = field(default_factory=Counter)
    _history: deque = field(default_factory=deque, repr=False)  # (monotonic time, api_used) while reports lag
    _reported_base: int = 0  # the count before the oldest change in _history
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_edition(cls, edition: str, licenses: int = 0) -> ApiUsage:
        try:
            base = EDITION_DAILY_API_REQUESTS[edition]
        except KeyError:
            raise ValueError(f"unknown edition {edition!r}; known: {', '.join(EDITION_DAILY_API_REQUESTS)}") from None
        if edition == "enterprise":
            base += 1000 * licenses
        return cls(edition=edition, daily_api_max=base)

    def try_consume(self, family: str, endpoint: str, calls: int = 1) -> tuple[bool, int]:
        """Count `calls` API calls for one request; False when the allocation is exhausted (the request is refused)."""
        with self._lock:
            if self.api_used >= self.daily_api_max:
                return False, self.api_used
            self._add(family, endpoint, calls)
            return True, self.api_used

    def exhausted(self) -> bool:
        with self._lock:
            return self.api_used >= self.daily_api_max

    def consume_always(self, family: str, endpoint: str, calls: int) -> None:
        """Count calls that are never refused (login requests, when a profile counts them)."""
        with self._lock:
            self._add(family, endpoint, calls)

    def _add(self, family: str, endpoint: str, calls: int) -> None:
        self.api_used += calls
        self.by_family[family] += calls
        self.by_endpoint[endpoint] += calls
        if self.report_lag_s > 0:
            now = time.monotonic()
            self._history.append((now, self.api_used))
            # Forget changes every report already shows: only the newest of them stays the reported value.
            while len(self._history) > 1 and self._history[1][0] <= now - self.report_lag_s:
                self._reported_base = self._history.popleft()[1]

    def reported_used(self) -> int:
        """DailyApiRequests used as Sforce-Limit-Info and /limits show it: the count `report_lag_s` ago."""
        with self._lock:
            if self.report_lag_s <= 0:
                return self.api_used
            cutoff = time.monotonic() - self.report_lag_s
            reported = self._reported_base
            for at, used in self._history:
                if at > cutoff:
                    break
                reported = used
            return reported

    def set_report_lag(self, seconds: float) -> None:
        with self._lock:
            self.report_lag_s = max(seconds, 0.0)
            self._reported_base = self.api_used
            self._history.clear()

    def record_free(self, family: str, endpoint: str) -> None:
        with self._lock:
            self.by_family[f"{family} (free)"] += 1
            self.by_endpoint[f"{endpoint} (free)"] += 1

    def consume_batches(self, n: int = 1) -> bool:
        with self._lock:
            if self.batches_used + n > DAILY_BULK_API_BATCHES:
                return False
            self.batches_used += n
            return True

    def consume_bulk2_records(self, n: int) -> bool:
        with self._lock:
            if self.bulk2_records_used + n > BULK2_DAILY_RECORDS:
                return False
            self.bulk2_records_used += n
            return True

    def consume_query_job(self) -> bool:
        with self._lock:
            if self.bulk2_query_jobs_used >= DAILY_BULK_V2_QUERY_JOBS:
                return False
            self.bulk2_query_jobs_used += 1
            return True

    def set_daily_api_max(self, value: int) -> None:
        if value < 0:
            raise ValueError("daily_api_max must be zero or more")
        with self._lock:
            self.daily_api_max = value

    def reset(self) -> None:
        with self._lock:
            self.api_used = self.batches_used = self.bulk2_query_jobs_used = self.bulk2_records_used = 0
            self._reported_base = 0
            self._history.clear()
            self.by_family.clear()
            self.by_endpoint.clear()

    def limit_info(self) -> str:
        return f"api-usage={self.reported_used()}/{self.daily_api_max}"

    def limits_resource(self) -> dict:
        """The body of GET /limits (a realistic subset of keys)."""

        def pair(mx: int, used: int) -> dict:
            return {"Max": mx, "Remaining": max(mx - used, 0)}

        api_reported = self.reported_used()
        with self._lock:
            return {
                "ConcurrentAsyncGetReportInstances": pair(200, 0),
                "DailyApiRequests": pair(self.daily_api_max, api_reported),
                "DailyAsyncApexExecutions": pair(250_000, 0),
                "DailyBulkApiBatches": pair(DAILY_BULK_API_BATCHES, self.batches_used),
                "DailyBulkV2QueryFileStorageMB": pair(976_562, 0),
                "DailyBulkV2QueryJobs": pair(DAILY_BULK_V2_QUERY_JOBS, self.bulk2_query_jobs_used),
                "DailyStreamingApiEvents": pair(10_000, 0),
                "DataStorageMB": pair(5, 0),
                "FileStorageMB": pair(20, 0),
                "HourlyODataCallout": pair(10_000, 0),
                "MassEmail": pair(10, 0),
                "SingleEmail": pair(15, 0),
            }

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "edition": self.edition,
                "DailyApiRequests": {"used": self.api_used, "max": self.daily_api_max},
                "DailyBulkApiBatches": {"used": self.batches_used, "max": DAILY_BULK_API_BATCHES},
                "DailyBulkV2QueryJobs": {"used": self.bulk2_query_jobs_used, "max": DAILY_BULK_V2_QUERY_JOBS},
                "Bulk2RecordsProcessed": {"used": self.bulk2_records_used, "max": BULK2_DAILY_RECORDS},
                "by_family": dict(self.by_family),
                "by_endpoint": dict(self.by_endpoint),
            }
