"""Serving an org over real HTTP(S) on loopback: in-process (`run_org`) or standalone (`serve_forever`).

TLS uses a throwaway CA made by trustme. Its certificate is written to `ca_file`; `ca_bundle` is the
system CA bundle plus that CA, for clients that must reach both the emulator and real Salesforce (set
`REQUESTS_CA_BUNDLE` to it, or pass `verify=` per request: `requests` lets that variable override
`Session.verify`). TLS verification never has to be turned off.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import requests
import trustme
import uvicorn

from .api.app import create_app
from .api.gate import InjectedDropFilter
from .org import Org
from .profiles import FaultConfig, OrgProfile, get_profile


class AdminClient:
    """A tiny client for the /_emulator control API (ground truth for tests and the harness)."""

    def __init__(self, base_url: str, verify: str | bool) -> None:
        self.base_url = base_url
        self.verify = verify
        self.http = requests.Session()
        self.http.trust_env = False

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, self.base_url + path, verify=self.verify, timeout=60, **kw)
        resp.raise_for_status()
        return resp.json()

    def usage(self) -> dict:
        return self._call("GET", "/_emulator/usage")

    def reset_usage(self) -> dict:
        return self._call("POST", "/_emulator/usage")

    def reset(self, *, data: bool = True, usage: bool = True) -> dict:
        return self._call("POST", "/_emulator/reset", json={"data": data, "usage": usage})

    def seed(
        self,
        sobject: str,
        count: int,
        *,
        return_ids: bool = False,
        parents: int | None = None,
        samples: dict[str, str] | None = None,
    ) -> dict:
        """Seed `count` records; `samples` (field -> pattern with ``{n}``) overrides the schema's sample values."""
        body: dict[str, Any] = {"object": sobject, "count": count, "return_ids": return_ids, "parents": parents}
        if samples:
            body["samples"] = samples
        return self._call("POST", "/_emulator/seed", json=body)

    def configure(self, **settings: Any) -> dict:
        return self._call("POST", "/_emulator/config", json=settings)

    def config(self) -> dict:
        return self._call("GET", "/_emulator/config")

    def expire_sessions(self) -> dict:
        return self._call("POST", "/_emulator/sessions/expire")

    def jobs(self) -> dict:
        return self._call("GET", "/_emulator/jobs")

    def iter_records(self, sobject: str, fields: list[str] | None = None) -> Iterator[dict]:
        params = {"fields": ",".join(fields)} if fields else None
        with self.http.get(
            f"{self.base_url}/_emulator/records/{sobject}", params=params, verify=self.verify, stream=True, timeout=600
        ) as resp:
            resp.raise_for_status()
            for line in resp.iter_lines():
                if line:
                    yield json.loads(line)

    def records(self, sobject: str, fields: list[str] | None = None) -> list[dict]:
        return list(self.iter_records(sobject, fields))


@dataclass
class RunningOrg:
    """What a client needs to reach a running emulated org."""

    instance_url: str
    login_url: str
    username: str
    password: str
    security_token: str
    client_id: str
    client_secret: str
    access_token: str
    ca_file: str | None
    ca_bundle: str | None
    jwt_key_file: str
    org: Org = field(repr=False)
    admin: AdminClient = field(repr=False)

    @property
    def verify(self) -> str | bool:
        return self.ca_file or True

    def session(self) -> requests.Session:
        """A requests session that trusts the emulator (and only it) and sends the access token."""
        s = requests.Session()
        s.trust_env = False
        s.verify = self.verify
        s.headers["Authorization"] = f"Bearer {self.access_token}"
        return s

    def connection_info(self) -> dict[str, Any]:
        return {
            "instance_url": self.instance_url,
            "login_url": self.login_url,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": self.access_token,
            "ca_file": self.ca_file,
            "ca_bundle": self.ca_bundle,
            "jwt_key_file": self.jwt_key_file,
            "org_id": self.org.org_id,
            "user_id": self.org.user_id,
            "edition": self.org.edition,
            "profile": self.org.profile.name,
        }


class _ServerThread(threading.Thread):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(daemon=True, name="sf-emulator")
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()

    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return sock.getsockname()[1]
        raise RuntimeError("the emulator server has no listening socket")

    def stop(self) -> None:
        """Stop serving: let in-flight requests finish, but never wait for idle keep-alive clients.

        uvicorn's graceful shutdown waits until every connection is gone; an idle TLS keep-alive
        connection held by a client's pool only goes once the client closes it, so a plain
        `should_exit` used to hang until the join timed out (10 s per org, on every test teardown).
        """
        self.server.should_exit = True
        deadline = time.monotonic() + 10
        while self.is_alive() and time.monotonic() < deadline:
            if not self.server.server_state.tasks:
                self.server.force_exit = True
            self.join(timeout=0.02)


def _tls_files(workdir: str, host: str) -> tuple[str, str, str, str]:
    ca = trustme.CA(organization_name="sf-update-harness emulator CA")
    names = sorted({host, "127.0.0.1", "localhost"})
    cert = ca.issue_cert(*names)
    ca_file = os.path.join(workdir, "emulator-ca.pem")
    chain = os.path.join(workdir, "emulator-cert.pem")
    key = os.path.join(workdir, "emulator-key.pem")
    bundle = os.path.join(workdir, "ca-bundle.pem")
    ca.cert_pem.write_to_path(ca_file)
    cert.private_key_pem.write_to_path(key)
    with open(chain, "wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())
    with open(bundle, "wb") as fh:
        system = _system_ca_file()
        if system:
            with open(system, "rb") as src:
                fh.write(src.read().rstrip(b"\n") + b"\n")
        fh.write(ca.cert_pem.bytes())
    return ca_file, chain, key, bundle


def _system_ca_file() -> str | None:
    for candidate in (os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().cafile):
        if candidate and os.path.exists(candidate):
            return candidate
    try:
        import certifi

        return certifi.where()
    except ImportError:
        return None


@contextmanager
def run_org(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = True,
    db: str | None = None,
    seed: dict[str, int] | None = None,
    profile: str | OrgProfile = "instant",
    time_scale: float | None = None,
    profile_overrides: dict[str, Any] | None = None,
    edition: str = "developer",
    faults: FaultConfig | dict[str, Any] | None = None,
    schema_files: tuple[str, ...] = (),
    session_seconds: float = 7200,
    access_log: bool = False,
) -> Iterator[RunningOrg]:
    """Start an emulated org on loopback and yield how to reach it; stop and delete it on exit."""
    overrides = dict(profile_overrides or {})
    org = Org(
        db_path=db,
        edition=edition,
        profile=get_profile(profile, time_scale, **overrides),  # a built-in name or a profile file
        faults=faults if isinstance(faults, FaultConfig) else FaultConfig.from_dict(faults or {}),
        schema_files=schema_files,
        session_seconds=session_seconds,
    )
    thread: _ServerThread | None = None
    try:
        for sobject, count in (seed or {}).items():
            org.seed(sobject, count)
        ca_file = chain = key = bundle = None
        if tls:
            ca_file, chain, key, bundle = _tls_files(org.workdir, host)
        # "auto" picks httptools and uvloop (both in uvicorn[standard]) and falls back to h11 and asyncio.
        # The emulator listens on loopback behind no proxy, so X-Forwarded-* handling is switched off.
        config = uvicorn.Config(
            create_app(org),
            host=host,
            port=port,
            log_level="warning",
            access_log=access_log,
            lifespan="off",
            ssl_certfile=chain,
            ssl_keyfile=key,
            http="auto",
            loop="auto",
            timeout_keep_alive=75,
            proxy_headers=False,
        )
        _install_log_filter()  # after Config, which (re)configures uvicorn's loggers
        thread = _ServerThread(config)
        thread.start()
        deadline = time.monotonic() + 30
        while not thread.server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server failed to start")
            time.sleep(0.01)
        scheme = "https" if tls else "http"
        url = f"{scheme}://{host}:{thread.port()}"
        key_file = os.path.join(org.workdir, "jwt-private-key.pem")
        with open(key_file, "wb") as fh:
            fh.write(org.sessions.private_key_pem)
        yield RunningOrg(
            instance_url=url,
            login_url=url,
            username=org.credentials.username,
            password=org.credentials.password,
            security_token=org.credentials.security_token,
            client_id=org.credentials.client_id,
            client_secret=org.credentials.client_secret,
            access_token=org.sessions.issue().token,
            ca_file=ca_file,
            ca_bundle=bundle,
            jwt_key_file=key_file,
            org=org,
            admin=AdminClient(url, ca_file or True),
        )
    finally:
        if thread is not None:
            thread.stop()
        org.close()


def _install_log_filter() -> None:
    import logging

    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, InjectedDropFilter) for f in log.filters):
        log.addFilter(InjectedDropFilter())


def serve_forever(**options: Any) -> None:
    """Run until interrupted, after printing one JSON line with the connection details.

    SIGTERM (what `kill`, process managers and container runtimes send) stops the org exactly as Ctrl-C
    does, so its temporary folder, which holds the TLS and JWT private keys and the database, is removed
    either way. Stopped during start-up, the org is removed too.
    """
    with _sigterm_as_interrupt():
        try:
            with run_org(**options) as running:
                print(json.dumps(running.connection_info()), flush=True)
                # What the server made to start (modules, the app, the schema: some 70,000 objects) lives as
                # long as the process. Frozen, it is left out of the collector's full passes, which a bulk
                # job's rows set off several times: 0.18 of a million-record job's 3.9 CPU seconds, measured.
                # (Collected first, so no start-up garbage is kept for ever.)
                gc.collect()
                gc.freeze()
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            pass


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C (SIGINT) does.

    Python's default for SIGTERM ends the process at once, skipping every `finally`. Only the first
    SIGTERM interrupts: a repeated one is ignored while the org stops and removes its folder, so it
    cannot cut that short (SIGKILL still ends the process). Signal handlers can only be installed from
    the main thread; elsewhere the block runs with the process's own handling.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
