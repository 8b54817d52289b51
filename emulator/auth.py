"""Who may call the org: the integration user, its credentials, and sessions that expire.

One user per org (the harness's integration user). Credentials work for every documented flow: OAuth
password, client credentials and JWT bearer, and SOAP Partner login(). A JWT assertion is verified with
the RSA public key of a key pair the org generates at start (its private key is handed to clients the
way a connected app's certificate would be configured).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .constants import SESSION_SECONDS_VALID
from .errors import InvalidLogin, InvalidSessionId, OAuthError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    security_token: str
    client_id: str
    client_secret: str


@dataclass
class Session:
    token: str
    user_id: str
    issued_at: float
    expires_at: float
    requests: int = 0


class SessionManager:
    def __init__(
        self, org_id: str, user_id: str, credentials: Credentials, lifetime_s: float = SESSION_SECONDS_VALID
    ) -> None:
        self.org_id = org_id
        self.user_id = user_id
        self.credentials = credentials
        self.lifetime_s = lifetime_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.private_key_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def issue(self) -> Session:
        token = f"{self.org_id[:15]}!" + secrets.token_urlsafe(72)
        now = time.time()
        session = Session(token, self.user_id, now, now + self.lifetime_s)
        with self._lock:
            self._sessions[token] = session
        return session

    def validate(
        self, token: str | None, *, expire_after_requests: int = 0, expire_after_seconds: float = 0.0
    ) -> Session:
        if not token:
            raise InvalidSessionId("Session expired or invalid")
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                raise InvalidSessionId("Session expired or invalid")
            now = time.time()
            expired = now >= session.expires_at
            if expire_after_seconds > 0 and now - session.issued_at >= expire_after_seconds:
                expired = True
            if expire_after_requests > 0 and session.requests >= expire_after_requests:
                expired = True
            if expired:
                del self._sessions[token]
                raise InvalidSessionId("Session expired or invalid")
            session.requests += 1
            return session

    def revoke(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def expire_all(self) -> None:
        with self._lock:
            self._sessions.clear()

    # -- flows --------------------------------------------------------------------------------------
    def password_ok(self, username: str, password: str) -> bool:
        c = self.credentials
        return secrets.compare_digest(username.lower(), c.username.lower()) and password in (
            c.password,
            c.password + c.security_token,
        )

    def oauth_token(self, form: dict[str, str], login_host_urls: tuple[str, ...]) -> Session:
        grant = form.get("grant_type", "")
        c = self.credentials
        if grant == "password":
            self._check_client(form, require_secret=True)
            if not self.password_ok(form.get("username", ""), form.get("password", "")):
                raise OAuthError("invalid_grant", "authentication failure")
            return self.issue()
        if grant == "client_credentials":
            self._check_client(form, require_secret=True)
            return self.issue()
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            assertion = form.get("assertion", "")
            try:
                claims = jwt.decode(
                    assertion,
                    self.public_key_pem,
                    algorithms=["RS256"],
                    audience=list(login_host_urls),
                    options={"require": ["exp", "iss", "sub", "aud"]},
                )
            except jwt.ExpiredSignatureError:
                raise OAuthError("invalid_grant", "expired authorization code") from None
            except jwt.PyJWTError:
                raise OAuthError("invalid_grant", "invalid assertion") from None
            if claims.get("iss") != c.client_id:
                raise OAuthError("invalid_client_id", "client identifier invalid")
            if str(claims.get("sub", "")).lower() != c.username.lower():
                raise OAuthError("invalid_grant", "user hasn't approved this consumer")
            return self.issue()
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _check_client(self, form: dict[str, str], *, require_secret: bool) -> None:
        c = self.credentials
        if form.get("client_id") != c.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if require_secret and not secrets.compare_digest(form.get("client_secret", ""), c.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def soap_login(self, username: str, password: str) -> Session:
        if not self.password_ok(username, password):
            raise InvalidLogin("INVALID_LOGIN: Invalid username, password, security token; or user locked out.")
        return self.issue()
