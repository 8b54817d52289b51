"""Property tests against the emulated org: no record lost, duplicated or altered, for every strategy."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import CsvRecords, CsvResultSink, MemorySink, OrgSession, get
from strategies.sinks import SUCCEEDED

from .conftest import FAST_POLL, unique_tag

# XML 1.0 can carry tab, LF and CR (we escape CR) but no other control character; Bulk 2.0 reserves "#N/A".
SAFE_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n\r")
NASTY_SAMPLES = ["<tag>&amp;", 'a "quoted", comma', "line\r\nbreak\rcr", "\U0001f680 ünï漢", "]]>", "x" * 80]
name_values = st.one_of(st.sampled_from(NASTY_SAMPLES), st.text(alphabet=SAFE_CHARS, min_size=1, max_size=80)).filter(
    lambda s: s != "#N/A" and s.strip() != ""
)
url_values = st.one_of(
    st.none(), st.text(alphabet=SAFE_CHARS, min_size=1, max_size=255).filter(lambda s: s != "#N/A" and s.strip() != "")
)
STRATEGIES = ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv", "auto"]


def read_records(path: Path) -> list[dict[str, str]]:
    """A result file's rows by column, its handle closed before the next strategy writes its own."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def options(name: str) -> dict[str, Any]:
    if name in ("bulk1-xml", "bulk2-csv"):
        return {"poll_policy": FAST_POLL}
    if name == "auto":
        return {"bulk2_options": {"poll_policy": FAST_POLL}}
    return {}


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(STRATEGIES),
    values=st.lists(st.tuples(name_values, url_values), min_size=1, max_size=25),
    pad=st.sampled_from([0, 174, 175, 176]),  # pads the run to 199..201 records now and then
)
def test_no_record_lost_duplicated_or_altered(
    org: Any,
    new_session: Callable[..., OrgSession],
    byline_ids: list[str],
    name: str,
    values: list[tuple[str, str | None]],
    pad: int,
) -> None:
    tag = unique_tag()
    values = values + [(f"{tag}-pad-{k}", None) for k in range(pad)]
    records = [{"Id": byline_ids[5000 + k], "Name": v, "Published_URL__c": u} for k, (v, u) in enumerate(values)]
    sink = MemorySink()
    with get(name, new_session(), **options(name)) as strategy:
        summary = strategy.update("Byline__c", iter(records), sink)
    n = len(records)
    assert (summary.submitted, summary.succeeded) == (n, n), sink.failed[:3]
    assert sorted(o.row for o in sink.outcomes) == list(range(1, n + 1))
    assert all(o.status == SUCCEEDED for o in sink.outcomes)
    stored = {r["Id"]: r for r in org.admin.iter_records("Byline__c", ["Id", "Name", "Published_URL__c"])}
    for record in records:
        row = stored[record["Id"]]
        assert (row["Name"], row["Published_URL__c"]) == (record["Name"], record["Published_URL__c"]), name


def test_csv_file_in_result_files_out(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "updates.csv"
    tag = unique_tag()
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Name", "Tweets__c", "Published_URL__c"])
        for k in range(2500):
            tweets = -1 if k % 500 == 7 else k
            writer.writerow(
                [byline_ids[k], f'{tag} "{k}", ok\n2nd line', tweets, "#N/A" if k % 2 else f"https://x.example/{k}"]
            )
    for name in ("bulk1-xml", "bulk2-csv", "composite"):
        out = tmp_path / name
        with CsvResultSink(out) as sink, get(name, new_session(), **options(name), describe=True) as strategy:
            summary = strategy.update("Byline__c", CsvRecords(source), sink)
        assert (summary.succeeded, summary.failed) == (2495, 5)
        failed = read_records(out / "failed.csv")
        assert sorted(int(r["row"]) for r in failed) == [8, 508, 1008, 1508, 2008]
        assert {r["error_code"] for r in failed} == {"FIELD_CUSTOM_VALIDATION_EXCEPTION"}
        success = read_records(out / "success.csv")
        assert len(success) == 2495 and read_records(out / "unprocessed.csv") == []
        stored = {r["Id"]: r for r in org.admin.iter_records("Byline__c", ["Id", "Name", "Published_URL__c"])}
        assert (
            stored[byline_ids[1]]["Name"] == f'{tag} "1", ok\n2nd line'
            and stored[byline_ids[1]]["Published_URL__c"] is None
        )
        assert stored[byline_ids[2]]["Published_URL__c"] == "https://x.example/2"
        assert summary.calls_by_phase["describe"] == 1
