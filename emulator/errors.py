"""Errors the org raises, named after Salesforce's error codes.

Models raise these; each API family's renderer turns one into that family's wire format (a JSON array
for REST, Composite and Bulk 2.0, the async-API `<error>` element for Bulk 1.0, a SOAP fault for login).
An error carries the REST `errorCode` and, where Bulk 1.0 uses a different `exceptionCode`, that too.
"""

from __future__ import annotations


class SalesforceError(Exception):
    code: str = "UNKNOWN_EXCEPTION"
    status: int = 400
    async_code: str = "ClientInputError"  # Bulk 1.0 / Bulk 2.0 exception code
    async_status: int | None = None  # Bulk 1.0 status when it differs from `status`

    def __init__(self, message: str, fields: list[str] | None = None, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields or [])
        if status is not None:
            self.status = status

    def rest_body(self) -> list[dict]:
        body: dict = {"message": self.message, "errorCode": self.code}
        if self.fields:
            body["fields"] = self.fields
        return [body]


def _error(name: str, code: str, status: int = 400, async_code: str = "ClientInputError", async_status: int | None = None):
    cls = type(name, (SalesforceError,), {"code": code, "status": status, "async_code": async_code, "async_status": async_status})
    return cls


InvalidSessionId = _error("InvalidSessionId", "INVALID_SESSION_ID", 401, "InvalidSessionId", 400)
RequestLimitExceeded = _error("RequestLimitExceeded", "REQUEST_LIMIT_EXCEEDED", 403, "ExceededQuota", 400)
NotFound = _error("NotFound", "NOT_FOUND", 404, "InvalidUrl", 404)
MethodNotAllowed = _error("MethodNotAllowed", "METHOD_NOT_ALLOWED", 405, "InvalidUrl", 405)
MalformedId = _error("MalformedId", "MALFORMED_ID", 400)
MalformedQuery = _error("MalformedQuery", "MALFORMED_QUERY", 400)
InvalidField = _error("InvalidField", "INVALID_FIELD", 400)
InvalidType = _error("InvalidType", "INVALID_TYPE", 400, "InvalidJob")
NotFoundSObject = _error("NotFoundSObject", "NOT_FOUND", 404, "InvalidJob", 400)
JsonParserError = _error("JsonParserError", "JSON_PARSER_ERROR", 400, "ClientInputError")
InvalidXml = _error("InvalidXml", "INVALID_XML", 400, "InvalidXML")
UnsupportedMediaType = _error("UnsupportedMediaType", "UNSUPPORTED_MEDIA_TYPE", 415, "ClientInputError", 400)
InvalidBatch = _error("InvalidBatch", "INVALIDBATCH", 400, "InvalidBatch")
InvalidJob = _error("InvalidJob", "INVALIDJOB", 400, "InvalidJob")
InvalidJobState = _error("InvalidJobState", "INVALIDJOBSTATE", 400, "InvalidJobState")
InvalidOperation = _error("InvalidOperation", "INVALIDOPERATION", 400, "InvalidOperation")
ClientInputError = _error("ClientInputError", "CLIENTINPUTERROR", 400, "ClientInputError")
JobNotComplete = _error("JobNotComplete", "JOB_NOT_COMPLETE", 412, "InvalidJobState")
ApiVersionMismatch = _error("ApiVersionMismatch", "INVALIDURL", 409, "InvalidUrl")
ProcessingHalted = _error("ProcessingHalted", "PROCESSING_HALTED", 400)
InvalidLogin = _error("InvalidLogin", "INVALID_LOGIN", 500)
UnsupportedApiVersion = _error("UnsupportedApiVersion", "NOT_FOUND", 404, "InvalidVersion", 400)
ServerUnavailable = _error("ServerUnavailable", "SERVER_UNAVAILABLE", 503, "Timeout", 503)
InternalError = _error("InternalError", "UNKNOWN_EXCEPTION", 500, "InternalServerError", 500)
InvalidCompressedBody = _error("InvalidCompressedBody", "UNKNOWN_EXCEPTION", 400, "ClientInputError")
IllegalQueryParameterValue = _error("IllegalQueryParameterValue", "ILLEGAL_QUERY_PARAMETER_VALUE", 400)
ExceededQuota = _error("ExceededQuota", "EXCEEDED_QUOTA", 400, "ExceededQuota")


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
