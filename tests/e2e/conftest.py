"""The local cloud, started once for the e2e tests on free ports, and an HTTP client for it.

The cloud lives for this directory's tests only (package scope), so that it is gone before other
tests start moto's in-process ``mock_aws`` (whose botocore hook would also catch the pollers' calls).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.cloud import LocalCloud, Options
from tests.support.identities import application_body


@pytest.fixture(scope="package")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loanflow-local")


@pytest.fixture(scope="package")
def local_cloud(state_dir: Path) -> Iterator[LocalCloud]:
    with LocalCloud(Options(port=0, state_dir=state_dir, payout_interval_s=2.0)) as cloud:
        yield cloud


@dataclass
class Api:
    """The local API as a client app sees it."""

    cloud: LocalCloud
    session: requests.Session

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "user-1",
        groups: tuple[str, ...] = (),
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if user is not None:
            all_headers["Authorization"] = f"Bearer {self.cloud.token(user, groups)}"
        return self.session.request(
            method, self.cloud.url + path, json=body, headers=all_headers, timeout=60
        )

    def create(self, user: str = "user-1", **overrides: Any) -> dict[str, Any]:
        response = self.call(
            "POST",
            "/applications",
            user=user,
            body=application_body(**overrides),
            headers={"Idempotency-Key": f"e2e-{uuid.uuid4()}"},
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def wait_for(
        self,
        path: str,
        until: Callable[[dict[str, Any]], bool],
        *,
        user: str = "user-1",
        timeout_s: float = 60.0,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body: dict[str, Any] = self.call("GET", path, user=user).json()
            if until(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.1)


@pytest.fixture(scope="package")
def api(local_cloud: LocalCloud) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(local_cloud, session)
