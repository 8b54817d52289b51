"""Salesforce record ids: 15-character case-sensitive ids and their 18-character checksummed form.

The 3-character suffix encodes, for each 5-character block of the 15-character id, which characters
are upper case. Clients (and our strategies) validate ids with it, so the emulator must mint real ones.
"""

from __future__ import annotations

import itertools
import threading

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_UPPER_BITS = str.maketrans({c: ("1" if "A" <= c <= "Z" else "0") for c in _BASE62})
# Suffix character of each 5-character block, keyed by the block's upper-case bits in reading order.
_BLOCK_SUFFIX = {format(n, "05b")[::-1]: _SUFFIX_ALPHABET[n] for n in range(32)}


def checksum_suffix(id15: str) -> str:
    """Bit i of block b is set when character 5b+i is upper case."""
    suffix = _suffix_or_none(id15)
    if suffix is None:
        raise ValueError(f"not a 15-character base-62 id: {id15!r}")
    return suffix


def _suffix_or_none(id15: str) -> str | None:
    """The checksum suffix, or None when a character is not base-62.

    str.translate keeps this hot path in C (bulk jobs check every record's id: a million calls per
    million-record job), and validation comes free: it maps each base-62 character to "0" or "1" and
    leaves any other character as it is, so a block holding one is not a key of `_BLOCK_SUFFIX`.
    """
    bits = id15.translate(_UPPER_BITS)
    try:
        return _BLOCK_SUFFIX[bits[:5]] + _BLOCK_SUFFIX[bits[5:10]] + _BLOCK_SUFFIX[bits[10:]]
    except KeyError:
        return None


def to_18(record_id: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None when it is malformed.

    Not memoised: bulk jobs check each id once, so a cache only added its own bookkeeping to every call.
    """
    if not isinstance(record_id, str):
        return None
    if len(record_id) == 15:
        suffix = _suffix_or_none(record_id)
        return None if suffix is None else record_id + suffix
    if len(record_id) == 18:
        suffix = _suffix_or_none(record_id[:15])
        if suffix is None:
            return None
        tail = record_id[15:]
        if tail == suffix:
            return record_id  # already canonical: the usual case
        return record_id[:15] + suffix if tail.upper() == suffix else None
    return None


def key_prefix(record_id: str) -> str:
    return record_id[:3]


class IdFactory:
    """Mints ids for one org: prefix + 2-char pod + 10 base-62 digits of a per-prefix counter."""

    def __init__(self, pod: str = "5g") -> None:
        self._pod = pod
        self._counters: dict[str, itertools.count] = {}
        self._lock = threading.Lock()

    def next_id(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            n = next(counter)
        return make_id(prefix, self._pod, n)

    def reserve(self, prefix: str, count: int) -> int:
        """Reserve `count` consecutive sequence numbers and return the first (for fast seeding)."""
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            first = next(counter)
            self._counters[prefix] = itertools.count(first + count)
        return first

    def advance_past(self, prefix: str, n: int) -> None:
        with self._lock:
            self._counters[prefix] = itertools.count(n + 1)


def make_id(prefix: str, pod: str, n: int) -> str:
    digits = []
    for _ in range(10):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    id15 = prefix + pod + "".join(reversed(digits))
    return id15 + checksum_suffix(id15)
