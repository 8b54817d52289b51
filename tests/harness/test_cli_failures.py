"""Every failure a user can cause or meet on a real org, through the CLI against real sockets and the emulator:
the exit code, one short line (and a hint) without a traceback, the same in the `--json` envelope, and no
secret anywhere, tracebacks included (`--debug`, SFHARNESS_DEBUG)."""

from __future__ import annotations

import csv
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from harness.cli import app
from harness.failures import classify
from harness.orgs import OrgConnection
from strategies.errors import ApiError, RequestLimitError
from strategies.transport import RetryPolicy

runner = CliRunner()
TOKEN_ENV = (
    "SF_INSTANCE_URL",
    "SF_ACCESS_TOKEN",
    "SF_CA_FILE",
    "SF_TARGET_ORG",
    "SF_USERNAME",
    "SF_CLIENT_ID",
    "SFHARNESS_DEBUG",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No org settings from the machine running the tests."""
    for name in TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's sessions retry as many times as they do by default, with no wait between attempts: what is
    checked is where the retries end (the message and exit code), and the waits would be seconds per command."""
    original = OrgConnection.session
    no_waits = RetryPolicy(backoff=0.0, max_delay=0.0)
    monkeypatch.setattr(OrgConnection, "session", lambda self, **kw: original(self, **{"retry": no_waits, **kw}))


def _point_at(env: pytest.MonkeyPatch, url: str, token: str, ca_file: str | None = None) -> None:
    env.setenv("SF_INSTANCE_URL", url)
    env.setenv("SF_ACCESS_TOKEN", token)
    if ca_file:
        env.setenv("SF_CA_FILE", ca_file)


def _both(*args: str) -> tuple[object, dict]:
    """The command in text mode and under --json; (text result, parsed envelope)."""
    text = runner.invoke(app, list(args))
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == text.exit_code
    envelope = json.loads(as_json.stdout)  # the envelope alone on stdout
    assert envelope["status"] == text.exit_code
    return text, envelope


def _short(result, *, secret: str | None = None) -> str:
    """The text output is an error line and a hint: no traceback, nothing secret."""
    output = result.output
    assert "Traceback" not in output
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, output
    assert lines[0].startswith("error: ") or any(line.startswith("error: ") for line in lines), output
    if secret:
        assert secret not in output
    return output


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound, never listening.

    A port merely found free and released could be taken meanwhile by an emulator another test (or a parallel
    worker) starts, which would answer instead of refusing.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def test_nothing_listening_is_connection_refused(env, quick_retries, closed_port):
    _point_at(env, f"https://127.0.0.1:{closed_port}", "not-a-real-token-123")
    text, envelope = _both("limits")
    assert text.exit_code == 4
    assert "connection refused" in _short(text, secret="not-a-real-token-123")
    assert envelope["name"] == "ConnectionRefused" and envelope["hint"] and envelope["result"] == {}


def test_wrong_token_is_refused_credentials_and_never_shown(env, sf_org):
    wrong = "00Dwrong!token-never-printed"
    _point_at(env, sf_org.instance_url, wrong, sf_org.ca_file)
    text, envelope = _both("limits")
    assert text.exit_code == 4
    assert "refused the credentials" in _short(text, secret=wrong)
    assert envelope["name"] == "AuthenticationFailed" and "INVALID_SESSION_ID" in envelope["message"]
    assert wrong not in json.dumps(envelope)
    for debug in (["--debug", "limits"], ["limits", "--json"]):  # the flag, and the environment variable
        if debug[0] != "--debug":
            env.setenv("SFHARNESS_DEBUG", "1")
        result = runner.invoke(app, debug)
        assert result.exit_code == 4
        assert "Traceback" in result.output and "AuthenticationError" in result.output
        assert wrong not in result.output
    env.delenv("SFHARNESS_DEBUG")


def test_untrusted_ca_says_ca_file(env, sf_org, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))  # a second CA: the emulator's certificate is not signed by it
    _point_at(env, sf_org.instance_url, sf_org.access_token, str(other))
    text, envelope = _both("limits")
    assert text.exit_code == 4
    output = _short(text, secret=sf_org.access_token)
    assert "not trusted" in output and "--ca-file" in output
    assert envelope["name"] == "TlsUntrusted" and "--ca-file" in envelope["hint"]


def test_url_without_scheme_is_bad_input(env, sf_org):
    _point_at(env, sf_org.instance_url.removeprefix("https://"), sf_org.access_token, sf_org.ca_file)
    text, envelope = _both("limits")
    assert text.exit_code == 2
    output = _short(text, secret=sf_org.access_token)
    assert "no scheme" in output and "https://127.0.0.1" in output
    assert envelope["name"] == "UrlWithoutScheme"


def test_unknown_host_is_dns(env, quick_retries):
    _point_at(env, "https://org-that-does-not-exist.invalid", "abcd-token")
    text, envelope = _both("limits")
    assert text.exit_code == 4
    assert "cannot resolve" in _short(text)
    assert envelope["name"] == "HostNotFound"


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A TCP server that accepts and then says nothing (`hang`) or closes at once (`close`), by port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    mode = {"close": False}

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if mode["close"]:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", held, mode  # type: ignore[misc]
    listener.close()
    for conn in held:
        conn.close()


def test_no_answer_in_time_is_timeout(env, quick_retries, silent_server, monkeypatch):
    url, _held, _mode = silent_server
    original = OrgConnection.session
    monkeypatch.setattr(OrgConnection, "session", lambda self, **kw: original(self, timeout=(0.3, 0.3), **kw))
    _point_at(env, url, "abcd-token")
    text, envelope = _both("limits")
    assert text.exit_code == 4
    assert "did not answer in time" in _short(text)
    assert envelope["name"] == "Timeout"


def test_connection_closed_is_reset(env, quick_retries, silent_server):
    url, _held, mode = silent_server
    mode["close"] = True
    _point_at(env, url, "abcd-token")
    text, envelope = _both("limits")
    assert text.exit_code == 4
    assert "closed before a complete answer" in _short(text)
    assert envelope["name"] == "ConnectionReset"


def test_spent_daily_allocation_is_request_limit(env, sf_org_factory):
    org = sf_org_factory()
    org.admin.configure(daily_api_max=0)
    _point_at(env, org.instance_url, org.access_token, org.ca_file)
    text, envelope = _both("limits")
    assert text.exit_code == 3
    assert "daily API allocation is spent" in _short(text, secret=org.access_token)
    assert envelope["name"] == "RequestLimitExceeded" and "REQUEST_LIMIT_EXCEEDED" in envelope["message"]


def test_maintenance_503_is_org_unavailable(env, quick_retries, sf_org_factory):
    org = sf_org_factory(faults={"http_503_rate": 1.0})
    _point_at(env, org.instance_url, org.access_token, org.ca_file)
    text, envelope = _both("limits")
    assert text.exit_code == 4
    assert "HTTP 503" in _short(text, secret=org.access_token)
    assert envelope["name"] == "OrgUnavailable" and "status.salesforce.com" in envelope["hint"]
    assert org.admin.usage()["DailyApiRequests"]["used"] == 0  # refused before processing, retried, never counted


@pytest.mark.parametrize("code", ["API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"])
def test_api_disabled_for_the_user(code):
    """The emulator has no switch for this refusal; the classification of the error the transport raises is checked."""
    failure = classify(
        ApiError(
            403,
            code,
            "The REST API is not enabled for this Organization.",
            family="rest",
            method="GET",
            path="/services/data/v62.0/limits",
        )
    )
    assert (failure.status, failure.name) == (4, "ApiDisabled") and "API Enabled" in (failure.hint or "")
    concurrency = classify(RequestLimitError(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."))
    assert (concurrency.status, concurrency.name) == (3, "RequestLimitExceeded") and "--concurrency" in (
        concurrency.hint or ""
    )


def _input(tmp_path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_unknown_object_suggests_the_closest(env, sf_org, tmp_path):
    sf_org.admin.reset()
    ids = sf_org.admin.seed("Byline__c", 1, return_ids=True)["ids"]
    _point_at(env, sf_org.instance_url, sf_org.access_token, sf_org.ca_file)
    path = _input(tmp_path, ["Id", "Tweets__c"], [[ids[0], 1]])
    text, envelope = _both("update", "--strategy", "rest", "-s", "Byline_c", "-f", str(path))
    assert text.exit_code == 2
    assert "did you mean 'Byline__c'" in _short(text)
    assert envelope["name"] == "UnknownObject" and "Byline__c" in envelope["hint"]


def test_unknown_field_suggests_the_closest(env, sf_org, tmp_path):
    sf_org.admin.reset()
    ids = sf_org.admin.seed("Byline__c", 2, return_ids=True)["ids"]
    before = sf_org.admin.records("Byline__c")
    _point_at(env, sf_org.instance_url, sf_org.access_token, sf_org.ca_file)
    path = _input(tmp_path, ["Id", "Tweets_c"], [[ids[0], 1], [ids[1], 2]])
    text, envelope = _both(
        "update", "--strategy", "rest", "-s", "Byline__c", "-f", str(path), "--out", str(tmp_path / "out")
    )
    assert text.exit_code == 2
    assert "'Tweets_c' -> 'Tweets__c'" in _short(text)
    assert envelope["name"] == "UnknownField"
    assert sf_org.admin.records("Byline__c") == before and not (tmp_path / "out").exists()


def test_a_job_the_org_failed(env, sf_org_factory, tmp_path, fast_polls):
    org = sf_org_factory(faults={"bulk_fail_after_records": 1})
    ids = org.admin.seed("Byline__c", 5, return_ids=True)["ids"]
    _point_at(env, org.instance_url, org.access_token, org.ca_file)
    path = _input(tmp_path, ["Id", "Tweets__c"], [[rid, 10 + i] for i, rid in enumerate(ids)])
    result = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "bulk2-csv",
            "-s",
            "Byline__c",
            "-f",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    envelope = json.loads(result.stdout)
    assert envelope["name"] == "JobFailed" and "Failed" in envelope["message"] and "unprocessed.csv" in envelope["hint"]
    files = envelope["result"]["outcome_files"]
    assert files["unprocessed"]["records"] + files["succeeded"]["records"] == 5 and files["unprocessed"]["records"] >= 1
    with open(files["unprocessed"]["path"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["sfh__error_code"] for r in rows} == {"JOB_FAILED"} and all(r["Tweets__c"] for r in rows)


def test_usage_error_under_json_is_an_envelope(env):
    result = runner.invoke(app, ["limits", "--no-such-flag", "--json"])
    assert result.exit_code == 2
    envelope = json.loads(result.stdout)
    assert envelope["name"] == "UsageError" and "--no-such-flag" in envelope["message"]
    text = runner.invoke(app, ["limits", "--no-such-flag"])
    assert text.exit_code == 2 and "Traceback" not in text.output


def test_refused_login_shows_no_secret_even_with_debug(env, sf_org):
    secret = "wrong-password-never-printed"
    env.setenv("SF_PASSWORD", secret)
    args = ["limits", "--username", sf_org.username, "--login-url", sf_org.login_url, "--ca-file", sf_org.ca_file]
    text, envelope = _both(*args)
    assert text.exit_code == 4 and "INVALID_LOGIN" in _short(text, secret=secret)
    assert envelope["name"] == "LoginRefused" and "--login-url" in envelope["hint"]
    debug = runner.invoke(app, ["--debug", *args, "--json"])
    assert debug.exit_code == 4 and "Traceback" in debug.output and "stack" in json.loads(debug.stdout)
    assert secret not in debug.output
