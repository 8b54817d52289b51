"""TLS against the emulated org over real HTTPS: verification stays on while the CA bundle is loaded once.

`OrgSession` shares one SSL context per CA bundle among all its connections (loading a bundle costs tens of
milliseconds of CPU, once per connection before), so these tests check both halves: many connections
opened at once all work and share that context, and the shared context still refuses an untrusted
certificate and a certificate for another host name.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

import pytest

from strategies import OrgSession, TransportError
from strategies.meter import FAMILY_REST


def _pools(session: OrgSession) -> list[Any]:
    manager = session.http.get_adapter("https://").poolmanager
    return [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118 (urllib3 refuses iteration itself)


def test_connections_opened_at_once_share_one_verifying_context(org: Any) -> None:
    session = OrgSession(org.instance_url, org.access_token, ca_file=org.ca_file, pool_size=8)
    try:
        with cf.ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(
                pool.map(
                    lambda _: session.request("GET", session.rest_url("limits"), family=FAMILY_REST).status_code,
                    range(32),
                )
            )
        assert statuses == [200] * 32
        assert org.admin.usage()["DailyApiRequests"]["used"] == 32
        (pool,) = _pools(session)
        assert pool.num_connections >= 2  # requests really overlapped on several connections
        context = pool.conn_kw["ssl_context"]
        assert pool.ca_certs is None and pool.cert_reqs == "CERT_REQUIRED"  # no bundle loaded per connection
        assert context.verify_mode.name == "CERT_REQUIRED"
        sockets = [conn.sock for conn in list(pool.pool.queue) if conn is not None and conn.sock is not None]
        assert len(sockets) >= 2 and all(sock.context is context for sock in sockets)
    finally:
        session.close()


def test_the_shared_context_refuses_another_host_name(org: Any) -> None:
    # 127.1 reaches the same loopback server, but its certificate names 127.0.0.1 and localhost only.
    session = OrgSession(org.instance_url.replace("127.0.0.1", "127.1"), org.access_token, ca_file=org.ca_file)
    try:
        with pytest.raises(TransportError, match="TLS verification failed"):
            session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    finally:
        session.close()
    assert org.admin.usage()["DailyApiRequests"]["used"] == 0


def test_an_untrusted_certificate_is_refused(org: Any) -> None:
    session = OrgSession(org.instance_url, org.access_token)  # the system CAs only, not the emulator's
    try:
        with pytest.raises(TransportError, match="TLS verification failed"):
            session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    finally:
        session.close()
    assert org.admin.usage()["DailyApiRequests"]["used"] == 0
