"""Ids that occur more than once in one input, found in memory that does not grow with the input.

Why duplicates are refused (not warned about, not applied last-wins): the input's order would silently
decide which values are stored, and every API family treats a repeated Id badly. An sObject Collections or
Composite request that names one Id twice is refused (the platform's "Duplicate id in list"), so a run would
fail records far from the repeat; a Bulk job applies both rows, the one processed last wins, and two rows of
one record in parallel batches contend for the same row lock (a batch that names one Id too often also fails:
"Maximum number of duplicate updates in one batch"). Data Loader and the sf CLI pass repeats through and leave
the outcome to the org. So `prepare` refuses the input before any call and names both rows of each repeat;
the user decides which value is meant. `Validator(unique_ids=False)` turns the check off for a caller that
has a reason to send repeats.

Why not a Python set of the Ids: about 100 bytes an Id, some 100 MB for a million rows and a gigabyte for
ten million, and memory must stay flat whatever the input's size.

How (hash partitioning with spills, the "grace hash" of databases): the caller appends each row's Id to
`pending` (None for a row it refused, so that positions stay row numbers). Every `block` rows the block is
split by hash into 256 partitions, and each partition's share (the Ids' 15-character forms, since an
18-character Id only adds a checksum of the same 15, and their rows) is appended to a temporary file, its
place to a second one (the index). At the end each partition is read back on its own and checked with a
set; only a partition that holds a repeat is walked row by row to name the rows. A partition with more
than `partition_limit` Ids (over some 30 million rows with the defaults) is split again by the next 8 bits
of the hash. So memory holds one block of Ids while reading and at most one partition at the end,
whatever the input's size; the disk holds about 24 bytes a row. Per block the work is C-level bulk
operations (map, bytes, join, set) plus one Python-level loop that files each Id under its partition.

Sorted input costs less: while every Id is greater than the one before (an export or a query ordered by
Id), no Id can have repeated, which one C-level comparison per row shows. Such blocks are only written
as they came; if the order breaks later, they are partitioned then, with the rest.
"""

from __future__ import annotations

import heapq
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import compress, islice, repeat
from operator import itemgetter, lt, rshift
from typing import IO, cast

PARTITIONS = 256
_BITS = 8
_MAX_LEVEL = 7  # Python's str hash has 64 bits: 8 levels of 8 bits
ID15 = itemgetter(slice(0, 15))
_LOW_BYTE = (0xFF).__and__
_ENTRY = 24  # one index entry: offset, key bytes, count (three int64)

Repeat = tuple[int, int, str]
"""A repeated Id: (row, the earlier row with the same Id, the Id's 15-character form)."""


class DuplicateIds:
    """Finds rows whose Id repeats an earlier row's.

    Protocol (kept this bare because it runs once per input row): append each row's Id, or None for a row
    to leave out, to `pending`, in row order from row 1; call `spill()` whenever `len(pending)` reaches
    `block`; then `finish()`. Ids must not contain a line break (a validated Id never does).
    """

    def __init__(
        self,
        *,
        block: int = 1 << 16,
        partition_limit: int = 1 << 17,
        details: int = 20,
        level: int = 0,
        key_of: Callable[[str], str] = ID15,
    ) -> None:
        self.key_of = key_of
        """What identifies a record in a pending entry: an Id's first 15 characters by default; an upsert
        passes its keys already in the form it compares (`Operation.duplicate_key`) and `str`."""
        self.block = block
        self.partition_limit = partition_limit
        self.details = details
        self.level = level
        self.pending: list[str | None] = []
        self._next_row = 1  # the row of pending[0]
        self._ordered = level == 0  # every Id so far was greater than the one before (see _take)
        self._last = ""
        self._spill: IO[bytes] | None = None  # while ordered: runs (blocks as they came); then partitioned blocks
        self._index: IO[bytes] | None = None  # per partitioned block: (offset, key bytes, count) of each partition
        self._blocks = 0  # partitioned blocks in the index

    def spill(self) -> None:
        """Move `pending` to the spill file."""
        self._take(final=False)

    def finish(self) -> tuple[int, list[Repeat]]:
        """(how many rows repeat an earlier row's Id, the first `details` of those repeats by row).

        Closes the spill file.
        """
        try:
            self._take(final=True)
            if self._ordered:
                return 0, []
            total = 0
            shown: list[tuple[int, int, str]] = []
            for part in range(PARTITIONS):
                count, repeats = self._check_partition(part)
                total += count
                for found in repeats:
                    _keep_first(shown, found, self.details)
            return total, _in_row_order(shown)
        finally:
            self.close()

    def close(self) -> None:
        for handle in (self._spill, self._index):
            if handle is not None:
                handle.close()
        self._spill = self._index = None
        self.pending.clear()

    def _take(self, *, final: bool) -> None:
        """Take the pending block. Inputs sorted by Id (a query's ORDER BY Id, an export) cannot repeat an
        Id while every Id is greater than the one before: checked at C speed, such blocks are only kept
        as they came, in case the order breaks later; the block that breaks it (and everything after) is
        partitioned, and the kept blocks with it."""
        block = self.pending
        if not block:
            return
        start = self._next_row
        rows: Sequence[int] = range(start, start + len(block))
        if None in block:
            rows = list(compress(rows, block))
            block = list(filter(None, block))
        keys: list[str] = list(map(self.key_of, cast("list[str]", block)))
        self._next_row = start + len(self.pending)
        self.pending.clear()  # the same list: the caller holds it
        if self._ordered:
            if not keys or (keys[0] > self._last and all(map(lt, keys, islice(keys, 1, None)))):
                if keys:
                    self._last = keys[-1]
                    if not final:
                        self._write_run(keys, rows)
                return
            self._ordered = False
            for kept_keys, kept_rows in self._read_runs():
                self._spill_pairs(kept_keys, kept_rows)
        self._spill_pairs(keys, rows)

    # -- spilling ---------------------------------------------------------------------------------------
    def _file(self) -> IO[bytes]:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="sfh-ids-")  # noqa: SIM115 (kept open until finish)
        self._spill.seek(0, 2)
        return self._spill

    def _write_run(self, keys: list[str], rows: Sequence[int]) -> None:
        """Keep an ordered block as it came: (key bytes, count), the keys, the rows; runs lie back to back."""
        spill = self._file()
        text = "\n".join(keys).encode("utf-8")
        spill.write(array("q", (len(text), len(keys))).tobytes())
        spill.write(text)
        spill.write(array("q", rows).tobytes())

    def _read_runs(self) -> Iterator[tuple[list[str], array]]:
        """The kept runs, in input order (each read after a seek: the caller appends to the same file)."""
        if self._spill is None:
            return
        end = self._file().tell()
        position = 0
        while position < end:
            self._spill.seek(position)
            nbytes, count = array("q", self._spill.read(16))
            keys = self._spill.read(nbytes).decode("utf-8").split("\n")
            rows = array("q")
            rows.frombytes(self._spill.read(8 * count))
            position += 16 + nbytes + 8 * count
            yield keys, rows

    def _spill_pairs(self, keys: list[str], rows: Sequence[int]) -> None:
        """Append `keys` (15-character Ids) and their `rows` to the spill file, grouped by partition."""
        hashes: Iterator[int] = map(hash, keys)
        if self.level:
            hashes = map(rshift, hashes, repeat(self.level * _BITS))
        parts = bytes(map(_LOW_BYTE, hashes))  # each key's partition, computed at C speed
        part_keys: list[list[str]] = [[] for _ in range(PARTITIONS)]
        part_rows: list[list[int]] = [[] for _ in range(PARTITIONS)]
        for key, part, row in zip(keys, parts, rows, strict=True):  # the one Python-level step per row
            part_keys[part].append(key)
            part_rows[part].append(row)
        spill = self._file()
        index = array("q")
        for part in range(PARTITIONS):
            text = "\n".join(part_keys[part]).encode("utf-8")
            index.extend((spill.tell(), len(text), len(part_rows[part])))
            spill.write(text)
            spill.write(array("q", part_rows[part]).tobytes())
        if self._index is None:
            self._index = tempfile.TemporaryFile(prefix="sfh-ids-index-")  # noqa: SIM115 (kept open until finish)
        self._index.seek(0, 2)
        self._index.write(index.tobytes())
        self._blocks += 1

    def _segments(self, part: int, *, with_rows: bool) -> Iterator[tuple[list[str], array]]:
        """The partition's (keys, rows) per spilled block, in input order (rows empty unless asked for)."""
        spill, index = self._spill, self._index
        assert spill is not None and index is not None
        for block in range(self._blocks):
            index.seek((block * PARTITIONS + part) * _ENTRY)
            offset, nbytes, count = array("q", index.read(_ENTRY))
            if not count:
                continue
            spill.seek(offset)
            keys = spill.read(nbytes).decode("utf-8").split("\n")
            rows = array("q")
            if with_rows:
                rows.frombytes(spill.read(8 * count))
            yield keys, rows

    # -- checking ---------------------------------------------------------------------------------------
    def _check_partition(self, part: int) -> tuple[int, list[Repeat]]:
        keys: list[str] = []
        for segment, _ in self._segments(part, with_rows=False):
            keys.extend(segment)
            if len(keys) > self.partition_limit:
                if self.level < _MAX_LEVEL:
                    return self._split(part)
                break  # no hash bits left to split on: walk it, keeping only its distinct Ids
        else:
            if len(set(keys)) == len(keys):  # the common case, decided at C speed
                return 0, []
        del keys
        shown: list[tuple[int, int, str]] = []
        total = _walk(self._segments(part, with_rows=True), shown, self.details)
        return total, _in_row_order(shown)

    def _split(self, part: int) -> tuple[int, list[Repeat]]:
        """Check an oversized partition by partitioning it again on the next 8 bits of the hash."""
        child = DuplicateIds(
            block=self.block, partition_limit=self.partition_limit, details=self.details, level=self.level + 1
        )
        try:
            for keys, rows in self._segments(part, with_rows=True):
                child._spill_pairs(keys, rows)
            return child.finish()
        finally:
            child.close()


def _walk(segments: Iterator[tuple[list[str], array]], shown: list[tuple[int, int, str]], limit: int) -> int:
    """Count the repeats in `segments` (in input order), keeping the first `limit` in `shown`.

    Memory: one entry per distinct Id of one partition (the caller bounds the partition's size, or, past
    the last level, its Ids share all 64 hash bits and so are, in practice, one Id)."""
    first: dict[str, int] = {}
    total = 0
    for keys, rows in segments:
        for key, row in zip(keys, rows, strict=True):
            earlier = first.setdefault(key, row)
            if earlier != row:
                total += 1
                _keep_first(shown, (row, earlier, key), limit)
    return total


def _keep_first(heap: list[tuple[int, int, str]], found: Repeat, limit: int) -> None:
    """Keep the `limit` repeats with the smallest rows in `heap`, a max-heap stored as (-row, first, key)."""
    row, earlier, key = found
    if len(heap) < limit:
        heapq.heappush(heap, (-row, earlier, key))
    elif limit and -heap[0][0] > row:
        heapq.heapreplace(heap, (-row, earlier, key))


def _in_row_order(heap: list[tuple[int, int, str]]) -> list[Repeat]:
    return sorted((-neg, earlier, key) for neg, earlier, key in heap)
