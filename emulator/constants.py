"""Documented Salesforce limits the emulator enforces (sources: ../shared/reference/salesforce-api-facts.md).

Validation code and error messages both cite these names, so a limit is changed in one place.
"""

from __future__ import annotations

MIN_API_VERSION = 42.0
MAX_API_VERSION = 64.0
DEFAULT_API_VERSION = "62.0"

# REST
QUERY_PAGE_SIZE = 2000  # rows per query / queryMore page (fact sheet 4.6)
QUERY_PAGE_MIN = 200
COLLECTIONS_MAX_RECORDS = 200  # sObject Collections (4.3)
COMPOSITE_MAX_SUBREQUESTS = 25  # Composite (4.4)
COMPOSITE_MAX_COLLECTIONS_OR_QUERIES = 5
COMPOSITE_BATCH_MAX_SUBREQUESTS = 25  # Composite Batch (4.5)

# Bulk API 1.0 (2.2)
BULK1_MAX_RECORDS_PER_BATCH = 10_000
BULK1_MAX_BYTES_PER_BATCH = 10_000_000
BULK1_MAX_CHARS_PER_BATCH = 10_000_000
BULK_TRANSACTION_SIZE = 200  # records per transaction inside a batch / internal chunk

# Bulk API 2.0 (2.5)
BULK2_MAX_UPLOAD_BYTES = 150_000_000  # base64-encoded; ~100 MB of raw CSV advised
BULK2_MULTIPART_MAX_CHARS = 100_000  # job data sent with the create request (multipart): "under 100,000 characters"
BULK2_INTERNAL_BATCH_RECORDS = 10_000
BULK2_QUERY_DEFAULT_PAGE = 50_000  # emulator's default maxRecords for query results
BULK2_DAILY_RECORDS = 150_000_000

# Daily allocations by edition (1.4, 2.1, 2.6)
EDITION_DAILY_API_REQUESTS = {
    "developer": 15_000,
    "enterprise": 100_000,
    "sandbox": 5_000_000,
}
DAILY_BULK_API_BATCHES = 15_000
DAILY_BULK_V2_QUERY_JOBS = 10_000

SESSION_SECONDS_VALID = 7200

BULK1_NS = "http://www.force.com/2009/06/asyncapi/dataload"
