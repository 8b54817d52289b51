"""bulk2-csv client preparation, without any org (a script that prints figures, not a timed test).

    python tests/benchmarks/bench_client_prep.py [--records 1000000] [--shuffled]

Writes a CSV of --records rows (Id with a valid checksum + three numbers) to a temporary directory, then
prints the seconds for each step of the client's work before the first API call of a Bulk 2.0 update:
reading the rows as records, the validation pass (`records.prepare` with the bulk2 value check, which
includes the duplicate-Id check), and rendering every row to the upload's CSV (`CsvRowWriter` into a
`Chunker` with the 100 MB job limit). The rows are in Id order, as an export or an ORDER BY Id query gives
them; --shuffled writes them in a scrambled order (a fixed permutation), the duplicate check's dearer case.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from strategies.bulk2_csv import DEFAULT_MAX_JOB_BYTES, CsvRowWriter, csv_value_problem
from strategies.records import Chunker, ChunkLimits, CsvRecords, Validator, id_checksum, prepare


def write_input(path: str, n: int, shuffled: bool = False) -> None:
    step = (
        next(p for p in (7_919, 104_729, 1_299_709) if n % p) if shuffled else 1
    )  # a prime not dividing n: i -> i*step mod n permutes
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["Id", "Tweets__c", "Likes__c", "LinkedIn_Shares__c"])
        for i in range(n):
            id15 = f"a015g{i * step % n:010d}"
            writer.writerow([id15 + id_checksum(id15), i % 1000, i % 777, i % 55])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--shuffled", action="store_true", help="rows not in Id order")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sfh-prep-") as tmp:
        path = os.path.join(tmp, "input.csv")
        write_input(path, args.records, args.shuffled)
        figures: dict[str, float | int | bool] = {"records": args.records, "shuffled": args.shuffled}

        started = time.perf_counter()
        count = sum(1 for _ in CsvRecords(path))
        figures["read_seconds"] = round(time.perf_counter() - started, 2)
        assert count == args.records

        started = time.perf_counter()
        prepared = prepare(CsvRecords(path), validator=Validator(value_check=csv_value_problem))
        figures["validate_seconds"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        writer = CsvRowWriter(["Id"] + [c for c in prepared.columns or [] if c != "Id"])
        chunker = Chunker(ChunkLimits(max_bytes=DEFAULT_MAX_JOB_BYTES), header=writer.header)
        for _row, record in prepared:
            finished = chunker.add(writer.line(record))
            if finished is not None:
                finished.file.close()
        last = chunker.flush()
        if last is not None:
            figures["upload_bytes"] = last.bytes
            last.file.close()
        figures["render_seconds"] = round(time.perf_counter() - started, 2)
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
