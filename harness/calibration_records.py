"""The records `sfharness calibrate` writes, and nothing else.

Either the user names them (`--sobject`, `--fields`, optional `--where`): calibration reads their
current values and every write sends exactly those values back, so the data stays as it was (the
records' LastModifiedDate moves and their automation runs: that is what is being measured). Or it makes
its own: records named `sfharness-cal-<run>-<n>`, inserted by one Bulk API 2.0 job, written with the
name they already have, and deleted by another job at the end.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from strategies.bulk1_xml import SObjectXml
from strategies.meter import FAMILY_REST
from strategies.polling import PollPolicy
from strategies.records import csv_line, text_of
from strategies.transport import OrgSession

from .calibration_jobs import Bulk2Job, Send

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:__c)?$")
NULL = "#N/A"


class CalibrationRecordsError(Exception):
    """The records cannot be used (wrong names, too few, compound fields, a failed setup job)."""


class CalibrationRecords:
    def __init__(
        self,
        session: OrgSession,
        send: Send,
        *,
        sobject: str,
        fields: tuple[str, ...] = (),
        where: str | None = None,
        count: int = 500,
    ) -> None:
        for name in (sobject, *fields):
            if not _NAME.match(name):
                raise CalibrationRecordsError(f"{name!r} is not an API name")
        if where is not None and not fields:
            raise CalibrationRecordsError(
                "--where selects records you name: give --fields too (the values written back)"
            )
        self.session = session
        self.send = send
        self.sobject = sobject
        self.named = bool(fields)
        self.fields: tuple[str, ...] = tuple(fields) if fields else ("Name",)
        self.where = where
        self.count = count
        self.run_id = uuid.uuid4().hex[:8]
        self.ids: list[str] = []
        self.values: dict[str, dict[str, Any]] = {}
        self.created = 0
        self.cleanup_note = ""

    @property
    def mode(self) -> str:
        return "named" if self.named else "created"

    @staticmethod
    def setup_calls(named: bool, count: int, max_checks: int) -> int:
        """Requests `load` makes at most."""
        if named:
            return max(1, -(-count // 2000))
        return 3 + max_checks + 1

    @staticmethod
    def cleanup_calls(named: bool, max_checks: int) -> int:
        return 0 if named else 3 + max_checks

    # -- getting the records ---------------------------------------------------------------------------
    def load(self, policy: PollPolicy, max_checks: int) -> None:
        if self.named:
            self._read_named()
        else:
            self._create(policy, max_checks)
        if not self.ids:
            raise CalibrationRecordsError(
                f"no {self.sobject} records to calibrate with" + (f" match {self.where!r}" if self.where else "")
            )

    def _read_named(self) -> None:
        soql = f"SELECT Id, {', '.join(f for f in self.fields if f != 'Id')} FROM {self.sobject}"
        if self.where:
            soql += f" WHERE {self.where}"
        soql += f" ORDER BY Id LIMIT {self.count}"
        body = self.send("GET", self.session.rest_url(f"query?q={quote(soql)}"), family=FAMILY_REST).json()
        while True:
            for rec in body.get("records", []):
                values = {f: rec.get(f) for f in self.fields if f != "Id"}
                compound = [f for f, v in values.items() if isinstance(v, (dict, list))]
                if compound:
                    raise CalibrationRecordsError(
                        f"{', '.join(compound)}: compound fields cannot be written back; name their parts"
                    )
                self.ids.append(rec["Id"])
                self.values[rec["Id"]] = values
            if body.get("done", True) or len(self.ids) >= self.count:
                break
            body = self.send("GET", self.session.rest_url(body["nextRecordsUrl"]), family=FAMILY_REST).json()

    def _create(self, policy: PollPolicy, max_checks: int) -> None:
        names = [f"sfharness-cal-{self.run_id}-{i}" for i in range(self.count)]
        job = Bulk2Job(self.session, self.send, self.sobject, "insert")
        job.create()
        job.upload(("Name\n" + "".join(csv_line([n]) for n in names)).encode("utf-8"))
        job.close()
        info, _ = job.wait(policy, max_checks)
        if info.get("state") != "JobComplete":
            raise CalibrationRecordsError(
                f"the insert job {job.job_id} did not complete in {max_checks} checks "
                f"(state {info.get('state')}); its records, if any, are named sfharness-cal-{self.run_id}-*"
            )
        rows = csv.DictReader(io.StringIO(job.results("successfulResults").decode("utf-8")))
        for row in rows:
            self.ids.append(row["sf__Id"])
            self.values[row["sf__Id"]] = {"Name": row["Name"]}
        self.created = len(self.ids)
        if int(info.get("numberRecordsFailed") or 0):
            self.cleanup_note = f"{info['numberRecordsFailed']} of {self.count} inserts failed"

    def cleanup(self, policy: PollPolicy, max_checks: int) -> None:
        """Delete the records calibration created (nothing for named records)."""
        if self.named or not self.created:
            return
        job = Bulk2Job(self.session, self.send, self.sobject, "delete")
        job.create()
        job.upload(("Id\n" + "".join(csv_line([i]) for i in self.ids)).encode("utf-8"))
        job.close()
        info, _ = job.wait(policy, max_checks)
        if info.get("state") == "JobComplete" and not int(info.get("numberRecordsFailed") or 0):
            self.created = 0
        else:
            self.cleanup_note = (
                f"the delete job {job.job_id} ended {info.get('state')}; delete the {self.sobject} records named "
                f"sfharness-cal-{self.run_id}-* yourself if any remain"
            )

    # -- what to write ---------------------------------------------------------------------------------
    def body(self, record_id: str) -> dict[str, Any]:
        """A REST body writing `record_id`'s own values back."""
        return dict(self.values[record_id])

    def collection(self, ids: Iterable[str]) -> dict[str, Any]:
        return {
            "allOrNone": False,
            "records": [{"attributes": {"type": self.sobject}, "id": i, **self.body(i)} for i in ids],
        }

    def csv(self, ids: Iterable[str]) -> bytes:
        """Bulk 2.0 CSV: Id and the fields, each with the value it holds (#N/A for an empty one)."""
        columns = [f for f in self.fields if f != "Id"]
        out = [csv_line(["Id", *columns])]
        for i in ids:
            values = self.values[i]
            out.append(csv_line([i, *(NULL if values[c] in (None, "") else text_of(values[c]) for c in columns)]))
        return "".join(out).encode("utf-8")

    def xml(self, ids: Iterable[str]) -> bytes:
        """A Bulk 1.0 XML batch writing each record's own values back."""
        writer = SObjectXml()
        parts = [writer.header, *(writer.render({"Id": i, **self.values[i]}) for i in ids), writer.footer]
        return "".join(parts).encode("utf-8")
