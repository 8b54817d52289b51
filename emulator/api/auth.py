"""Login and identity: OAuth 2.0 token endpoint, SOAP Partner login(), userinfo and identity URLs.

Refusals are raised (`OAuthError` at the token endpoint, SOAP faults as `SalesforceError`s) and rendered
by api/error_responses.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl
from xml.sax.saxutils import XMLGenerator

from defusedxml.ElementTree import fromstring
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..client_documents import UNREADABLE_XML
from ..errors import InvalidOperation, InvalidSessionId, InvalidXml, NotFound
from ..org import Org
from .common import NO_ATTRIBUTES, XSI, json_response, soap_response, text_element

PARTNER_NS = "urn:partner.soap.sforce.com"


def _org(request: Request) -> Org:
    return request.app.state.org


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def login_audiences(request: Request) -> tuple[str, ...]:
    return (_base(request), "https://login.salesforce.com", "https://test.salesforce.com")


async def token(request: Request) -> Response:
    org = _org(request)
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    form.update({k: v for k, v in request.query_params.items() if k not in form})
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic ") and "client_id" not in form:
        try:
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            form.setdefault("client_id", cid)
            form.setdefault("client_secret", secret)
        except (ValueError, UnicodeDecodeError):
            pass
    session = org.sessions.oauth_token(form, login_audiences(request))  # OAuthError: {"error", "error_description"}
    base = _base(request)
    issued = str(int(session.issued_at * 1000))
    identity = f"{base}/id/{org.org_id}/{org.user_id}"
    signature = base64.b64encode(
        hmac.new(org.credentials.client_secret.encode(), (identity + issued).encode(), hashlib.sha256).digest()
    ).decode()
    return json_response(
        {
            "access_token": session.token,
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api",
        }
    )


async def revoke(request: Request) -> Response:
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = dict(parse_qsl(raw))
    tok = form.get("token") or request.query_params.get("token")
    if tok:
        _org(request).sessions.revoke(tok)
    return Response(status_code=200)


def _identity(request: Request, org: Org) -> dict:
    base = _base(request)
    return {
        "id": f"{base}/id/{org.org_id}/{org.user_id}",
        "asserted_user": True,
        "user_id": org.user_id,
        "organization_id": org.org_id,
        "username": org.credentials.username,
        "nick_name": "integ",
        "display_name": "Integration User",
        "email": "integration@emulator.invalid",
        "email_verified": True,
        "first_name": "Integration",
        "last_name": "User",
        "timezone": "GMT",
        "active": True,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "is_app_installed": True,
        "urls": {
            "enterprise": f"{base}/services/Soap/c/{{version}}/{org.org_id}",
            "partner": f"{base}/services/Soap/u/{{version}}/{org.org_id}",
            "rest": f"{base}/services/data/v{{version}}/",
            "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
            "query": f"{base}/services/data/v{{version}}/query/",
            "limits": f"{base}/services/data/v{{version}}/limits/",
            "profile": f"{base}/{org.user_id}",
            "custom_domain": base,
        },
        "last_modified_date": "2024-01-01T00:00:00.000+0000",
        "is_lightning_login_user": False,
    }


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") and value else request.query_params.get("oauth_token")


async def identity(request: Request) -> Response:
    org = _org(request)
    if request.path_params["org_id"] != org.org_id or request.path_params["user_id"] != org.user_id:
        raise NotFound("The requested resource does not exist")
    return json_response(_identity(request, org))


async def userinfo(request: Request) -> Response:
    org = _org(request)
    try:
        org.sessions.validate(_bearer(request))
    except InvalidSessionId:
        return Response(b"Bad_OAuth_Token", status_code=403, media_type="text/plain")
    info = _identity(request, org)
    return json_response(
        {
            "sub": info["id"],
            "user_id": org.user_id,
            "organization_id": org.org_id,
            "preferred_username": info["username"],
            "nickname": info["nick_name"],
            "name": info["display_name"],
            "email": info["email"],
            "email_verified": True,
            "given_name": info["first_name"],
            "family_name": info["last_name"],
            "zoneinfo": "GMT",
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "urls": info["urls"],
            "is_app_installed": True,
            "updated_at": "2024-01-01T00:00:00Z",
        }
    )


# -- SOAP login -------------------------------------------------------------------------------------------
async def soap_login(request: Request) -> Response:
    org = _org(request)
    raw = await request.body()
    try:
        root = fromstring(raw)
    except UNREADABLE_XML:  # malformed, or declaring entities (a bomb, XXE): a soapenv:Client fault
        raise InvalidXml("The request is not a well-formed SOAP envelope") from None
    values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
    if "login" not in values:
        raise InvalidOperation("Only login() is supported by the emulator's SOAP endpoint")
    # A refused login raises InvalidLogin, which error_responses renders as a LoginFault.
    session = org.sessions.soap_login(values.get("username", ""), values.get("password", ""))
    version = request.path_params["version"]
    kind = request.path_params["kind"]
    base = _base(request)
    server_url = f"{base}/services/Soap/{kind}/{version}/{org.org_id}"

    def write(x: XMLGenerator) -> None:
        x.startElement("loginResponse", NO_ATTRIBUTES)
        x.startElement("result", NO_ATTRIBUTES)
        for name, value in (
            ("metadataServerUrl", f"{base}/services/Soap/m/{version}/{org.org_id}"),
            ("passwordExpired", "false"),
            ("sandbox", "true" if org.is_sandbox else "false"),
            ("serverUrl", server_url),
            ("sessionId", session.token),
            ("userId", org.user_id),
        ):
            text_element(x, name, value)
        x.startElement("userInfo", NO_ATTRIBUTES)
        for name, value in (
            ("accessibilityMode", "false"),
            ("currencySymbol", "$"),
            ("orgAttachmentFileSizeLimit", "5242880"),
            ("orgDefaultCurrencyIsoCode", "USD"),
            ("orgDisallowHtmlAttachments", "false"),
            ("orgHasPersonAccounts", "false"),
            ("organizationId", org.org_id),
            ("organizationMultiCurrency", "false"),
            ("organizationName", "sf-update-harness emulator"),
            ("profileId", "00e000000000001AAA"),
            ("roleId", ""),
            ("sessionSecondsValid", str(int(org.sessions.lifetime_s))),
            ("userDefaultCurrencyIsoCode", ""),
            ("userEmail", "integration@emulator.invalid"),
            ("userFullName", "Integration User"),
            ("userId", org.user_id),
            ("userLanguage", "en_US"),
            ("userLocale", "en_US"),
            ("userName", org.credentials.username),
            ("userTimeZone", "GMT"),
            ("userType", "Standard"),
            ("userUiSkin", "Theme3"),
        ):
            text_element(x, name, value)
        x.endElement("userInfo")
        x.endElement("result")
        x.endElement("loginResponse")

    return soap_response({"xmlns": PARTNER_NS, "xmlns:xsi": XSI}, write)


routes = [
    Route("/services/oauth2/token", token, methods=["POST"]),
    Route("/services/oauth2/revoke", revoke, methods=["POST", "GET"]),
    Route("/services/oauth2/userinfo", userinfo, methods=["GET", "POST"]),
    Route("/id/{org_id}/{user_id}", identity, methods=["GET", "POST"]),
    Route("/services/Soap/{kind:str}/{version}", soap_login, methods=["POST"]),
    Route("/services/Soap/{kind:str}/{version}/{org_id}", soap_login, methods=["POST"]),
]
