"""The local issuer signs Cognito-like tokens and checks them as API Gateway's JWT authorizer does."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from localcloud.auth import CloudInfo, InvalidToken, Issuer

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_UserPool"
AUDIENCE = ("loanflow-UserPoolClient",)


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer.generate(ISSUER, AUDIENCE)


def test_a_minted_token_verifies_with_its_claims(issuer: Issuer) -> None:
    claims = issuer.verify(issuer.mint("user-1", ("ops",)))

    assert claims["sub"] == "user-1"
    assert claims["cognito:groups"] == ["ops"]
    assert claims["aud"] == AUDIENCE[0]
    assert claims["iss"] == ISSUER


def test_the_jwks_verifies_the_token_as_a_relying_party_would(issuer: Issuer) -> None:
    token = issuer.mint("user-1")
    key = jwt.PyJWKSet.from_dict(issuer.jwks())[issuer.kid]

    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE[0])

    assert claims["sub"] == "user-1"


def test_expired_token_is_refused(issuer: Issuer) -> None:
    token = issuer.mint("user-1", ttl_s=60, issued_at=int(time.time()) - 3600)

    with pytest.raises(InvalidToken, match="expired"):
        issuer.verify(token)


def test_token_of_another_issuer_is_refused(issuer: Issuer) -> None:
    stranger = Issuer.generate("https://evil.example", AUDIENCE)
    stranger.kid = issuer.kid  # even claiming our key id, the signature gives it away

    with pytest.raises(InvalidToken):
        issuer.verify(stranger.mint("user-1"))


def test_wrong_issuer_claim_is_refused(issuer: Issuer) -> None:
    token = issuer.mint("user-1", iss="https://cognito-idp.us-east-1.amazonaws.com/other")

    with pytest.raises(InvalidToken, match="issuer"):
        issuer.verify(token)


def test_wrong_audience_is_refused(issuer: Issuer) -> None:
    with pytest.raises(InvalidToken, match="audience"):
        issuer.verify(issuer.mint("user-1", aud="another-app"))


def test_garbage_is_refused(issuer: Issuer) -> None:
    with pytest.raises(InvalidToken):
        issuer.verify("not-a-jwt")


def test_issuer_is_kept_in_the_state_dir_for_other_processes(tmp_path: Path) -> None:
    created = Issuer.ensure(tmp_path, ISSUER, AUDIENCE)

    loaded = Issuer.load(tmp_path)

    assert loaded.verify(created.mint("user-1"))["sub"] == "user-1"
    assert Issuer.ensure(tmp_path, ISSUER, AUDIENCE).kid == created.kid
    assert Issuer.ensure(tmp_path, "https://other", AUDIENCE).kid != created.kid
    assert (tmp_path / "issuer.json").stat().st_mode & 0o077 == 0


def test_loading_without_a_running_cloud_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="local up"):
        Issuer.load(tmp_path)


def test_cloud_info_is_cleared_only_by_its_owner(tmp_path: Path) -> None:
    CloudInfo("http://127.0.0.1:3000", pid=42).save(tmp_path)

    CloudInfo.clear(tmp_path, pid=7)
    assert CloudInfo.load(tmp_path) == CloudInfo("http://127.0.0.1:3000", 42)
    CloudInfo.clear(tmp_path, pid=42)
    assert CloudInfo.load(tmp_path) is None
