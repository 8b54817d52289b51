"""One emulated org: its schema, data, users and sessions, limits, latency profile, faults and bulk jobs.

The HTTP layer (emulator/api) holds an `Org` and calls it; nothing here knows about requests or wire
formats. `reset()` puts the org back to empty, `seed()` fills it fast, `configure()` changes the profile
and faults at run time.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import ids
from .auth import Credentials, SessionManager
from .bulk.bulk1_jobs import Bulk1Service
from .bulk.bulk2_jobs import Bulk2Service
from .bulk.engine import BulkEngine
from .dml import DmlEngine
from .errors import NotFoundSObject
from .profiles import FaultConfig, OrgProfile, get_profile, profile_from_document
from .schema import Schema, SObjectDef, now_stamp
from .store import RecordStore
from .usage import ApiUsage

EDITIONS = ("developer", "enterprise", "sandbox")


class Org:
    def __init__(
        self,
        *,
        db_path: str | None = None,
        edition: str = "developer",
        profile: OrgProfile | str = "instant",
        faults: FaultConfig | None = None,
        schema_files: Iterable[str | Path] = (),
        username: str = "integration@emulator.sfharness",
        password: str = "emulator-password",
        security_token: str = "EMULATORTOKEN",
        client_id: str = "3MVG9emulatorClientId",
        client_secret: str = "emulator-client-secret",
        session_seconds: float = 7200,
        seed: int = 0,
    ) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown edition {edition!r}; known: {', '.join(EDITIONS)}")
        self.edition = edition
        self.workdir = tempfile.mkdtemp(prefix="sf-emulator-")
        self._owns_db = db_path is None
        self.db_path = db_path or os.path.join(self.workdir, "org.db")
        self.schema = Schema.load(schema_files)
        self.store = RecordStore(self.db_path, self.schema)
        self.ids = ids.IdFactory()
        self._sync_id_counters()
        self.org_id = self._singleton_id("Organization", "00D")
        self.user_id = self._singleton_id("User", "005")
        self.usage = ApiUsage.for_edition(edition)
        self.profile = get_profile(profile)
        self.faults = faults or FaultConfig()
        self.credentials = Credentials(username, password, security_token, client_id, client_secret)
        self.sessions = SessionManager(self.org_id, self.user_id, self.credentials, session_seconds)
        self.dml = DmlEngine(self.schema, self.store, self.ids, self.user_id, lambda: self.faults)
        self.engine = BulkEngine(lambda: self.profile, seed, thread_done=self.store.release_thread_connection)
        bulk_dir = os.path.join(self.workdir, "bulk")
        os.makedirs(bulk_dir, exist_ok=True)
        self.bulk1 = Bulk1Service(self, bulk_dir)
        self.bulk2 = Bulk2Service(self, bulk_dir)
        self.query_cursors: dict[str, tuple[Any, int]] = {}
        self._cursor_lock = threading.Lock()
        self._seed_rng = random.Random(seed)
        self._ensure_identity_records()

    # -- identity -----------------------------------------------------------------------------------
    def _singleton_id(self, object_name: str, prefix: str) -> str:
        obj = self.sobject(object_name)
        row = self.store.execute(f'SELECT id FROM "{obj.table}" ORDER BY id LIMIT 1').fetchone()
        return row[0] if row else self.ids.next_id(prefix)

    def _ensure_identity_records(self) -> None:
        stamp = now_stamp()
        system = {
            "createddate": stamp,
            "createdbyid": self.user_id,
            "lastmodifieddate": stamp,
            "lastmodifiedbyid": self.user_id,
            "systemmodstamp": stamp,
            "isdeleted": 0,
        }
        user, org = self.sobject("User"), self.sobject("Organization")
        if self.store.get(user, self.user_id) is None:
            row = {
                "id": self.user_id,
                "username": self.credentials.username,
                "firstname": "Integration",
                "lastname": "User",
                "name": "Integration User",
                "email": "integration@emulator.invalid",
                "alias": "integ",
                "isactive": 1,
                "timezonesidkey": "GMT",
                "languagelocalekey": "en_US",
                "profileid": "00e000000000001AAA",
                **system,
            }
            self.store.insert_rows(user, list(row), [tuple(row.values())])
        if self.store.get(org, self.org_id) is None:
            kind = {
                "developer": "Developer Edition",
                "enterprise": "Enterprise Edition",
                "sandbox": "Enterprise Edition",
            }[self.edition]
            row = {
                "id": self.org_id,
                "name": "sf-update-harness emulator",
                "organizationtype": kind,
                "issandbox": int(self.edition == "sandbox"),
                "instancename": "EMU1",
                "namespaceprefix": None,
                "trialexpirationdate": None,
                "languagelocalekey": "en_US",
                "timezonesidkey": "GMT",
                **system,
            }
            self.store.insert_rows(org, list(row), [tuple(row.values())])

    def _sync_id_counters(self) -> None:
        """Continue id sequences after the highest stored id (a --db file may already hold records)."""
        for obj in self.schema.objects():
            row = self.store.execute(f'SELECT MAX(id) FROM "{obj.table}"').fetchone()
            if row and row[0]:
                self.ids.advance_past(obj.key_prefix, _sequence_of(row[0]))

    @property
    def profile(self) -> OrgProfile:
        """The org profile in force: counting rules and timings (swapped whole, so readers see one or the other)."""
        return self._profile

    @profile.setter
    def profile(self, profile: OrgProfile) -> None:
        self._profile = profile
        self.usage.set_report_lag(profile.scaled(profile.counting.usage_report_lag_s))

    @property
    def is_sandbox(self) -> bool:
        return self.edition == "sandbox"

    # -- lookup -------------------------------------------------------------------------------------
    def sobject(self, name: str) -> SObjectDef:
        obj = self.schema.get(name)
        if obj is None:
            raise NotFoundSObject("The requested resource does not exist")
        return obj

    # -- run-time configuration ---------------------------------------------------------------------
    def configure(
        self,
        *,
        profile: str | OrgProfile | None = None,
        profile_document: dict[str, Any] | None = None,
        profile_overrides: dict[str, Any] | None = None,
        faults: dict[str, Any] | FaultConfig | None = None,
        edition: str | None = None,
        session_seconds: float | None = None,
    ) -> None:
        """Change the profile (a built-in name, a profile, or a whole profile document), faults, edition
        or session lifetime at run time; `profile_overrides` changes single profile fields by flat name."""
        if profile is not None or profile_document is not None or profile_overrides:
            if profile_document is not None:
                base = profile_from_document(profile_document, origin="profile_document")
            else:
                base = get_profile(profile) if profile is not None else self.profile
            self.profile = base.with_overrides(**(profile_overrides or {}))
        if faults is not None:
            self.faults = faults if isinstance(faults, FaultConfig) else FaultConfig.from_dict(faults)
        if edition is not None:
            fresh = ApiUsage.for_edition(edition)
            self.usage.edition, self.usage.daily_api_max = fresh.edition, fresh.daily_api_max
            self.edition = edition
        if session_seconds is not None:
            self.sessions.lifetime_s = session_seconds

    def reset(self, *, data: bool = True, usage: bool = True) -> None:
        if data:
            for obj in self.schema.objects():
                if not obj.system:
                    self.store.truncate(obj)
        if usage:
            self.usage.reset()

    # -- seeding ------------------------------------------------------------------------------------
    def seed(
        self, object_name: str, count: int, *, parents: int | None = None, samples: dict[str, str] | None = None
    ) -> list[str]:
        """Insert `count` synthetic records straight into SQLite; returns nothing for big counts.

        Byline__c records get a parent Account each (one Account per 1,000 Bylines by default) so that
        lock contention between parallel bulk batches can be modelled. `samples` (field -> pattern with
        ``{n}``, the record's sequence number) overrides the schema's sample values for this seeding: a
        caller that will address the records by an external id chooses their keys (the compare workload's
        upsert writes keys a REST URL can carry, where the schema's sample URLs hold slashes).
        """
        obj = self.sobject(object_name)
        patterns = _sample_patterns(obj, samples or {})
        parent_ids: list[str] = []
        ref = next((f for f in obj.data_fields() if f.type == "reference" and f.reference_to and not f.read_only), None)
        if ref is not None and ref.reference_to and count:
            n_parents = parents if parents is not None else max(1, count // 1000)
            parent_ids = self.seed(ref.reference_to, n_parents) if ref.reference_to != obj.name else []
        columns, make_row = _synthetic_rows(obj, self.user_id, parent_ids, ref.column if ref else None, patterns)
        first = self.ids.reserve(obj.key_prefix, count)
        pod = "5g"
        new_ids: list[str] = []
        keep = count <= 100_000

        def rows():
            for n in range(first, first + count):
                rid = ids.make_id(obj.key_prefix, pod, n)
                if keep:
                    new_ids.append(rid)
                yield (rid, *make_row(n))

        with self.store.transaction() as conn:
            self.store.insert_rows(obj, ["id", *columns], rows(), conn)
        return new_ids

    # -- REST query cursors -------------------------------------------------------------------------
    def open_cursor(self, compiled: Any, offset: int) -> str:
        locator = ids.make_id("01g", "5g", random.getrandbits(40)) + f"-{offset}"
        with self._cursor_lock:
            self.query_cursors[locator.split("-")[0]] = (compiled, offset)
        return locator

    def cursor(self, locator: str) -> tuple[Any, int] | None:
        key, _, offset = locator.partition("-")
        with self._cursor_lock:
            found = self.query_cursors.get(key)
        if found is None:
            return None
        try:
            return found[0], int(offset)
        except ValueError:
            return None

    def close(self) -> None:
        self.engine.shutdown()
        self.store.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _sequence_of(record_id: str) -> int:
    n = 0
    for ch in record_id[5:15]:
        n = n * 62 + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".index(ch)
    return n


def _sample_patterns(obj: SObjectDef, samples: dict[str, str]) -> dict[str, str]:
    """`Org.seed`'s sample overrides by column, checked: text fields of `obj` only, each pattern usable."""
    patterns: dict[str, str] = {}
    for name, pattern in samples.items():
        f = obj.field(name)
        if f is None or f.computed_from or f.read_only or f.type not in ("string", "textarea", "url", "email", "phone"):
            raise ValueError(f"seed samples: {obj.name}.{name} is not a writable text field")
        if not isinstance(pattern, str):
            raise ValueError(f"seed samples: the pattern for {name} must be text")
        try:
            text = pattern.format(n=0)
        except (IndexError, KeyError, ValueError) as exc:
            raise ValueError(f"seed samples: {name}'s pattern {pattern!r} is not a {{n}} pattern: {exc}") from None
        if f.length and len(text) > f.length:
            raise ValueError(f"seed samples: {name}'s pattern gives values longer than {f.length} characters")
        patterns[f.column] = pattern
    return patterns


def _synthetic_rows(
    obj: SObjectDef,
    user_id: str,
    parent_ids: list[str],
    parent_column: str | None,
    patterns: dict[str, str] | None = None,
):
    """Columns and a row factory with plausible values for every data field (fast: no per-row dict);
    `patterns` (column -> ``{n}`` pattern) replaces the schema's samples."""
    patterns = patterns or {}
    stamp = now_stamp()
    fields = [f for f in obj.data_fields() if not f.computed_from]
    computed = [
        (f, [fields.index(fd) for fd in map(obj.field, f.computed_from) if fd is not None and fd in fields])
        for f in obj.computed_fields
    ]
    columns = (
        [f.column for f in fields]
        + [c.column for c, _ in computed]
        + ["createddate", "createdbyid", "lastmodifieddate", "lastmodifiedbyid", "systemmodstamp", "isdeleted"]
    )
    base_day = dt.date(2024, 1, 1)
    n_parents = len(parent_ids)

    def value(f, n: int):
        if f.column == parent_column:
            return parent_ids[n % n_parents] if n_parents else None
        if f.column in patterns:
            return patterns[f.column].format(n=n)
        if f.sample is not None:
            return f.sample.format(n=n)  # unique per record when the pattern uses {n}: keys stay keys
        t = f.type
        if f.picklist_values:
            return f.picklist_values[n % len(f.picklist_values)]
        if t in ("string", "textarea", "picklist"):
            text = f"{obj.label} {n}"
            return text[: f.length] if f.length else text
        if t == "url":
            return f"https://example.com/articles/{n}"
        if t == "email":
            return f"user{n}@example.com"
        if t == "phone":
            return f"+1 555 {n % 10000:04d}"
        if t == "int":
            return n % 1000
        if t in ("double", "currency", "percent"):
            return n % 100 if t == "percent" else n % 997
        if t == "boolean":
            return n % 2
        if t == "date":
            return (base_day + dt.timedelta(days=n % 700)).isoformat()
        if t == "datetime":
            return stamp
        return None

    def make_row(n: int) -> tuple:
        values = [value(f, n) for f in fields]
        derived = [" ".join(str(values[i]) for i in sources if values[i]) or None for _, sources in computed]
        return (*values, *derived, stamp, user_id, stamp, user_id, stamp, 0)

    return columns, make_row
