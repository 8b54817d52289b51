"""The compare workload (the seed's scenario): records whose social counts get new values each round.

`Workload.prepare(n)` makes sure `n` records exist (the emulator seeds them for free; on a real org the
harness inserts its own, named `sfharness-<run id>-<n>`, and deletes them in `cleanup`), then writes the
update input as a CSV file (Id + new values, in Id order) that strategies stream from disk. `verify`
reads the records back through the API (REST query for small volumes, a Bulk API 2.0 query above
`BULK_VERIFY_THRESHOLD`) and merge-compares them with the input file, so memory stays flat.

The read-back is a measurement's check, not part of it: its requests go through `OrgSession` and retry
like any other (creating a query job is marked safe to repeat: it changes no record), and when the org
still cannot be read, `verify` says "not verified" and why (`Verification.error`) instead of raising, so
a transient fault never costs the measurements already taken or the report.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from strategies.errors import StrategyError
from strategies.meter import FAMILY_BULK2
from strategies.polling import PollPolicy, poll
from strategies.transport import OrgSession

from .orgs import OrgConnection

BULK_VERIFY_THRESHOLD = 2000
DEFAULT_FIELDS = ("Tweets__c", "Likes__c", "LinkedIn_Shares__c")


@dataclass
class WorkloadFile:
    path: Path
    records: int
    round: int


@dataclass
class Verification:
    verified: int
    mismatched: int
    missing: int
    calls: int
    examples: list[str]
    error: str | None = None
    """Why the records could not be read back (the counts are then 0: nothing was verified); None when they were."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.mismatched == 0 and self.missing == 0


class ReadBackFailed(Exception):
    """The org could not be read back (a query job that ended in another state than JobComplete)."""


class Workload:
    def __init__(
        self,
        conn: OrgConnection,
        workdir: Path,
        *,
        sobject: str = "Byline__c",
        fields: tuple[str, ...] = DEFAULT_FIELDS,
        reseed: bool = True,
    ) -> None:
        """`reseed`: on the emulator, start every round from freshly seeded records (compare resets the
        workload per run); False keeps the records of the same volume and only writes new values."""
        self.conn = conn
        self.reseed = reseed
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sobject = sobject
        self.fields = fields
        self.run_id = uuid.uuid4().hex[:8]
        self._ids_file = self.workdir / "ids.csv"
        self._have = 0
        self._created_on_org = 0

    # -- records on the org -------------------------------------------------------------------------------
    def ensure(self, n: int) -> None:
        """Make `n` records exist and list their ids (sorted) in ids.csv."""
        if self.conn.is_emulator:
            admin = self.conn.admin
            admin.reset(data=True, usage=False)
            admin.seed(self.sobject, n)
            with open(self._ids_file, "w", encoding="utf-8", newline="") as fh:
                fh.writelines(rec["Id"] + "\n" for rec in admin.iter_records(self.sobject, ["Id"]))
            self._have = n
            return
        if n > self._created_on_org:
            self._insert_on_org(n - self._created_on_org)
        soql = f"SELECT Id FROM {self.sobject} WHERE Name LIKE 'sfharness-{self.run_id}-%' ORDER BY Id LIMIT {n}"
        with open(self._ids_file, "w", encoding="utf-8", newline="") as fh:
            session = self.conn.session()
            try:
                fh.writelines(row["Id"] + "\n" for row in query_rows(session, soql))
            finally:
                session.close()
        self._have = n

    def _insert_on_org(self, count: int) -> None:
        path = self.workdir / "insert.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["Name", *self.fields])
            for i in range(self._created_on_org, self._created_on_org + count):
                writer.writerow([f"sfharness-{self.run_id}-{i}", *(0 for _ in self.fields)])
        session = self.conn.session()
        try:
            ingest(session, self.sobject, "insert", path)
        finally:
            session.close()
        self._created_on_org += count

    def cleanup(self) -> int:
        """Delete the records this workload created on a real org; returns how many were deleted."""
        if self.conn.is_emulator or not self._created_on_org:
            return 0
        path = self.workdir / "delete.csv"
        soql = f"SELECT Id FROM {self.sobject} WHERE Name LIKE 'sfharness-{self.run_id}-%'"
        session = self.conn.session()
        try:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write("Id\n")
                count = 0
                for row in query_rows(session, soql):
                    fh.write(row["Id"] + "\n")
                    count += 1
            if count:
                ingest(session, self.sobject, "delete", path)
        finally:
            session.close()
        self._created_on_org = 0
        return count

    # -- the update input ----------------------------------------------------------------------------------
    def values(self, position: int, round_no: int) -> list[int]:
        """New values for the record at `position` in round `round_no` (always different from the last)."""
        return [(position * 31 + round_no * 7919 + k * 104729) % 1_000_000 + 1 for k in range(len(self.fields))]

    def prepare(self, n: int, round_no: int) -> WorkloadFile:
        if self._have != n or (self.conn.is_emulator and self.reseed):
            self.ensure(n)
        path = self.workdir / f"input-{n}-{round_no}.csv"
        with open(self._ids_file, encoding="utf-8") as ids, open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["Id", *self.fields])
            for position, line in enumerate(ids):
                writer.writerow([line.strip(), *self.values(position, round_no)])
        return WorkloadFile(path, n, round_no)

    # -- verification --------------------------------------------------------------------------------------
    def verify(self, wf: WorkloadFile) -> Verification:
        """Read the records back and compare them with `wf`; never raises for the org's or the network's
        sake (see the module doc): a read-back that fails after its retries is reported in `error`."""
        session = self.conn.session()
        try:
            if wf.records <= BULK_VERIFY_THRESHOLD:
                actual = _rest_rows_for_ids(session, self.sobject, self.fields, wf.path)
            else:
                soql = f"SELECT Id, {', '.join(self.fields)} FROM {self.sobject} ORDER BY Id"
                if not self.conn.is_emulator:
                    soql = f"SELECT Id, {', '.join(self.fields)} FROM {self.sobject} WHERE Name LIKE 'sfharness-{self.run_id}-%' ORDER BY Id"
                actual = query_rows(session, soql, bulk=True)
            result = _merge_compare(wf.path, actual, self.fields)
        except (
            StrategyError,
            ReadBackFailed,
            ValueError,
        ) as exc:  # ValueError: a body that is not the JSON or CSV expected
            result = Verification(0, 0, 0, 0, [], error=f"{type(exc).__name__}: {exc}")
        finally:
            session.close()
        result.calls = session.meter.total
        return result


def _merge_compare(expected_path: Path, actual: Iterator[dict[str, str]], fields: tuple[str, ...]) -> Verification:
    verified = mismatched = missing = 0
    examples: list[str] = []
    actual_iter = iter(actual)
    current = next(actual_iter, None)
    with open(expected_path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for expected in reader:
            rid = expected["Id"]
            while current is not None and current["Id"] < rid:
                current = next(actual_iter, None)
            if current is None or current["Id"] != rid:
                missing += 1
                if len(examples) < 5:
                    examples.append(f"{rid}: not found")
                continue
            bad = [f for f in fields if not _same_number(expected[f], current.get(f))]
            if bad:
                mismatched += 1
                if len(examples) < 5:
                    examples.append(
                        f"{rid}: {', '.join(f'{f} expected {expected[f]} got {current.get(f)}' for f in bad)}"
                    )
            else:
                verified += 1
            current = next(actual_iter, None)
    return Verification(verified, mismatched, missing, 0, examples)


def _same_number(expected: str, actual: object) -> bool:
    if actual in (None, ""):
        return expected in ("", None)
    try:
        return float(expected) == float(actual)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(expected) == str(actual)


def _rest_rows_for_ids(
    session: OrgSession, sobject: str, fields: tuple[str, ...], path: Path
) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        ids = [row["Id"] for row in csv.DictReader(fh)]
    rows: list[dict[str, str]] = []
    for start in range(0, len(ids), 300):  # keep the query URL short
        chunk = ids[start : start + 300]
        quoted = ",".join(f"'{i}'" for i in chunk)
        soql = f"SELECT Id, {', '.join(fields)} FROM {sobject} WHERE Id IN ({quoted}) ORDER BY Id"
        rows.extend(query_rows(session, soql))
    rows.sort(key=lambda r: r["Id"])
    return iter(rows)


# -- small Bulk 2.0 / REST helpers for setup and verification (not update strategies) ----------------------
def query_rows(session: OrgSession, soql: str, *, bulk: bool = False) -> Iterator[dict[str, str]]:
    """Rows of a query as dicts; REST query/queryMore, or a Bulk API 2.0 query job paged by locator."""
    if not bulk:
        with session.phase("query"):
            body = session.get_json(session.rest_url(f"query?q={quote(soql)}"))
            while True:
                for rec in body.get("records", []):
                    yield {k: ("" if v is None else str(v)) for k, v in rec.items() if k != "attributes"}
                if body.get("done", True):
                    return
                body = session.get_json(session.rest_url(body["nextRecordsUrl"]))
    with session.phase("query"):
        # Safe to repeat after a 5xx or a lost response: a query job changes no record (at worst one job more).
        job = session.request(
            "POST",
            session.rest_url("jobs/query"),
            family=FAMILY_BULK2,
            idempotent=True,
            json_body={"operation": "query", "query": soql},
        ).json()
        job_url = session.rest_url(f"jobs/query/{job['id']}")
        result = poll(
            lambda: session.get_json(job_url, family=FAMILY_BULK2),
            lambda j: j["state"] in ("JobComplete", "Failed", "Aborted"),
            PollPolicy(initial=0.2, factor=1.5, ceiling=10, timeout=3600),
        )
        if not result.done or (result.value or {}).get("state") != "JobComplete":
            raise ReadBackFailed(f"query job {job['id']} did not complete: {result.value}")
        locator = None
        while True:
            params = {"maxRecords": "100000"}  # one page in memory at a time (a few MB)
            if locator:
                params["locator"] = locator
            resp = session.request("GET", f"{job_url}/results", family=FAMILY_BULK2, params=params)
            yield from csv.DictReader(io.StringIO(resp.content.decode("utf-8"), newline=""))
            locator = resp.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return


def ingest(session: OrgSession, sobject: str, operation: str, path: Path) -> dict:
    """One Bulk API 2.0 ingest job for setup or cleanup (insert / delete), waited for."""
    with session.phase("create"):
        job = session.request(
            "POST",
            session.rest_url("jobs/ingest"),
            family=FAMILY_BULK2,
            json_body={"object": sobject, "operation": operation, "contentType": "CSV", "lineEnding": "LF"},
        ).json()
    with session.phase("upload"), open(path, "rb") as fh:
        session.request(
            "PUT",
            session.rest_url(f"jobs/ingest/{job['id']}/batches"),
            family=FAMILY_BULK2,
            data=fh,
            headers={"Content-Type": "text/csv"},
            idempotent=True,
        )
    with session.phase("close"):
        session.request(
            "PATCH",
            session.rest_url(f"jobs/ingest/{job['id']}"),
            family=FAMILY_BULK2,
            json_body={"state": "UploadComplete"},
            idempotent=True,
        )
    with session.phase("poll"):
        url = session.rest_url(f"jobs/ingest/{job['id']}")
        result = poll(
            lambda: session.get_json(url, family=FAMILY_BULK2),
            lambda j: j["state"] in ("JobComplete", "Failed", "Aborted"),
            PollPolicy(initial=0.2, factor=1.5, ceiling=10, timeout=3600),
        )
    info = result.value or {}
    if info.get("state") != "JobComplete" or info.get("numberRecordsFailed"):
        raise RuntimeError(
            f"setup job {job['id']} ({operation} {sobject}) ended {info.get('state')} with {info.get('numberRecordsFailed')} failed records"
        )
    return info
