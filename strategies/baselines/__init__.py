"""Baselines: well-known Salesforce client libraries, unmodified, behind our `UpdateStrategy` interface.

They exist to be measured against, never recommended: ``sfharness compare --baselines`` and ``sfharness
bench`` run them beside our strategies on the same org, counted by the same `Meter` (and the org's own
counters), verified by the same read-back. Each wraps one library call the way its users write it, with
the library's default settings; see `simple_sf` and `sf_bulk` for the calls, their API-call formulas and
how each library's per-record results are mapped (`NOT_REPORTED_BY_LIBRARY` where a library says nothing),
and `metering` for how a library's own HTTP requests are counted.

The libraries (simple-salesforce, salesforce-bulk) are optional: they are imported only when a baseline
runs. This package never imports `emulator`.
"""

from __future__ import annotations

from .common import LIBRARY_ERROR, NOT_REPORTED, LibraryBaseline
from .sf_bulk import SalesforceBulkXml
from .simple_sf import SimpleSalesforceBulk, SimpleSalesforceBulk2, SimpleSalesforceCollections, SimpleSalesforceRest

BASELINES: dict[str, type[LibraryBaseline]] = {
    SimpleSalesforceRest.name: SimpleSalesforceRest,
    SimpleSalesforceCollections.name: SimpleSalesforceCollections,
    SimpleSalesforceBulk.name: SimpleSalesforceBulk,
    SimpleSalesforceBulk2.name: SimpleSalesforceBulk2,
    SalesforceBulkXml.name: SalesforceBulkXml,
}
"""Baseline name -> class, in display order (per-record REST first, as in `registry.STRATEGIES`)."""

__all__ = [
    "BASELINES",
    "LIBRARY_ERROR",
    "NOT_REPORTED",
    "LibraryBaseline",
    "SalesforceBulkXml",
    "SimpleSalesforceBulk",
    "SimpleSalesforceBulk2",
    "SimpleSalesforceCollections",
    "SimpleSalesforceRest",
]
