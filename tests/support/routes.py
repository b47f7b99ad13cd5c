"""Call the HTTP API as API Gateway does: the real ApiFunction handler, with a verified caller."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from tests.conftest import FakeLambdaContext
from tests.support.apigw import http_event
from tests.support.handlers import load_handler_module


def workflow_api() -> ModuleType:
    """ApiFunction, loaded as Lambda starts it (it composes the workflow router with the rest)."""
    return load_handler_module("api")


def request(
    api: ModuleType,
    method: str,
    path: str,
    *,
    body: Any = None,
    user: str = "user-1",
    groups: tuple[str, ...] = (),
) -> tuple[int, Any]:
    event = http_event(method, path, body=body, user=user, groups=groups)
    response = api.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response.get("body") or "null")
