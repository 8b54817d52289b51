"""Every failure a command can end with, as (exit code, name, one-line message, hint): the one map.

Why one place: a user who meets an expired token, an untrusted certificate or a spent daily allocation
needs the same short answer whichever command met it, and a script needs the same exit code. Commands
raise (`CommandFailed` for what they judge themselves, anything else for what they met); `classify`
turns the exception into a `Failure`, and `harness.output` prints it (or its JSON envelope).

Network failures are recognised from the exception chain, not from messages: the strategies' and the
login code's errors keep the `requests` / `urllib3` / `ssl` / `socket` exception that caused them as
``__cause__`` or ``__context__``, and `_chain` walks those links (and `urllib3`'s ``reason``).

Exit codes (the README's table is checked against `EXIT_CODES`):
"""

from __future__ import annotations

import difflib
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from strategies.errors import (
    ApiError,
    AuthenticationError,
    BudgetError,
    ConfigurationError,
    JobError,
    RecordValidationError,
    RequestLimitError,
    RunFailed,
    ServerError,
    StrategyError,
    TransportError,
)

from .orgs import BadOrgUrl, ConnectionError_, IncompleteCredentials, LoginRefused, SfCliUnavailable, redact

EXIT_OK = 0
EXIT_RECORDS = 1
EXIT_INPUT = 2
EXIT_BUDGET = 3
EXIT_ORG = 4
EXIT_PENDING = 5
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "everything succeeded",
    EXIT_RECORDS: "some records failed or were not processed, a compare run crashed or did not verify, or an unexpected error",
    EXIT_INPUT: "bad input or usage (flags, input file, object or field names); nothing was written",
    EXIT_BUDGET: "the budget guard refused, or the org's daily API allocation is spent",
    EXIT_ORG: "the org could not be reached (DNS, refused, reset, timeout, TLS, maintenance) or refused the credentials",
    EXIT_PENDING: "a bulk job was left processing: collect it with `sfharness resume`",
}
__doc__ = (__doc__ or "") + "\n".join(f"    {code}  {meaning}" for code, meaning in EXIT_CODES.items()) + "\n"

API_DISABLED_CODES = frozenset({"API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"})
JOB_FAILURE_CODES = frozenset({"JOB_FAILED", "JOB_ABORTED", "BATCH_FAILED", "BATCH_NOT_PROCESSED"})
"""Unprocessed-record codes the Bulk strategies give the rows of a job or batch the org failed or aborted."""


@dataclass(frozen=True)
class Failure:
    """How a command ended when it did not fully succeed: what a person reads and a script tests."""

    status: int
    name: str
    message: str
    hint: str | None = None
    warnings: tuple[str, ...] = field(default=())

    def redacted(self) -> Failure:
        return Failure(
            self.status, self.name, redact(self.message), redact(self.hint) if self.hint else None, self.warnings
        )


class CommandFailed(Exception):
    """Raised by a command that judged the situation itself (bad input, budget guard, records failed).

    `result` is what the command got done before it stopped (a run's summary and outcome files), shown
    in the JSON envelope's ``result`` beside the error.
    """

    def __init__(self, failure: Failure, result: dict[str, Any] | None = None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.result = result


def fail(
    message: str,
    status: int = EXIT_INPUT,
    *,
    name: str | None = None,
    hint: str | None = None,
    result: dict[str, Any] | None = None,
) -> CommandFailed:
    """The exception a command raises to end with one clear line (``raise fail(...)``)."""
    default_names = {
        EXIT_INPUT: "BadInput",
        EXIT_BUDGET: "BudgetGuard",
        EXIT_RECORDS: "RecordsFailed",
        EXIT_ORG: "OrgUnavailable",
        EXIT_PENDING: "JobPending",
    }
    return CommandFailed(Failure(status, name or default_names.get(status, "Failed"), message, hint), result)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest of `candidates` to `name` (compared without case), or None when none is close."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


# -- classification ------------------------------------------------------------------------------------
def classify(exc: BaseException) -> Failure:
    """The `Failure` an exception stands for; never raises, never shows a secret (see `Failure.redacted`)."""
    return _classify(exc).redacted()


def _classify(exc: BaseException) -> Failure:
    if isinstance(exc, CommandFailed):
        return exc.failure
    if isinstance(exc, KeyboardInterrupt):
        return Failure(
            EXIT_INTERRUPTED,
            "Interrupted",
            "interrupted (Ctrl-C)",
            "open bulk jobs keep running on the org; collect one with `sfharness resume`",
        )
    if isinstance(exc, RunFailed) and exc.__cause__ is not None:
        return _classify(exc.__cause__)
    network = _network_failure(exc)
    if network is not None:
        return network
    if isinstance(exc, BadOrgUrl):
        return Failure(EXIT_INPUT, "UrlWithoutScheme", str(exc), exc.hint)
    if isinstance(exc, IncompleteCredentials):
        return Failure(
            EXIT_INPUT,
            "IncompleteCredentials",
            str(exc),
            "see `sfharness update -h` for the org flags and their variables",
        )
    if isinstance(exc, SfCliUnavailable):
        return Failure(
            EXIT_ORG,
            "SfCliFailed",
            str(exc),
            "check the alias with `sf org list`; log in again with `sf org login web -a ALIAS` if it expired",
        )
    if isinstance(exc, LoginRefused):
        return Failure(
            EXIT_ORG,
            "LoginRefused",
            str(exc),
            "check the client id and secret, username and password (+ security token) and --login-url "
            "(a sandbox logs in at https://test.salesforce.com or its My Domain)",
        )
    if isinstance(exc, ConnectionError_):
        return Failure(EXIT_ORG, "OrgUnavailable", str(exc), None)
    if isinstance(exc, StrategyError):
        return _strategy_failure(exc)
    return Failure(
        EXIT_RECORDS,
        "InternalError",
        f"unexpected error: {type(exc).__name__}: {exc}",
        "re-run with --debug (or SFHARNESS_DEBUG=1) for the traceback, and report it",
    )


def _strategy_failure(exc: StrategyError) -> Failure:
    if isinstance(exc, RecordValidationError):
        return Failure(
            EXIT_INPUT, "BadInput", str(exc), "correct the rows named above and run again; nothing was written"
        )
    if isinstance(exc, BudgetError):
        return Failure(EXIT_BUDGET, "BudgetGuard", str(exc), "see the predicted costs with `sfharness plan`")
    if isinstance(exc, ConfigurationError):
        return Failure(EXIT_INPUT, "BadInput", str(exc), None)
    if isinstance(exc, ApiError):
        return _api_failure(exc)
    if isinstance(exc, TransportError):
        return Failure(EXIT_ORG, "OrgUnreachable", f"the org gave no usable answer: {exc}", "retry; check your network")
    return Failure(EXIT_RECORDS, type(exc).__name__, str(exc), None)


def _api_failure(exc: ApiError) -> Failure:
    said = f"{exc.error_code}: {exc.message}" if exc.message else exc.error_code
    if exc.error_code in API_DISABLED_CODES:
        return Failure(
            EXIT_ORG,
            "ApiDisabled",
            f"the org does not allow API access for this user ({said})",
            "give the user's profile or a permission set the 'API Enabled' permission (an edition "
            "without API access needs it added by Salesforce)",
        )
    if isinstance(exc, AuthenticationError):
        return Failure(
            EXIT_ORG,
            "AuthenticationFailed",
            f"the org refused the credentials ({said})",
            "the access token is invalid or expired: get a new one (`sf org display -o ALIAS`), or log in "
            "with a method that renews it (--target-org, client credentials, JWT)",
        )
    if isinstance(exc, RequestLimitError) or exc.error_code == "REQUEST_LIMIT_EXCEEDED":
        if "ConcurrentPerOrgLongTxn" in exc.message:
            return Failure(
                EXIT_BUDGET,
                "RequestLimitExceeded",
                f"too many long-running requests at once on the org ({said})",
                "retry later, or lower --concurrency",
            )
        return Failure(
            EXIT_BUDGET,
            "RequestLimitExceeded",
            f"the org's daily API allocation is spent ({said})",
            "usage counts over a rolling 24 hours: retry later, or pick a cheaper strategy (`sfharness plan`); "
            "`sfharness limits` shows what is left",
        )
    if isinstance(exc, ServerError) or exc.status >= 500:
        if exc.status == 503:
            return Failure(
                EXIT_ORG,
                "OrgUnavailable",
                f"the org is unavailable (HTTP 503 {said}), still after retries",
                "the instance may be in maintenance: see https://status.salesforce.com, then retry "
                "(a bulk job already created can be collected with `sfharness resume`)",
            )
        return Failure(
            EXIT_ORG,
            "OrgServerError",
            f"the org failed the request (HTTP {exc.status} {said}), still after retries",
            "retry; if it persists, the error id in the message helps Salesforce support",
        )
    if isinstance(exc, JobError):
        return Failure(
            EXIT_RECORDS,
            "JobFailed",
            f"the org failed a bulk job ({said})",
            "the job's rows are in unprocessed.csv: fix the cause and pass that file back to `update --input`",
        )
    if exc.status in (401, 403):
        return Failure(
            EXIT_ORG,
            "AccessRefused",
            f"the org refused the request (HTTP {exc.status} {said})",
            "check the user's permissions on this object",
        )
    return Failure(EXIT_RECORDS, "OrgRefusedRequest", f"the org refused a request (HTTP {exc.status} {said})", None)


def _network_failure(exc: BaseException) -> Failure | None:
    """The failure a transport problem stands for, found anywhere in `exc`'s chain; None when there is none."""
    chain = list(_chain(exc))
    host = next((h for h in map(_host_of, chain) if h), "the org")
    if not any(isinstance(e, (requests.RequestException, urllib3.exceptions.HTTPError, OSError)) for e in chain):
        return None
    if any(isinstance(e, (ssl.SSLCertVerificationError,)) for e in chain) or any(
        "CERTIFICATE_VERIFY_FAILED" in str(e)
        for e in chain
        if isinstance(e, (requests.exceptions.SSLError, ssl.SSLError))
    ):
        reason = next(
            (e.verify_message for e in chain if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message), ""
        )
        return Failure(
            EXIT_ORG,
            "TlsUntrusted",
            f"TLS: the certificate of {host} is not trusted{f' ({reason})' if reason else ''}",
            "if a corporate proxy or a private CA signs it, trust that CA with --ca-file FILE (or SF_CA_FILE); "
            "verification stays on",
        )
    if any(isinstance(e, (requests.exceptions.SSLError, ssl.SSLError)) for e in chain):
        return Failure(
            EXIT_ORG,
            "TlsFailed",
            f"TLS handshake with {host} failed",
            "check that the URL is the org's https address (not a plain-HTTP port) and that no proxy interferes",
        )
    if any(isinstance(e, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for e in chain):
        return Failure(
            EXIT_ORG,
            "HostNotFound",
            f"cannot resolve the host name {host}",
            "check the URL (--instance-url, --login-url or the alias's instance) and your network or VPN",
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Failure(
            EXIT_ORG,
            "ConnectionRefused",
            f"nothing is listening at {host}: connection refused",
            "check the URL and port (a standalone emulator prints its instance_url when it starts; is it still running?)",
        )
    if any(
        isinstance(
            e,
            (
                ConnectionResetError,
                ConnectionAbortedError,
                BrokenPipeError,
                urllib3.exceptions.ProtocolError,
                requests.exceptions.ChunkedEncodingError,
            ),
        )
        for e in chain
    ):
        return Failure(
            EXIT_ORG,
            "ConnectionReset",
            f"the connection to {host} was closed before a complete answer",
            "retry; a proxy or firewall that cuts connections can cause this (a bulk job already created "
            "can be collected with `sfharness resume`)",
        )
    # After refused and reset: urllib3's NewConnectionError is a ConnectTimeoutError, whatever its cause.
    if any(
        isinstance(e, (requests.Timeout, TimeoutError, urllib3.exceptions.ReadTimeoutError))
        or type(e) is urllib3.exceptions.ConnectTimeoutError
        for e in chain
    ):
        return Failure(
            EXIT_ORG,
            "Timeout",
            f"{host} did not answer in time",
            "the org or the network is slow or blocked: retry later; a proxy may need HTTPS_PROXY",
        )
    if any(isinstance(e, requests.exceptions.ConnectionError) for e in chain):
        return Failure(EXIT_ORG, "OrgUnreachable", f"cannot connect to {host}", "check the URL and your network")
    if any(
        isinstance(
            e, (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL)
        )
        for e in chain
    ):
        return Failure(EXIT_INPUT, "UrlWithoutScheme", f"not a usable URL: {host}", "write the org's URL with https://")
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it links to: causes, contexts, urllib3 ``reason``s and exception arguments."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        links: list[Any] = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(link for link in links if isinstance(link, BaseException))


def _host_of(exc: BaseException) -> str | None:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str) and url:
        return urlsplit(url).netloc or None
    pool = getattr(exc, "pool", None)
    if pool is not None and getattr(pool, "host", None):
        return f"{pool.host}:{pool.port}" if getattr(pool, "port", None) else str(pool.host)
    return None
