"""The compare workload (the seed's scenario): records whose social counts get new values each round.

`Workload.prepare(n)` makes sure `n` records exist (the emulator seeds them for free; on a real org the
harness inserts its own, named `sfharness-<run id>-<n>`, and deletes them in `cleanup`), then writes the
update input as a CSV file (Id + new values, in Id order) that strategies stream from disk. `verify`
reads the records back through the API (REST query for small volumes, a Bulk API 2.0 query above
`BULK_VERIFY_THRESHOLD`) and merge-compares them with the input file, so memory stays flat.

Upsert (`operation` an upsert by an external id field): the input names records by that key, with no Id
column. A share `new_fraction` of its rows carries keys no record holds (the org creates them), the rest
the keys of the existing records. The workload writes every key itself, existing ones included (seeded
with the workload's pattern on the emulator, inserted with them on a real org), because keys must suit
every strategy: the emulator's sample Url__c values hold slashes, which a REST upsert URL cannot carry.
A key is ``sfharness-<run id>-e<10 digits>`` for an existing record and ``sfharness-<run id>-n<round,
5 digits><10 digits>`` for a new one: unique per workload and round (repeats and rounds never collide),
lower-case ASCII of fixed widths, so the org's ORDER BY and Python's sort agree whatever the collation.
Every row's ``Name`` is its key (Name is required to create; a real org's cleanup finds the records by it).
`verify` then checks both kinds by key: exactly one record per key, holding the values written.

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
from strategies.operation import UPDATE_BY_ID, Operation
from strategies.polling import PollPolicy, poll
from strategies.transport import OrgSession

from .orgs import OrgConnection

BULK_VERIFY_THRESHOLD = 2000
DEFAULT_FIELDS = ("Tweets__c", "Likes__c", "LinkedIn_Shares__c")
DEFAULT_NEW_FRACTION = 0.5
"""An upsert workload's share of rows with new keys (the org creates those records)."""
KEYS_PER_QUERY = 300  # the REST read-back's keys (or Ids) per query: keeps the URL well under 16 KB


@dataclass
class WorkloadFile:
    path: Path
    records: int
    round: int
    new: int | None = None
    """For an upsert: rows whose key no record held (the org should create them); None for an update."""

    @property
    def existing(self) -> int | None:
        """For an upsert: rows naming existing records (the org should update them)."""
        return None if self.new is None else self.records - self.new


def new_rows(records: int, new_fraction: float) -> int:
    """How many of an upsert workload's `records` rows carry new keys (rounded to the nearest row)."""
    return min(records, max(0, round(records * new_fraction)))


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
        operation: Operation = UPDATE_BY_ID,
        new_fraction: float = DEFAULT_NEW_FRACTION,
    ) -> None:
        """`reseed`: on the emulator, start every round from freshly seeded records (compare resets the
        workload per run); False keeps the records of the same volume and only writes new values.
        `operation`: an update by Id, or an upsert by its external id with `new_fraction` of the rows new."""
        if not 0.0 <= new_fraction <= 1.0:
            raise ValueError(f"new_fraction must be between 0 and 1, got {new_fraction}")
        self.conn = conn
        self.operation = operation
        self.new_fraction = new_fraction if operation.is_upsert else 0.0
        self.reseed = reseed
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sobject = sobject
        self.fields = fields
        self.run_id = uuid.uuid4().hex[:8]
        self._ids_file = self.workdir / "ids.csv"
        self._have = 0
        self._created_on_org = 0
        self._upserted_on_org = False
        self.key_prefix = f"sfharness-{self.run_id}-"

    # -- keys (upsert) -------------------------------------------------------------------------------------
    @property
    def key_field(self) -> str:
        """The field records are named by in the input: Id, or the upsert's external id."""
        return self.operation.key

    def existing_key_pattern(self) -> str:
        """The ``{n}`` pattern of an existing record's key (see the module doc)."""
        return self.key_prefix + "e{n:010d}"

    def new_key(self, round_no: int, i: int) -> str:
        return f"{self.key_prefix}n{round_no:05d}{i:010d}"

    def _existing_count(self, n: int) -> int:
        return n - new_rows(n, self.new_fraction)

    # -- records on the org -------------------------------------------------------------------------------
    def ensure(self, n: int) -> None:
        """Make the records an input of `n` rows names exist (all `n` for an update, the existing share for an
        upsert) and list their Ids, or keys, sorted, in ids.csv."""
        key = self.key_field
        count = self._existing_count(n)
        if self.conn.is_emulator:
            admin = self.conn.admin
            admin.reset(data=True, usage=False)
            if self.operation.is_upsert:
                pattern = self.existing_key_pattern()
                admin.seed(self.sobject, count, samples={key: pattern, "Name": pattern})
            else:
                admin.seed(self.sobject, count)
            # Seeded in Id order with ascending sequence numbers: the keys come out sorted too.
            with open(self._ids_file, "w", encoding="utf-8", newline="") as fh:
                fh.writelines(str(rec[key]) + "\n" for rec in admin.iter_records(self.sobject, [key]))
            self._have = n
            return
        if count > self._created_on_org:
            self._insert_on_org(count - self._created_on_org)
        if self.operation.is_upsert:
            where = f"{key} LIKE '{self.key_prefix}e%'"
        else:
            where = f"Name LIKE '{self.key_prefix}%'"
        soql = f"SELECT {key} FROM {self.sobject} WHERE {where} ORDER BY {key} LIMIT {count}"
        with open(self._ids_file, "w", encoding="utf-8", newline="") as fh:
            session = self.conn.session()
            try:
                fh.writelines(row[key] + "\n" for row in query_rows(session, soql))
            finally:
                session.close()
        self._have = n

    def _insert_on_org(self, count: int) -> None:
        path = self.workdir / "insert.csv"
        upsert = self.operation.is_upsert
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["Name", *([self.key_field] if upsert else []), *self.fields])
            for i in range(self._created_on_org, self._created_on_org + count):
                if upsert:
                    key = self.existing_key_pattern().format(n=i)
                    writer.writerow([key, key, *(0 for _ in self.fields)])
                else:
                    writer.writerow([f"{self.key_prefix}{i}", *(0 for _ in self.fields)])
        session = self.conn.session()
        try:
            ingest(session, self.sobject, "insert", path)
        finally:
            session.close()
        self._created_on_org += count

    def cleanup(self) -> int:
        """Delete the records this workload created on a real org (inserted for the runs, or created by an
        upsert's new keys: all named ``sfharness-<run id>-...``); returns how many were deleted."""
        if self.conn.is_emulator or not (self._created_on_org or self._upserted_on_org):
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
        self._upserted_on_org = False
        return count

    # -- the update input ----------------------------------------------------------------------------------
    def values(self, position: int, round_no: int) -> list[int]:
        """New values for the record at `position` in round `round_no` (always different from the last)."""
        return [(position * 31 + round_no * 7919 + k * 104729) % 1_000_000 + 1 for k in range(len(self.fields))]

    def prepare(self, n: int, round_no: int) -> WorkloadFile:
        """The input of round `round_no`: `n` rows, sorted by their Id or key (`verify` merges on it)."""
        if self._have != n or (self.conn.is_emulator and self.reseed):
            self.ensure(n)
        path = self.workdir / f"input-{n}-{round_no}.csv"
        upsert = self.operation.is_upsert
        with open(self._ids_file, encoding="utf-8") as ids, open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([self.key_field, "Name", *self.fields] if upsert else ["Id", *self.fields])
            position = 0
            for line in ids:
                key = line.strip()
                writer.writerow(
                    [key, key, *self.values(position, round_no)] if upsert else [key, *self.values(position, round_no)]
                )
                position += 1
            if not upsert:
                return WorkloadFile(path, n, round_no)
            new = n - position
            for i in range(new):
                key = self.new_key(round_no, i)
                writer.writerow([key, key, *self.values(position + i, round_no)])
        if new and not self.conn.is_emulator:
            self._upserted_on_org = True  # the runs may create these records: cleanup looks for them
        return WorkloadFile(path, n, round_no, new=new)

    # -- verification --------------------------------------------------------------------------------------
    def verify(self, wf: WorkloadFile) -> Verification:
        """Read the records back and compare them with `wf`; never raises for the org's or the network's
        sake (see the module doc): a read-back that fails after its retries is reported in `error`. An
        upsert's records are read by key: one missing, or held by two records, is a mismatch."""
        session = self.conn.session()
        key = self.key_field
        fields = ("Name", *self.fields) if self.operation.is_upsert else self.fields
        selected = ", ".join(dict.fromkeys(("Id", key, *fields)))
        try:
            if wf.records <= BULK_VERIFY_THRESHOLD:
                actual = _rest_rows_by_key(session, self.sobject, selected, key, wf.path)
            else:
                if self.operation.is_upsert:
                    where = f" WHERE {key} LIKE '{self.key_prefix}%'"
                elif not self.conn.is_emulator:
                    where = f" WHERE Name LIKE '{self.key_prefix}%'"
                else:
                    where = ""
                soql = f"SELECT {selected} FROM {self.sobject}{where} ORDER BY {key}"
                actual = query_rows(session, soql, bulk=True)
            result = _merge_compare(wf.path, actual, fields, key)
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


def _merge_compare(
    expected_path: Path, actual: Iterator[dict[str, str]], fields: tuple[str, ...], key: str = "Id"
) -> Verification:
    """Walk the input and the records read back, both sorted by `key`: each input row must meet exactly one
    record, holding its values (a second record with the same key counts as a mismatch)."""
    verified = mismatched = missing = 0
    examples: list[str] = []
    actual_iter = iter(actual)
    current = next(actual_iter, None)
    with open(expected_path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for expected in reader:
            rid = expected[key]
            while current is not None and current[key] < rid:
                current = next(actual_iter, None)
            if current is None or current[key] != rid:
                missing += 1
                if len(examples) < 5:
                    examples.append(f"{rid}: not found")
                continue
            record = current
            bad = [f for f in fields if not _same_number(expected[f], record.get(f))]
            current, twins = next(actual_iter, None), 0
            while current is not None and current[key] == rid:
                current, twins = next(actual_iter, None), twins + 1
            if twins:
                mismatched += 1
                if len(examples) < 5:
                    examples.append(f"{rid}: {twins + 1} records hold this {key}")
            elif bad:
                mismatched += 1
                if len(examples) < 5:
                    examples.append(
                        f"{rid}: {', '.join(f'{f} expected {expected[f]} got {record.get(f)}' for f in bad)}"
                    )
            else:
                verified += 1
    return Verification(verified, mismatched, missing, 0, examples)


def _same_number(expected: str, actual: object) -> bool:
    if actual in (None, ""):
        return expected in ("", None)
    try:
        return float(expected) == float(actual)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(expected) == str(actual)


def _rest_rows_by_key(
    session: OrgSession, sobject: str, selected: str, key: str, path: Path
) -> Iterator[dict[str, str]]:
    """The records the input names, by REST queries of `KEYS_PER_QUERY` Ids or keys each, sorted by key."""
    with open(path, encoding="utf-8", newline="") as fh:
        keys = [row[key] for row in csv.DictReader(fh)]
    rows: list[dict[str, str]] = []
    for start in range(0, len(keys), KEYS_PER_QUERY):  # keep the query URL short
        chunk = keys[start : start + KEYS_PER_QUERY]
        quoted = ",".join(f"'{k}'" for k in chunk)
        soql = f"SELECT {selected} FROM {sobject} WHERE {key} IN ({quoted}) ORDER BY {key}"
        rows.extend(query_rows(session, soql))
    rows.sort(key=lambda r: r[key])
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
