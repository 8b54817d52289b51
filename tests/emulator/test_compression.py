"""Compressed bodies (REST API guide "Compression Headers"; Bulk API "Use Compression for Responses").

Requests with `Content-Encoding: gzip` (or deflate) are read as if sent plain, on REST, Composite and both
Bulk APIs, and are charged exactly as the plain request; responses are gzip-compressed when the client
accepts gzip. A body that does not decompress is refused and changes nothing.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib

import pytest
from defusedxml.ElementTree import fromstring

from .conftest import BULK_NS, job_xml, state_xml

GZIP = {"Content-Encoding": "gzip"}
BAD_GZIP = "The Content-Encoding of the message specifices GZIP, but the data is not in valid GZIP format"


def gz(data: str | bytes) -> bytes:
    return gzip.compress(data.encode() if isinstance(data, str) else data)


def json_gz(value) -> bytes:
    return gz(json.dumps(value))


def xml_field(resp, name: str) -> str:
    found = fromstring(resp.content).find(f"{{{BULK_NS}}}{name}")
    assert found is not None, resp.text
    return found.text or ""


def wait_job(api, wait, job_id: str) -> dict:
    def done():
        info = api.bulk2("GET", f"/ingest/{job_id}").json()
        return info if info["state"] in ("JobComplete", "Failed", "Aborted") else None

    return wait(done, what=f"job {job_id}")


# -- requests -------------------------------------------------------------------------------------------
def test_rest_and_composite_read_compressed_bodies_and_charge_them_as_plain(api, seeded):
    ids = seeded(4)
    patch = api.rest(
        "PATCH",
        f"/sobjects/Byline__c/{ids[0]}",
        data=json_gz({"Tweets__c": 41}),
        headers={**GZIP, "Content-Type": "application/json"},
    )
    assert patch.status_code == 204, patch.text
    deflated = api.rest(
        "PATCH",
        f"/sobjects/Byline__c/{ids[1]}",
        data=zlib.compress(b'{"Tweets__c": 42}'),
        headers={"Content-Encoding": "deflate", "Content-Type": "application/json"},
    )
    assert deflated.status_code == 204, deflated.text
    created = api.rest("POST", "/sobjects/Account", data=json_gz({"Name": "Zipped"}), headers=GZIP)
    assert created.status_code == 201 and created.json()["success"] is True
    composite = {
        "compositeRequest": [
            {
                "referenceId": "p",
                "method": "PATCH",
                "url": f"/services/data/v62.0/sobjects/Byline__c/{ids[2]}",
                "body": {"Tweets__c": 43},
            }
        ]
    }
    resp = api.rest("POST", "/composite", data=json_gz(composite), headers=GZIP)
    assert resp.status_code == 200 and resp.json()["compositeResponse"][0]["httpStatusCode"] == 204
    collections = {"records": [{"attributes": {"type": "Byline__c"}, "id": ids[3], "Tweets__c": 44}]}
    resp = api.rest("PATCH", "/composite/sobjects", data=json_gz(collections), headers=GZIP)
    assert resp.status_code == 200 and resp.json()[0]["success"] is True
    stored = api.records()
    assert [stored[r]["Tweets__c"] for r in ids] == [41, 42, 43, 44]
    assert "Zipped" in [a["Name"] for a in api.records("Account", ["Id", "Name"]).values()]
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 5
    assert usage["by_endpoint"] == {
        "PATCH /services/data/vXX.X/sobjects/Byline__c/{id}": 2,
        "POST /services/data/vXX.X/sobjects/Account": 1,
        "POST /services/data/vXX.X/composite": 1,
        "PATCH /services/data/vXX.X/composite/sobjects": 1,
    }


def test_bulk2_reads_compressed_job_documents_and_data(api, wait, seeded):
    ids = seeded(12_000)  # about 300 KB of CSV: the upload reaches the resource in several chunks
    job = api.bulk2(
        "POST",
        "/ingest",
        data=json_gz({"object": "Byline__c", "operation": "update"}),
        headers={**GZIP, "Content-Type": "application/json"},
    )
    assert job.status_code == 200, job.text
    data = "Id,Tweets__c\n" + "".join(f"{r},{n % 7}\n" for n, r in enumerate(ids))
    put = api.bulk2(
        "PUT", f"/ingest/{job.json()['id']}/batches", data=gz(data), headers={**GZIP, "Content-Type": "text/csv"}
    )
    assert put.status_code == 201, put.text
    api.bulk2("PATCH", f"/ingest/{job.json()['id']}", data=json_gz({"state": "UploadComplete"}), headers=GZIP)
    info = wait_job(api, wait, job.json()["id"])
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 12_000, 0)
    stored = api.records()
    assert all(stored[r]["Tweets__c"] == n % 7 for n, r in enumerate(ids))
    assert api.org.admin.usage()["DailyBulkApiBatches"]["used"] == 2
    multipart = (
        f'--B\r\nContent-Disposition: form-data; name="job"\r\n\r\n{json.dumps({"object": "Byline__c", "operation": "update"})}\r\n'
        f'--B\r\nContent-Disposition: form-data; name="content"; filename="content"\r\n\r\nId,Tweets__c\n{ids[0]},99\n\r\n--B--\r\n'
    )
    created = api.bulk2(
        "POST", "/ingest", data=gz(multipart), headers={**GZIP, "Content-Type": "multipart/form-data; boundary=B"}
    )
    assert created.status_code == 200 and created.json()["state"] == "UploadComplete", created.text
    assert wait_job(api, wait, created.json()["id"])["state"] == "JobComplete"
    assert api.records()[ids[0]]["Tweets__c"] == 99


def test_bulk1_reads_compressed_job_documents_and_batches(api, wait, seeded):
    ids = seeded(3)
    created = api.bulk1("POST", "/job", body=gz(job_xml(content_type="CSV")), headers=GZIP)
    assert created.status_code == 201, created.text
    job = xml_field(created, "id")
    batch = api.bulk1(
        "POST",
        f"/job/{job}/batch",
        body=gz("Id,Tweets__c\n" + "".join(f"{r},61\n" for r in ids)),
        content_type="text/csv",
        headers=GZIP,
    )
    assert batch.status_code == 201, batch.text
    closed = api.bulk1("POST", f"/job/{job}", body=gz(state_xml("Closed")), headers=GZIP)
    assert xml_field(closed, "state") == "Closed"
    wait(
        lambda: xml_field(api.bulk1("GET", f"/job/{job}/batch/{xml_field(batch, 'id')}"), "state") == "Completed",
        what="batch",
    )
    assert all(r["Tweets__c"] == 61 for r in api.records().values())
    usage = api.org.admin.usage()
    assert usage["DailyBulkApiBatches"]["used"] == 1 and usage["by_family"]["bulk1"] >= 4


# -- responses ------------------------------------------------------------------------------------------
def _raw(resp) -> bytes:
    return resp.raw.read(decode_content=False)


def test_responses_are_gzip_when_the_client_accepts_it(api, wait, seeded):
    ids = seeded(3)
    query = api.rest(
        "GET", "/query", params={"q": "SELECT Id FROM Byline__c"}, headers={"Accept-Encoding": "gzip"}, stream=True
    )
    assert query.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in query.headers["Vary"]
    assert query.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert json.loads(gzip.decompress(_raw(query)))["totalSize"] == 3
    plain = api.rest(
        "GET", "/query", params={"q": "SELECT Id FROM Byline__c"}, headers={"Accept-Encoding": "identity"}, stream=True
    )
    assert "Content-Encoding" not in plain.headers and json.loads(_raw(plain))["totalSize"] == 3
    empty = api.rest(
        "PATCH", f"/sobjects/Byline__c/{ids[0]}", json={"Tweets__c": 1}, headers={"Accept-Encoding": "gzip"}
    )
    assert empty.status_code == 204 and "Content-Encoding" not in empty.headers and empty.content == b""
    error = api.rest("GET", "/sobjects/Nope__c/describe", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert error.status_code == 404 and error.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(_raw(error)))[0]["errorCode"] == "NOT_FOUND"
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.bulk2(
        "PUT", f"/ingest/{job['id']}/batches", data=f"Id,Tweets__c\n{ids[1]},5\n", headers={"Content-Type": "text/csv"}
    )
    api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "UploadComplete"})
    wait_job(api, wait, job["id"])
    results = api.bulk2(
        "GET", f"/ingest/{job['id']}/successfulResults", headers={"Accept-Encoding": "gzip"}, stream=True
    )
    assert results.headers["Content-Encoding"] == "gzip"
    assert (
        gzip.decompress(_raw(results)).decode()
        == f'"sf__Id","sf__Created",Id,Tweets__c\n"{ids[1]}","false",{ids[1]},5\n'
    )
    bulk1 = api.bulk1("POST", "/job", body=job_xml(), headers={"Accept-Encoding": "gzip"}, stream=True)
    assert bulk1.status_code == 201 and bulk1.headers["Content-Encoding"] == "gzip"
    assert b"<state>Open</state>" in gzip.decompress(_raw(bulk1))


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"not gzip at all", gz('{"Tweets__c": 9}')[:-6]], ids=["garbage", "truncated"])
def test_bad_gzip_is_refused_and_changes_nothing(api, seeded, body):
    ids = seeded(2)
    before = api.records()
    patch = api.rest(
        "PATCH", f"/sobjects/Byline__c/{ids[0]}", data=body, headers={**GZIP, "Content-Type": "application/json"}
    )
    assert patch.status_code == 400
    assert patch.json() == [{"message": BAD_GZIP, "errorCode": "UNKNOWN_EXCEPTION"}]
    composite = api.rest("POST", "/composite", data=body, headers=GZIP)
    assert composite.status_code == 400 and composite.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    put = api.bulk2("PUT", f"/ingest/{job['id']}/batches", data=body, headers={**GZIP, "Content-Type": "text/csv"})
    assert put.status_code == 400 and put.json() == [{"errorCode": "UNKNOWN_EXCEPTION", "message": BAD_GZIP}]
    # The job is still open and takes a good upload afterwards.
    assert api.bulk2("GET", f"/ingest/{job['id']}").json()["state"] == "Open"
    good = api.bulk2(
        "PUT",
        f"/ingest/{job['id']}/batches",
        data=gz(f"Id,Tweets__c\n{ids[1]},3\n"),
        headers={**GZIP, "Content-Type": "text/csv"},
    )
    assert good.status_code == 201
    api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "Aborted"})
    bulk1_job = xml_field(api.bulk1("POST", "/job", body=job_xml(content_type="CSV")), "id")
    batch = api.bulk1("POST", f"/job/{bulk1_job}/batch", body=body, content_type="text/csv", headers=GZIP)
    assert batch.status_code == 400
    assert xml_field(batch, "exceptionCode") == "ClientInputError" and xml_field(batch, "exceptionMessage") == BAD_GZIP
    assert xml_field(api.bulk1("GET", f"/job/{bulk1_job}"), "numberBatchesTotal") == "0"
    assert api.records() == before
    # Every refused request reached the API and is charged as any request is.
    usage = api.org.admin.usage()
    assert usage["by_endpoint"]["PATCH /services/data/vXX.X/sobjects/Byline__c/{id}"] == 1
    assert usage["DailyBulkApiBatches"]["used"] == 0


def test_an_unknown_content_encoding_is_415_before_the_body_is_read(api, seeded):
    rid = seeded(1)[0]
    before = api.records()
    resp = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", data=b"\x00\x01", headers={"Content-Encoding": "br"})
    assert resp.status_code == 415 and resp.json()[0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"
    assert re.search(r"Content-Encoding .* not supported: br", resp.json()[0]["message"])
    assert api.records() == before


# -- the decoder on its own (no HTTP): large, multi-member and truncated bodies ------------------------------
def _drain(coding: str, chunks: list[bytes]) -> tuple[bytes, int, dict]:
    """Feed `chunks` as ASGI request messages; return the decoded body, how many messages it took, and the next one."""
    import asyncio

    from emulator.api.compression import decoding

    upstream = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    upstream.append({"type": "http.disconnect"})

    async def receive() -> dict:
        return upstream.pop(0)

    async def run() -> tuple[bytes, int, dict]:
        decoded = decoding(coding, receive)
        body, messages = b"", 0
        while True:
            message = await decoded()
            body += message["body"]
            messages += 1
            if not message["more_body"]:
                return body, messages, await decoded()

    return asyncio.run(run())


def test_the_decoder_hands_large_bodies_on_in_bounded_pieces():
    data = b"Id,Tweets__c\n" + b"a015g0000000001AAA,1\n" * 200_000  # 4.2 MB that compresses to a few KB
    packed = gzip.compress(data)
    body, messages, after = _drain("gzip", [packed[:100], packed[100:]])
    assert body == data and messages >= 5  # at most 1 MiB per message
    assert after == {"type": "http.disconnect"}  # once the body is done, the client's own messages pass through
    assert _drain("gzip", [gzip.compress(b"first,") + gzip.compress(b"second")])[0] == b"first,second"  # two members
    assert _drain("gzip", [b""])[0] == b""  # no body at all is not an error


def test_the_decoder_refuses_truncated_and_foreign_data():
    from emulator.errors import InvalidCompressedBody

    for chunks in ([gzip.compress(b"x" * 1000)[:-4]], [b"plain text"], [zlib.compress(b"zlib framing, not gzip")]):
        with pytest.raises(InvalidCompressedBody):
            _drain("gzip", chunks)
