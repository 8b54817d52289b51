"""DuplicateIds: exactly the repeats a dict would find, in memory that does not grow with the input."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections.abc import Iterable, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.duplicate_ids import DuplicateIds, Repeat
from strategies.records import id_checksum


def _id(n: int) -> str:
    id15 = f"a015g{n:010d}"
    return id15 + id_checksum(id15)


def _find(ids: Iterable[str | None], **options: int) -> tuple[int, list[Repeat]]:
    finder = DuplicateIds(**options)
    pending = finder.pending
    for row, rid in enumerate(ids, start=1):
        pending.append(rid)
        if not row % finder.block:
            finder.spill()
    return finder.finish()


def _expected(ids: list[str | None], details: int = 20) -> tuple[int, list[Repeat]]:
    first: dict[str, int] = {}
    repeats = []
    for row, rid in enumerate(ids, start=1):
        if rid is None:
            continue
        earlier = first.setdefault(rid[:15], row)
        if earlier != row:
            repeats.append((row, earlier, rid[:15]))
    return len(repeats), repeats[:details]


# Few distinct numbers, so repeats are common; None is a row the caller refused; both Id lengths appear.
_ids = st.lists(
    st.one_of(st.none(), st.integers(0, 60).map(_id), st.integers(0, 60).map(lambda n: _id(n)[:15])), max_size=400
)


@settings(max_examples=200, deadline=None, database=None)
@given(
    ids=_ids,
    block=st.sampled_from([1, 3, 16, 1 << 16]),
    limit=st.sampled_from([1, 4, 1 << 17]),
    details=st.sampled_from([0, 1, 5, 20]),
)
def test_finds_exactly_the_repeats_a_dict_finds(ids: list[str | None], block: int, limit: int, details: int) -> None:
    assert _find(ids, block=block, partition_limit=limit, details=details) == _expected(ids, details)


@settings(max_examples=50, deadline=None, database=None)
@given(start=st.integers(0, 10_000), n=st.integers(0, 300), late=st.integers(0, 299), block=st.sampled_from([2, 7, 64]))
def test_sorted_input_then_a_late_repeat(start: int, n: int, late: int, block: int) -> None:
    """Sorted blocks are kept as they came; a repeat after them must still be found against them."""
    ids: list[str | None] = [_id(start + i) for i in range(n)]
    if n:
        ids.append(ids[late % n])
    assert _find(ids, block=block) == _expected(ids)


def test_one_id_repeated_past_every_split_level_stays_exact() -> None:
    ids: list[str | None] = [_id(7)] * 5_000
    total, shown = _find(ids, block=100, partition_limit=10)
    assert total == 4_999 and shown[:2] == [(2, 1, _id(7)[:15]), (3, 1, _id(7)[:15])]


def _peak_bytes(n: int) -> int:
    """The peak of `_traced_peak(n)`, measured in an interpreter of its own (this file run as a script).

    tracemalloc counts every thread's allocations, and a test worker's process has threads of its own at work:
    the emulator servers of session fixtures (an earlier test's jobs may still be finishing) and pytest-xdist's
    channel to the controller.
    """
    child = [sys.executable, __file__, str(n)]
    return int(subprocess.run(child, capture_output=True, text=True, check=True, timeout=300).stdout)


def _traced_peak(n: int) -> int:
    def ids() -> Iterator[str]:
        for i in range(n):
            yield _id((i * 7_919) % n)  # a permutation: no order to exploit, no repeat

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        assert _find(ids(), block=2_048, partition_limit=4_096) == (0, [])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_input() -> None:
    small, large = _peak_bytes(50_000), _peak_bytes(200_000)
    assert large < small * 1.5, (small, large)  # 4x the Ids, about the same peak (a set would need 4x)


if __name__ == "__main__":  # `_peak_bytes` runs this file in a child interpreter
    print(_traced_peak(int(sys.argv[1])))
