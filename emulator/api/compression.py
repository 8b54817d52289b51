"""Compressed bodies on the wire, as Salesforce's REST (with Composite and Bulk 2.0) and Bulk 1.0 APIs use them.

Requests: `Content-Encoding: gzip` or `deflate` bodies are decompressed before any resource reads them
("REST API decompresses any requests before processing"; REST API guide, "Compression Headers"), as
they stream in, at most `_CHUNK` bytes of output at a time, so an upload is never held in memory. A body
that is not valid data of its coding fails the request with the error Salesforce was seen to give for
bad gzip (`UNKNOWN_EXCEPTION` "The Content-Encoding of the message specifices GZIP, but the data is not in
valid GZIP format", Salesforce's spelling; the HTTP status, 400 here, is UNCONFIRMED), before the resource
has changed anything. Other codings are refused with 415 before the body is read.

Responses: compressed with gzip when the request's Accept-Encoding names gzip (REST: "Salesforce
compresses a response only if the request contains an Accept-Encoding: gzip ... header"; Bulk API:
"Responses are compressed if the client makes a request using the Accept-Encoding header, with a value of
gzip"), streamed responses included. Empty bodies (204) stay empty. The compression level is the
emulator's choice (clients see only the size): the lowest, to keep the server's CPU for the org's work.
"""

from __future__ import annotations

import zlib
from typing import Any

from starlette.middleware.gzip import GZipResponder

from ..errors import InvalidCompressedBody, UnsupportedMediaType

#: Content-Encoding -> zlib window bits: gzip framing, or the zlib framing HTTP calls "deflate".
_REQUEST_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK = 1 << 20  # decompressed bytes handed to the resource per receive()
_LEVEL = 1


def request_coding(content_encoding: str | None) -> str | None:
    """The coding to undo for a request's Content-Encoding (None for none or identity); 415 for an unknown one."""
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return None
    if coding not in _REQUEST_CODINGS:
        raise UnsupportedMediaType(f"Content-Encoding header specified in HTTP request is not supported: {coding}")
    return coding


def decoding(coding: str, receive: Any) -> Any:
    """`receive` that hands the request body on decompressed (raises InvalidCompressedBody for bad data)."""
    return _Decoder(coding, receive).receive


def accepts_gzip(accept_encoding: str | None) -> bool:
    return "gzip" in (accept_encoding or "").lower()


def compressing(app: Any) -> Any:
    """`app` with its response gzip-compressed (for a request that accepts gzip)."""
    return GZipResponder(app, minimum_size=1, compresslevel=_LEVEL)


class _Decoder:
    def __init__(self, coding: str, receive: Any) -> None:
        self.coding = coding
        self.upstream = receive
        self.inflater = zlib.decompressobj(_REQUEST_CODINGS[coding])
        self.pending = b""  # compressed input not yet decompressed (output was capped)
        self.more = True  # the client has more body to send
        self.seen_input = False
        self.finished = False  # the whole body was handed on: later calls wait for the client (disconnect)

    async def receive(self) -> dict[str, Any]:
        if self.finished:
            return await self.upstream()
        if not self.pending and self.more:
            message = await self.upstream()
            if message["type"] != "http.request":
                return message
            self.pending = message.get("body", b"")
            self.more = bool(message.get("more_body", False))
            self.seen_input = self.seen_input or bool(self.pending)
        try:
            out = self._inflate()
        except zlib.error:
            raise self._bad() from None
        done = not self.more and not self.pending
        if done and self.seen_input and not self.inflater.eof:
            raise self._bad()  # truncated
        self.finished = done
        return {"type": "http.request", "body": out, "more_body": not done}

    def _inflate(self) -> bytes:
        data, self.pending = self.pending, b""
        out = self.inflater.decompress(data, _CHUNK)
        self.pending = self.inflater.unconsumed_tail
        if self.inflater.eof and self.inflater.unused_data:
            # The next gzip member of a multi-member body: a fresh inflater picks it up on the next call.
            self.pending = self.inflater.unused_data + self.pending
            self.inflater = zlib.decompressobj(_REQUEST_CODINGS[self.coding])
        return out

    def _bad(self) -> InvalidCompressedBody:
        name = "GZIP" if "gzip" in self.coding else self.coding.upper()
        return InvalidCompressedBody(
            f"The Content-Encoding of the message specifices {name}, but the data is not in valid {name} format"
        )
