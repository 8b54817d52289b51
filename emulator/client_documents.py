"""Reading the JSON and XML documents clients send, so that a hostile body is bad input, never a crash.

Every request body and uploaded batch the emulator parses is read by `load_json` or by defusedxml, and
each reader maps a refusal to its API family's documented malformed-body error (see the callers):

- JSON nested deeper than `JSON_MAX_DEPTH` is refused. Python's decoder recurses, so a deep enough body
  raised RecursionError (a 500), and a body just shallow enough to decode could still exhaust the stack
  in a later recursive step (Composite's reference resolver). No Salesforce body needs more than a few
  levels (a Composite request holding sObject Collections is about six); Salesforce's own limit is not
  documented, so 100 is the emulator's choice, far from both.
- XML: defusedxml refuses any DTD that declares entities (entity bombs such as "billion laughs", and
  external entities, XXE) before expanding or fetching anything. `UNREADABLE_XML` is what its parsers
  raise for a document they will not read, malformed or hostile alike: Salesforce's parsers refuse
  both as bad input, so the emulator answers both with the same malformed-XML error.
"""

from __future__ import annotations

import json
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError

JSON_MAX_DEPTH = 100

UNREADABLE_XML = (ParseError, DefusedXmlException)


class NestingTooDeep(ValueError):
    """A JSON document nested deeper than JSON_MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"Document nesting depth exceeds the maximum allowed ({JSON_MAX_DEPTH})")


def load_json(raw: bytes) -> Any:
    """The decoded document; ValueError (NestingTooDeep, JSONDecodeError, UnicodeDecodeError) if unreadable."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise NestingTooDeep() from None
    # The number of "{" and "[" bounds the depth: a small body (a per-record PATCH) needs no walk.
    if raw.count(b"{") + raw.count(b"[") > JSON_MAX_DEPTH and _deeper_than(value, JSON_MAX_DEPTH):
        raise NestingTooDeep()
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether a decoded document's objects and arrays nest more than `limit` levels.

    One level at a time, in list comprehensions rather than recursion: about half the decoder's own time
    for a 200-record sObject Collections body.
    """
    level = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        if not level:
            return False
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
    return bool(level)
