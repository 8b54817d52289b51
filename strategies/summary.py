"""The run summary every `update` and `resume` returns, and every `RunFailed`/`RunInterrupted` carries.

It lives apart from `base` (the run template) because `errors` needs it too: exceptions that end a run
carry its summary, and `base` raises those exceptions. A module of plain data that imports nothing from
the package keeps that dependency one-way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunSummary:
    """What one `update` (or `resume`) did. `to_dict()` gives a JSON-ready form."""

    strategy: str
    sobject: str
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    unprocessed: int = 0
    pending: int = 0
    operation: str = "update"
    external_id: str | None = None
    """The field an upsert matched records on (None for an update by Id)."""
    created: int = 0
    """Successes the org created (upsert only)."""
    updated: int = 0
    """Successes that updated an existing record: every success of an update."""
    created_unknown: int = 0
    """Upsert successes whose answer was lost and whose record was read back holding the values sent: created
    or updated cannot be told. ``created + updated + created_unknown == succeeded``."""
    retried: int = 0
    """Records given the second pass (their final outcome is counted once, in the fields above)."""
    calls_by_phase: dict[str, int] = field(default_factory=dict)
    calls_by_family: dict[str, int] = field(default_factory=dict)
    total_calls: int = 0
    """Every HTTP request this run made, retries and re-authentication included."""
    api_calls: int = 0
    """The share of `total_calls` that counts against DailyApiRequests (all but login/token requests)."""
    http_retries: int = 0
    reauthentications: int = 0
    batches: int = 0
    """Bulk batches consumed from the daily allocation: Bulk 1.0 batches, or ceil(records/10,000) per
    Bulk 2.0 job."""
    wall_seconds: float = 0.0
    seconds_by_phase: dict[str, float] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)
    limit_info_before: dict[str, int] | None = None
    limit_info_after: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    interrupted: bool = False
    delegate: str | None = None
    """For `auto`: the strategy it chose."""

    @property
    def accounted(self) -> int:
        return self.succeeded + self.failed + self.unprocessed + self.pending

    @property
    def complete(self) -> bool:
        """Every record has a final outcome and nothing is left processing."""
        return self.pending == 0 and self.accounted == self.submitted

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["complete"] = self.complete
        return data


__all__ = ["RunSummary"]
