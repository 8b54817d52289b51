"""Every way `harness.orgs.connect` logs in, against the emulator; and secrets never print."""

from __future__ import annotations

import pytest

from harness.orgs import ConnectionError_, OrgOptions, Secret, connect


def _base(sf_org, **kw) -> OrgOptions:
    return OrgOptions(ca_file=sf_org.ca_file, login_url=sf_org.login_url, **kw)


@pytest.mark.parametrize("method", ["token", "client_credentials", "jwt", "oauth_password", "soap"])
def test_each_login_method_reaches_the_org(sf_org, method):
    o = sf_org
    options = {
        "token": lambda: OrgOptions(
            instance_url=o.instance_url, access_token=Secret(o.access_token), ca_file=o.ca_file
        ),
        "client_credentials": lambda: _base(o, client_id=o.client_id, client_secret=Secret(o.client_secret)),
        "jwt": lambda: _base(o, client_id=o.client_id, jwt_key_file=o.jwt_key_file, username=o.username),
        "oauth_password": lambda: _base(
            o,
            client_id=o.client_id,
            client_secret=Secret(o.client_secret),
            username=o.username,
            password=Secret(o.password),
            security_token=Secret(o.security_token),
        ),
        "soap": lambda: _base(
            o, username=o.username, password=Secret(o.password), security_token=Secret(o.security_token)
        ),
    }[method]()
    conn = connect(options)
    assert conn.kind == "developer"
    session = conn.session()
    try:
        assert session.get_json(session.rest_url("limits"))["DailyApiRequests"]["Max"] == 15000
    finally:
        session.close()
    assert o.password not in repr(options) and o.client_secret not in repr(options)


def test_bad_password_is_a_clear_error_without_the_secret(sf_org):
    with pytest.raises(ConnectionError_) as err:
        connect(_base(sf_org, username=sf_org.username, password=Secret("wrong-password-123")))
    assert "INVALID_LOGIN" in str(err.value) and "wrong-password-123" not in str(err.value)


def test_incomplete_credentials_say_what_is_missing():
    with pytest.raises(ConnectionError_, match="incomplete credentials"):
        connect(OrgOptions(instance_url="https://example.invalid"))
