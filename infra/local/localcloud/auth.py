"""A local token issuer standing in for Cognito, and the JWT check API Gateway's authorizer makes.

``loanflow local up`` creates (or reuses) an RS256 key pair in the state directory
(``$LOANFLOW_LOCAL_HOME``, default ``~/.loanflow/local``) and serves its JWKS; ``loanflow local
token`` signs tokens with it from any process. Tokens look like Cognito ID tokens: ``sub``,
``aud`` (the app client), ``iss`` (the user pool's URL, as the template configures the authorizer),
``token_use``, ``cognito:username`` and ``cognito:groups``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER_FILE = "issuer.json"
CLOUD_FILE = "cloud.json"


def state_dir() -> Path:
    """Where the local cloud keeps its signing key, its URL and its function logs."""
    return Path(os.environ.get("LOANFLOW_LOCAL_HOME") or Path.home() / ".loanflow" / "local")


class InvalidToken(Exception):
    """A token the authorizer refuses; the message says why."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Issuer:
    """A signing key and the issuer/audience it speaks for."""

    issuer: str
    audience: tuple[str, ...]
    kid: str
    private_key: rsa.RSAPrivateKey

    # -- persistence -------------------------------------------------------------------------------

    @classmethod
    def generate(cls, issuer: str, audience: tuple[str, ...] | list[str]) -> Issuer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(issuer, tuple(audience), uuid.uuid4().hex, key)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        document = {
            "issuer": self.issuer,
            "audience": list(self.audience),
            "kid": self.kid,
            "private_key": pem,
        }
        path = directory / ISSUER_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document))
        temporary.chmod(0o600)
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> Issuer:
        path = directory / ISSUER_FILE
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no local issuer in {directory}: start the local cloud (loanflow local up) first"
            ) from None
        key = serialization.load_pem_private_key(document["private_key"].encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA key")
        return cls(document["issuer"], tuple(document["audience"]), document["kid"], key)

    @classmethod
    def ensure(cls, directory: Path, issuer: str, audience: tuple[str, ...]) -> Issuer:
        """The issuer kept in ``directory`` if it speaks for ``issuer``/``audience``, else a new one."""
        try:
            existing = cls.load(directory)
        except (FileNotFoundError, ValueError, KeyError):
            existing = None
        if existing and existing.issuer == issuer and existing.audience == tuple(audience):
            return existing
        created = cls.generate(issuer, audience)
        created.save(directory)
        return created

    # -- tokens ------------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                }
            ]
        }

    def mint(
        self,
        user: str,
        groups: tuple[str, ...] | list[str] = (),
        *,
        ttl_s: int = 3600,
        scopes: tuple[str, ...] = (),
        issued_at: int | None = None,
        **extra: Any,
    ) -> str:
        now = int(time.time()) if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "sub": user,
            "iss": self.issuer,
            "aud": self.audience[0] if self.audience else "local",
            "token_use": "id",
            "cognito:username": user,
            "auth_time": now,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if groups:
            claims["cognito:groups"] = list(groups)
        if scopes:
            claims["scope"] = " ".join(scopes)
        claims |= extra
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def verify(
        self,
        token: str,
        *,
        issuer: str | None = None,
        audience: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """The claims of a valid token, checked as API Gateway's JWT authorizer checks them."""
        expected_issuer = issuer or self.issuer
        expected_audience = audience if audience is not None else self.audience
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise InvalidToken("the token was not signed by a key of this issuer")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=["RS256"],
                issuer=expected_issuer,
                options={"require": ["exp", "iat", "iss"], "verify_aud": False},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token's issuer is not trusted") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(f"the token is not valid: {error}") from None
        presented = claims.get("aud", claims.get("client_id"))
        presented_set = set(presented) if isinstance(presented, list) else {presented}
        if expected_audience and not presented_set & set(expected_audience):
            raise InvalidToken("the token is not meant for this API (audience)")
        return claims


@dataclass(frozen=True)
class CloudInfo:
    """Where a running local cloud listens (written by ``up``, read by ``token``/``demo``)."""

    url: str
    pid: int

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CLOUD_FILE).write_text(json.dumps({"url": self.url, "pid": self.pid}))

    @classmethod
    def load(cls, directory: Path) -> CloudInfo | None:
        try:
            document = json.loads((directory / CLOUD_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return cls(url=document["url"], pid=int(document["pid"]))

    @staticmethod
    def clear(directory: Path, pid: int) -> None:
        current = CloudInfo.load(directory)
        if current is not None and current.pid == pid:
            (directory / CLOUD_FILE).unlink(missing_ok=True)
