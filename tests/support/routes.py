"""The workflow's HTTP routes composed as ApiFunction composes them (same router, same errors)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from loanflow.http import workflow
from loanflow.http.errors import register_error_handlers
from tests.conftest import FakeLambdaContext
from tests.support.apigw import http_event


def workflow_api() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    register_error_handlers(app)
    app.include_router(workflow.router)
    return app


def request(
    app: APIGatewayHttpResolver,
    method: str,
    path: str,
    *,
    body: Any = None,
    user: str = "user-1",
    groups: tuple[str, ...] = (),
) -> tuple[int, Any]:
    event = http_event(method, path, body=body, user=user, groups=groups)
    response = app.resolve(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response.get("body") or "null")
