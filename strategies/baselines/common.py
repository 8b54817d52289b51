"""What every library baseline shares: defaults of a plain library user, lazy imports, outcome helpers.

A baseline is an `UpdateStrategy` whose `_submit` calls an unmodified third-party library the way its
documentation (or the seed article) shows, with the library's default settings. Differences from our
strategies, all deliberate:

* ``validate`` defaults to False and ``retry_pass`` to False: the libraries do neither, and a baseline
  must measure the library, not our additions (both can still be switched on for an experiment);
* outcomes are reported only as far as the library reports them; a record the library never reported on is
  ``unprocessed`` with the code `NOT_REPORTED_BY_LIBRARY`, never a success (`report_missing`);
* an upsert (``operation="upsert"``, ``external_id``) goes through the library's own upsert call, and a
  success carries ``created`` only where the library reports it (else it is counted ``created_unknown``);
  a row the library cannot send as the API needs fails with `NOT_SENDABLE_BY_LIBRARY`, naming why, and
  without a call (e.g. simple-salesforce's REST upsert puts the key in the URL unencoded);
* ``time_scale``: on a time-scaled emulator profile (`--time-scale 20`), the library's own waits are
  scaled by the same factor (see `metering.scaled_sleep`), so it polls as often, relative to the job, as
  it would in real time; 1 (the default) changes nothing.

The libraries are imported only when a baseline runs (`require`): they are optional dependencies (the
``test`` extra pins them), and importing `strategies` must not need them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib import metadata
from typing import Any, ClassVar

from ..base import UpdateStrategy
from ..errors import ConfigurationError
from ..meter import FAMILY_BULK1
from ..sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome
from ..transport import OrgSession

NOT_REPORTED = "NOT_REPORTED_BY_LIBRARY"
"""Outcome code for a record the library never reported on (its result is unknown to a library user)."""
NOT_SENDABLE = "NOT_SENDABLE_BY_LIBRARY"
"""Outcome code for a row the library cannot send as the API needs it (refused before any call)."""
LIBRARY_ERROR = "LIBRARY_ERROR"
"""Outcome code for the records of a call the library raised on (their fate is unknown to the user)."""


def require(module: str, package: str) -> Any:
    """Import `module` of the optional `package`, with an installation hint when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"the baseline needs the {package} package: pip install '{package}' (or pip install -e '.[test]')"
        ) from exc


def library_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def access_token(session: OrgSession) -> str:
    """The session's current token, for a library that takes a session id (never logged or stored)."""
    return session.auth_headers(FAMILY_BULK1)["X-SFDC-Session"]


def fields_of(record: Mapping[str, Any], leave_out: str = "Id") -> dict[str, Any]:
    """The record without its Id (an upsert: without its key, `leave_out`, in any case): the field values a
    library's update or upsert call takes."""
    left = leave_out.lower()
    return {k: v for k, v in record.items() if k.lower() != left}


def error_outcome(number: int | None, record_id: str | None, errors: Any, default_code: str) -> RecordOutcome:
    """A FAILED outcome from a Salesforce error list ``[{statusCode|errorCode, message, fields}]``."""
    first: Mapping[str, Any] = {}
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        first = errors[0]
    elif isinstance(errors, Mapping):
        first = errors
    code = str(first.get("statusCode") or first.get("errorCode") or default_code)
    message = str(first.get("message") or ("" if first else str(errors)[:500]))
    fields = tuple(str(f) for f in (first.get("fields") or ()))
    return RecordOutcome(number, record_id, FAILED, code, message, fields)


def success(number: int | None, record_id: str | None, created: bool | None = None) -> RecordOutcome:
    """A success; `created` is an upsert's answer where the library gives it (None: not known)."""
    return RecordOutcome(number, record_id, SUCCEEDED, created=created)


def created_flag(value: Any) -> bool | None:
    """A library's ``created`` value (a bool, or the text of a CSV or XML result) as True, False or None."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return True if text == "true" else False if text == "false" else None


def not_sendable(number: int | None, why: str) -> RecordOutcome:
    return RecordOutcome(number, None, FAILED, NOT_SENDABLE, why)


def not_reported(number: int | None, record_id: str | None, why: str) -> RecordOutcome:
    return RecordOutcome(number, record_id, UNPROCESSED, NOT_REPORTED, why)


def library_error(number: int | None, record_id: str | None, exc: BaseException) -> RecordOutcome:
    return RecordOutcome(
        number,
        record_id,
        UNPROCESSED,
        LIBRARY_ERROR,
        f"outcome unknown: the library raised {type(exc).__name__}: {str(exc)[:300]}",
    )


class LibraryBaseline(UpdateStrategy):
    """Base of the library baselines: the library's defaults, honest outcomes, optional time scaling."""

    baseline: ClassVar[bool] = True
    library: ClassVar[str] = ""
    """The PyPI package the baseline wraps (its version goes into reports)."""
    call: ClassVar[str] = ""
    """How the library is called, in one line (for reports and `--help`)."""

    def __init__(
        self,
        session: OrgSession,
        *,
        time_scale: float = 1.0,
        validate: bool = False,
        retry_pass: bool = False,
        **common: Any,
    ) -> None:
        super().__init__(session, validate=validate, retry_pass=retry_pass, **common)
        if time_scale is None or time_scale <= 0:
            raise ConfigurationError("time_scale must be a positive number")
        self.time_scale = float(time_scale)

    @classmethod
    def library_version(cls) -> str | None:
        return library_version(cls.library)
