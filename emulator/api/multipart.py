"""`multipart/form-data` request bodies (Bulk API 2.0 creates a job with its data in one request).

The body is read whole, up to a cap the caller gives (the resource's documented limit, in bytes), and
parsed by the standard library's MIME parser: parts are found by the `name` of their
Content-Disposition. A body the parser cannot split into parts (no boundary, no opening or closing
boundary) is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.errors import (
    CloseBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP

from ..errors import ClientInputError

MEDIA_TYPE = "multipart/form-data"
_FATAL = (
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
    CloseBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
)


@dataclass(frozen=True)
class FormPart:
    name: str
    media_type: str
    data: bytes


async def read_capped(stream: AsyncIterator[bytes], cap: int, too_large: str) -> bytes:
    """The whole body, or ClientInputError(`too_large`) as soon as it passes `cap` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > cap:
            raise ClientInputError(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def form_parts(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by name (the first of a repeated name wins)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if any(isinstance(d, _FATAL) for d in message.defects) or not message.is_multipart():
        raise ClientInputError(
            "ClientInputError : The multipart request body is malformed: its parts could not be read "
            "(check the boundary in the Content-Type header and in the body)"
        )
    parts: dict[str, FormPart] = {}
    assert isinstance(message, EmailMessage)  # the HTTP policy builds EmailMessage objects
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name not in parts:
            payload = part.get_payload(decode=True)
            parts[name] = FormPart(name, part.get_content_type(), payload if isinstance(payload, bytes) else b"")
    return parts
