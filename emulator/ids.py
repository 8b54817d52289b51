"""Salesforce record ids: 15-character case-sensitive ids and their 18-character checksummed form.

The 3-character suffix encodes, for each 5-character block of the 15-character id, which characters
are upper case. Clients (and our strategies) validate ids with it, so the emulator must mint real ones.
"""

from __future__ import annotations

import functools
import itertools
import threading

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_CHARS = frozenset(_BASE62)


_UPPER_BITS = str.maketrans({c: ("1" if "A" <= c <= "Z" else "0") for c in _BASE62})


def checksum_suffix(id15: str) -> str:
    """Bit i of block b is set when character 5b+i is upper case (str.translate keeps this hot path in C)."""
    bits = id15.translate(_UPPER_BITS)
    return (
        _SUFFIX_ALPHABET[int(bits[4::-1], 2)]
        + _SUFFIX_ALPHABET[int(bits[9:4:-1], 2)]
        + _SUFFIX_ALPHABET[int(bits[14:9:-1], 2)]
    )


@functools.lru_cache(maxsize=8192)  # an id is usually checked more than once per request or transaction
def to_18(record_id: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None when it is malformed."""
    if not isinstance(record_id, str):
        return None
    if len(record_id) == 15:
        if not set(record_id) <= _ID_CHARS:
            return None
        return record_id + checksum_suffix(record_id)
    if len(record_id) == 18:
        head = record_id[:15]
        if not set(head) <= _ID_CHARS:
            return None
        if record_id[15:].upper() != checksum_suffix(head):
            return None
        return head + checksum_suffix(head)
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
