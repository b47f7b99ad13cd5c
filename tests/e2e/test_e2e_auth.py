"""The local API enforces the JWT authorizer before any function runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_no_token_is_401_json(api: Api) -> None:
    response = api.call("GET", "/applications", user=None)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"])
def test_bad_token_is_401_json(api: Api, token: str) -> None:
    response = api.call(
        "GET", "/applications", user=None, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_expired_token_is_401(api: Api, local_cloud: LocalCloud) -> None:
    assert local_cloud.issuer is not None
    token = local_cloud.issuer.mint("user-1", ttl_s=1, issued_at=1_700_000_000)

    response = api.call(
        "GET", "/applications", user=None, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401


def test_public_routes_need_no_token(api: Api) -> None:
    assert api.call("GET", "/openapi.json", user=None).status_code == 200
    assert api.call("GET", "/.well-known/jwks.json", user=None).json()["keys"]


def test_token_command_from_another_process_is_accepted(api: Api, state_dir: Path) -> None:
    environment = {
        **os.environ,
        "LOANFLOW_LOCAL_HOME": str(state_dir),
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / part) for part in ("cli", "infra/local", "layers/common/python", "ml")
        ),
    }
    token = subprocess.run(
        [sys.executable, "-m", "loanflow_cli.main", "local", "token", "--user", "user-cli"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()

    response = api.call(
        "GET", "/applications", user=None, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200, response.text
