"""Interchangeable strategies that update Salesforce records, each spending the fewest calls its API allows.

    from strategies import OrgSession, CsvResultSink, CsvRecords, get
    with OrgSession(instance_url, token, ca_file=ca) as session:
        strategy = get("bulk2-csv", session)
        summary = strategy.update("Byline__c", CsvRecords("in.csv"), CsvResultSink("out/"))

See `base` for the interface and the accounting invariant, `transport` for retries and re-authentication,
`meter` for how calls are counted, `summary` for what a run reports, `journal` for the write-ahead run
journal a `state_dir` keeps (and how a lost answer is resolved), `resume` for completing a journaled run
(``resume_run(state_dir, session, sink)``), and each strategy module for its call formula.
"""

from .auto import AutoStrategy
from .base import RETRYABLE_RECORD_CODES, CallEstimate, UpdateStrategy
from .bulk1_xml import Bulk1Strategy
from .bulk2_csv import Bulk2Strategy
from .composite import CompositeStrategy
from .errors import (
    ApiError,
    AuthenticationError,
    BudgetError,
    ConfigurationError,
    JobError,
    RecordProblem,
    RecordValidationError,
    RequestLimitError,
    RunFailed,
    RunInterrupted,
    ServerError,
    StrategyError,
    TransportError,
)
from .journal import RunJournal
from .meter import LimitInfo, Meter
from .polling import PollPolicy, PollResult, poll
from .records import Chunker, ChunkLimits, CsvRecords, JsonlRecords, read_records
from .registry import STRATEGIES, from_env, get, names, strategy_class
from .rest import RestStrategy
from .resume import resume_run
from .sinks import CountingSink, CsvResultSink, MemorySink, RecordOutcome, ResultSink
from .sobject_collections import CollectionsStrategy
from .summary import RunSummary
from .transport import OrgSession, RetryPolicy

__all__ = [
    "RETRYABLE_RECORD_CODES",
    "STRATEGIES",
    "ApiError",
    "AuthenticationError",
    "AutoStrategy",
    "BudgetError",
    "Bulk1Strategy",
    "Bulk2Strategy",
    "CallEstimate",
    "ChunkLimits",
    "Chunker",
    "CollectionsStrategy",
    "CompositeStrategy",
    "ConfigurationError",
    "CountingSink",
    "CsvRecords",
    "CsvResultSink",
    "JobError",
    "JsonlRecords",
    "LimitInfo",
    "MemorySink",
    "Meter",
    "OrgSession",
    "PollPolicy",
    "PollResult",
    "RecordOutcome",
    "RecordProblem",
    "RecordValidationError",
    "RequestLimitError",
    "RestStrategy",
    "ResultSink",
    "RetryPolicy",
    "RunFailed",
    "RunInterrupted",
    "RunJournal",
    "RunSummary",
    "ServerError",
    "StrategyError",
    "TransportError",
    "UpdateStrategy",
    "from_env",
    "get",
    "names",
    "poll",
    "read_records",
    "resume_run",
    "strategy_class",
]
