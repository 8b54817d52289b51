"""Logins and sessions (fact sheet 5.1, 5.2, 6): OAuth flows, SOAP login(), identity, userinfo, expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from defusedxml.ElementTree import fromstring

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "urn:partner.soap.sforce.com"


def _plain(org) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = org.ca_file
    return s


def token(org, **form):
    return _plain(org).post(org.login_url + "/services/oauth2/token", data=form)


def soap_login(org, username, password, version="62.0"):
    body = f"""<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:env="{SOAP_ENV}"><env:Body><n1:login xmlns:n1="{PARTNER}"><n1:username>{username}</n1:username>
    <n1:password>{password}</n1:password></n1:login></env:Body></env:Envelope>"""
    return _plain(org).post(
        f"{org.login_url}/services/Soap/u/{version}",
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
    )


def works(org, access_token) -> int:
    s = _plain(org)
    return s.get(
        org.instance_url + "/services/data/v62.0/limits", headers={"Authorization": f"Bearer {access_token}"}
    ).status_code


def test_password_flow(org, api):
    resp = token(
        org,
        grant_type="password",
        client_id=org.client_id,
        client_secret=org.client_secret,
        username=org.username,
        password=org.password + org.security_token,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"}
    assert body["token_type"] == "Bearer" and body["instance_url"] == org.instance_url
    assert body["id"] == f"{org.login_url}/id/{org.org.org_id}/{org.org.user_id}"
    assert len(body["issued_at"]) == 13 and body["issued_at"].isdigit()
    expected = base64.b64encode(
        hmac.new(org.client_secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256).digest()
    ).decode()
    assert body["signature"] == expected
    assert works(org, body["access_token"]) == 200
    # Login calls are free: only the /limits call counted.
    usage = org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 1 and usage["by_family"]["login (free)"] == 1


@pytest.mark.parametrize(
    "form, error",
    [
        (
            {"grant_type": "password", "username": "integration@emulator.sfharness", "password": "wrong"},
            ("invalid_grant", "authentication failure"),
        ),
        (
            {"grant_type": "password", "username": "someone@else", "password": "emulator-password"},
            ("invalid_grant", "authentication failure"),
        ),
        ({"grant_type": "authorization_code", "code": "x"}, ("unsupported_grant_type", "grant type not supported")),
    ],
)
def test_oauth_failures(org, form, error):
    resp = token(org, client_id=org.client_id, client_secret=org.client_secret, **form)
    assert resp.status_code == 400
    assert resp.json() == {"error": error[0], "error_description": error[1]}
    bad_client = token(org, grant_type="client_credentials", client_id="nope", client_secret=org.client_secret)
    assert bad_client.status_code == 400 and bad_client.json()["error"] == "invalid_client_id"
    bad_secret = token(org, grant_type="client_credentials", client_id=org.client_id, client_secret="nope")
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"


def test_client_credentials_form_and_basic_auth(org):
    resp = token(org, grant_type="client_credentials", client_id=org.client_id, client_secret=org.client_secret)
    assert resp.status_code == 200 and works(org, resp.json()["access_token"]) == 200
    basic = base64.b64encode(f"{org.client_id}:{org.client_secret}".encode()).decode()
    resp = _plain(org).post(
        org.login_url + "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200 and works(org, resp.json()["access_token"]) == 200


def _assertion(org, key: bytes, **claims) -> str:
    payload = {"iss": org.client_id, "sub": org.username, "aud": org.login_url, "exp": int(time.time()) + 180}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256")


def test_jwt_bearer(org):
    with open(org.jwt_key_file, "rb") as fh:
        key = fh.read()
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    for aud in (org.login_url, "https://login.salesforce.com", "https://test.salesforce.com"):
        resp = token(org, grant_type=grant, assertion=_assertion(org, key, aud=aud))
        assert resp.status_code == 200, resp.text
        assert works(org, resp.json()["access_token"]) == 200
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cases = [
        (_assertion(org, other_key), "invalid_grant"),
        (_assertion(org, key, exp=int(time.time()) - 60), "invalid_grant"),
        (_assertion(org, key, aud="https://elsewhere.example"), "invalid_grant"),
        (_assertion(org, key, iss="someone-else"), "invalid_client_id"),
        (_assertion(org, key, sub="nobody@example.com"), "invalid_grant"),
        ("not.a.jwt", "invalid_grant"),
    ]
    for assertion, error in cases:
        resp = token(org, grant_type=grant, assertion=assertion)
        assert resp.status_code == 400 and resp.json()["error"] == error, resp.text


def test_soap_login_envelope_and_fault(org):
    resp = soap_login(org, org.username, org.password + org.security_token)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
    root = fromstring(resp.content)
    result = root.find(f"{{{SOAP_ENV}}}Body/{{{PARTNER}}}loginResponse/{{{PARTNER}}}result")

    def get(path):
        return result.find("/".join(f"{{{PARTNER}}}{p}" for p in path.split("/"))).text

    assert get("serverUrl") == f"{org.instance_url}/services/Soap/u/62.0/{org.org.org_id}"
    assert get("userId") == org.org.user_id and get("passwordExpired") == "false" and get("sandbox") == "false"
    assert get("userInfo/organizationId") == org.org.org_id and get("userInfo/sessionSecondsValid") == "7200"
    assert get("userInfo/userName") == org.username
    assert works(org, get("sessionId")) == 200
    bad = soap_login(org, org.username, "wrong")
    assert bad.status_code == 500
    fault = fromstring(bad.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault.find("faultcode").text == "sf:INVALID_LOGIN"
    assert (
        fault.find("faultstring").text
        == "INVALID_LOGIN: Invalid username, password, security token; or user locked out."
    )
    detail = fault.find("detail/{urn:fault.partner.soap.sforce.com}LoginFault")
    assert detail.find("{urn:fault.partner.soap.sforce.com}exceptionCode").text == "INVALID_LOGIN"
    not_xml = _plain(org).post(
        f"{org.login_url}/services/Soap/u/62.0", data=b"<<<", headers={"Content-Type": "text/xml"}
    )
    assert not_xml.status_code == 500


def test_identity_and_userinfo(org):
    body = token(org, grant_type="client_credentials", client_id=org.client_id, client_secret=org.client_secret).json()
    s = _plain(org)
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    ident = s.get(body["id"], headers=auth)
    assert ident.status_code == 200
    info = ident.json()
    assert (
        info["user_id"] == org.org.user_id
        and info["organization_id"] == org.org.org_id
        and info["username"] == org.username
    )
    assert info["urls"]["rest"] == f"{org.instance_url}/services/data/v{{version}}/"
    user = s.get(org.login_url + "/services/oauth2/userinfo", headers=auth)
    assert user.status_code == 200
    assert user.json()["preferred_username"] == org.username and user.json()["organization_id"] == org.org.org_id
    assert (
        s.get(org.login_url + "/services/oauth2/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 403
    )
    assert s.get(body["id"], headers={"Authorization": "Bearer nope"}).status_code in (401, 403)
    # The User and Organization objects exist for clients that read them after logging in.
    q = s.get(
        org.instance_url + "/services/data/v62.0/query", params={"q": "SELECT Id, Username FROM User"}, headers=auth
    ).json()
    assert q["records"][0]["Id"] == org.org.user_id and q["records"][0]["Username"] == org.username
    q = s.get(
        org.instance_url + "/services/data/v62.0/query",
        params={"q": "SELECT Id, IsSandbox FROM Organization"},
        headers=auth,
    ).json()
    assert q["records"][0]["Id"] == org.org.org_id and q["records"][0]["IsSandbox"] is False
    # identity and userinfo calls are not counted; the two queries are.
    assert org.admin.usage()["DailyApiRequests"]["used"] == 2


def test_revoke(org):
    body = token(org, grant_type="client_credentials", client_id=org.client_id, client_secret=org.client_secret).json()
    assert (
        _plain(org).post(org.login_url + "/services/oauth2/revoke", data={"token": body["access_token"]}).status_code
        == 200
    )
    assert works(org, body["access_token"]) == 401


def test_sessions_expire_after_their_lifetime(org, api, wait):
    org.admin.configure(session_seconds=1.0)
    short = token(
        org, grant_type="client_credentials", client_id=org.client_id, client_secret=org.client_secret
    ).json()["access_token"]
    assert works(org, short) == 200
    wait(lambda: works(org, short) == 401, what="session expiry")
    s = _plain(org)
    rest = s.get(org.instance_url + "/services/data/v62.0/limits", headers={"Authorization": f"Bearer {short}"})
    assert rest.status_code == 401 and rest.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    bulk1 = api.bulk1("GET", "/job/750000000000000AAA", token=short)
    assert bulk1.status_code == 400 and b"<exceptionCode>InvalidSessionId</exceptionCode>" in bulk1.content
    bulk2 = s.get(org.instance_url + "/services/data/v62.0/jobs/ingest", headers={"Authorization": f"Bearer {short}"})
    assert bulk2.status_code == 401 and bulk2.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    # The long-lived session of the fixture is untouched.
    assert works(org, org.access_token) == 200


def test_session_expiry_fault_after_n_requests(sf_org_factory):
    org = sf_org_factory(faults={"session_expiry_after_requests": 3})
    s = _plain(org)
    auth = {"Authorization": f"Bearer {org.access_token}"}
    codes = [s.get(org.instance_url + "/services/data/v62.0/limits", headers=auth).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 401, 401]
    fresh = token(
        org, grant_type="client_credentials", client_id=org.client_id, client_secret=org.client_secret
    ).json()["access_token"]
    assert works(org, fresh) == 200
    assert org.admin.usage()["DailyApiRequests"]["used"] == 4


def test_admin_can_expire_every_session(sf_org_factory):
    org = sf_org_factory()
    assert works(org, org.access_token) == 200
    org.admin.expire_sessions()
    assert works(org, org.access_token) == 401
