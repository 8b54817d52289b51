"""Errors the org raises, named after Salesforce's error codes.

Models raise these; `api/error_responses.py` turns one into the wire format of the API family the
request belongs to (a JSON array for REST, Composite and Bulk 2.0, the async-API `<error>` element for
Bulk 1.0, a SOAP fault for login). Each class carries, as class attributes:

- `code`: the REST / Bulk 2.0 `errorCode` (and the SOAP exception code);
- `status`: the HTTP status on the REST framework (REST, Composite, Bulk 2.0);
- `async_code`: the Bulk 1.0 `exceptionCode`;
- `async_status`: the Bulk 1.0 HTTP status where it differs from `status` (Bulk 1.0 answers most
  refusals with 400, session errors included).

An error's class is its identity: code and statuses never change per instance, except that a resource
may give a documented status of its own (`status=` at construction).
"""

from __future__ import annotations


class SalesforceError(Exception):
    """A refused request: one error code and message, and the fields it concerns."""

    code: str = "UNKNOWN_EXCEPTION"
    status: int = 400
    async_code: str = "ClientInputError"
    async_status: int | None = None

    def __init__(self, message: str, fields: list[str] | None = None, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields or [])
        if status is not None:
            self.status = status


# -- session, login and allocation ------------------------------------------------------------------
class InvalidSessionId(SalesforceError):
    """Missing, expired or revoked session: REST 401; Bulk 1.0 400 (jsforce reads that as expiry)."""

    code = "INVALID_SESSION_ID"
    status = 401
    async_code = "InvalidSessionId"
    async_status = 400


class InvalidLogin(SalesforceError):
    """SOAP login() refused: rendered as a LoginFault."""

    code = "INVALID_LOGIN"
    status = 500


class RequestLimitExceeded(SalesforceError):
    """The daily API request allocation is used up (REST 403; Bulk 1.0 400 ExceededQuota)."""

    code = "REQUEST_LIMIT_EXCEEDED"
    status = 403
    async_code = "ExceededQuota"
    async_status = 400


class ExceededQuota(SalesforceError):
    """A Bulk allocation (batches, records, query jobs) is used up."""

    code = "EXCEEDED_QUOTA"
    async_code = "ExceededQuota"


# -- URLs, methods and versions ---------------------------------------------------------------------
class NotFound(SalesforceError):
    """No such resource (or no such record behind a row URL)."""

    code = "NOT_FOUND"
    status = 404
    async_code = "InvalidUrl"
    async_status = 404


class NotFoundSObject(SalesforceError):
    """No such object type: REST 404; a Bulk 1.0 job naming it is an InvalidJob (400)."""

    code = "NOT_FOUND"
    status = 404
    async_code = "InvalidJob"
    async_status = 400


class UnsupportedApiVersion(SalesforceError):
    """A version outside the served range: REST 404; Bulk 1.0 400 InvalidVersion."""

    code = "NOT_FOUND"
    status = 404
    async_code = "InvalidVersion"
    async_status = 400


class MethodNotAllowed(SalesforceError):
    """An HTTP method the resource does not take (Bulk 1.0: anything but GET and POST)."""

    code = "METHOD_NOT_ALLOWED"
    status = 405
    async_code = "InvalidUrl"
    async_status = 405


# -- request bodies ---------------------------------------------------------------------------------
class JsonParserError(SalesforceError):
    """A JSON body that cannot be read: malformed, empty, the wrong shape, or nested too deep."""

    code = "JSON_PARSER_ERROR"


class InvalidXml(SalesforceError):
    """An XML body that cannot be read: malformed, or declaring entities (entity bombs, XXE)."""

    code = "INVALID_XML"
    async_code = "InvalidXML"


class UnsupportedMediaType(SalesforceError):
    """A Content-Type the resource does not take: REST 415, refused before the body is read."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    async_status = 400


class ClientInputError(SalesforceError):
    """Bad input to a Bulk resource that no narrower code describes."""

    code = "CLIENTINPUTERROR"


class InvalidApiInput(SalesforceError):
    """A Composite request outside its documented limits, or with a subrequest URL it cannot serve."""

    code = "INVALID_API_INPUT"


class InvalidOperation(SalesforceError):
    """An operation the endpoint does not offer (the emulator's SOAP endpoint offers login() only)."""

    code = "INVALID_OPERATION"
    async_code = "InvalidOperation"


class InvalidCompressedBody(SalesforceError):
    """A body whose Content-Encoding (gzip, deflate) does not decode. Code and message as Salesforce was
    seen to answer (UNKNOWN_EXCEPTION); the 400 status is the emulator's choice (UNCONFIRMED)."""

    code = "UNKNOWN_EXCEPTION"


class IllegalQueryParameterValue(SalesforceError):
    """A query parameter the resource reads, with a value it cannot use (`columns`, `maxRecords`, ...)."""

    code = "ILLEGAL_QUERY_PARAMETER_VALUE"


# -- records, fields and queries --------------------------------------------------------------------
class InvalidField(SalesforceError):
    """An unknown field or column, or a request that names no records."""

    code = "INVALID_FIELD"


class InvalidType(SalesforceError):
    """An unknown or unsupported object type (SOQL FROM, a job's object)."""

    code = "INVALID_TYPE"
    async_code = "InvalidJob"


class MalformedQuery(SalesforceError):
    """SOQL that does not parse."""

    code = "MALFORMED_QUERY"


class InvalidQueryLocator(SalesforceError):
    """A queryMore locator the org does not know (expired or never issued)."""

    code = "INVALID_QUERY_LOCATOR"


class ExceededIdLimit(SalesforceError):
    """More records in one sObject Collections request than it takes."""

    code = "EXCEEDED_ID_LIMIT"


class InvalidBatchSize(SalesforceError):
    """An sObject Collections request with more than 10 chunks (runs of one object type)."""

    code = "INVALID_BATCH_SIZE"


# -- Bulk jobs and batches --------------------------------------------------------------------------
class InvalidJob(SalesforceError):
    """A job that does not exist or whose document is invalid."""

    code = "INVALIDJOB"
    async_code = "InvalidJob"


class InvalidJobState(SalesforceError):
    """A state change or upload the job's current state does not allow."""

    code = "INVALIDJOBSTATE"
    async_code = "InvalidJobState"


class JobNotComplete(SalesforceError):
    """Results asked for before the job finished (Bulk 2.0: 412)."""

    code = "JOB_NOT_COMPLETE"
    status = 412
    async_code = "InvalidJobState"


class InvalidBatch(SalesforceError):
    """A batch that cannot be read or run: wrong type, too large, malformed, unknown batch."""

    code = "INVALIDBATCH"
    async_code = "InvalidBatch"


# -- the server itself ------------------------------------------------------------------------------
class ServerUnavailable(SalesforceError):
    """A transient outage (injected by the fault profile): retry later."""

    code = "SERVER_UNAVAILABLE"
    status = 503
    async_code = "Timeout"
    async_status = 503


class InternalError(SalesforceError):
    """A bug in the emulator, or an injected 500: answered as Salesforce answers its own failures."""

    code = "UNKNOWN_EXCEPTION"
    status = 500
    async_code = "InternalServerError"
    async_status = 500


class OAuthError(Exception):
    """OAuth token endpoint failures use their own body shape: {"error", "error_description"}."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class RecordError(Exception):
    """A per-record failure (a SaveResult error), never an HTTP status by itself."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = list(fields or [])

    def as_save_error(self) -> dict:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}
