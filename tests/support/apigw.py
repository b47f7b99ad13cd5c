"""API Gateway HTTP API (payload v2.0) events for handler tests, built from events/api_*.json."""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load_event(name: str) -> dict[str, Any]:
    """One of the sample events in ``events/`` (the same files ``sam local invoke -e`` takes)."""
    return json.loads((ROOT / "events" / name).read_text())


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    user: str | None = "user-1",
    groups: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An HTTP API event as the JWT authorizer passes it on (claims of a verified token)."""
    event = deepcopy(load_event("api_get_application.json"))
    event["routeKey"] = "$default"
    event["rawPath"] = path
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["queryStringParameters"] = query or None
    event["headers"] = {"content-type": "application/json", **(headers or {})}
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = None
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body, ensure_ascii=False)
    else:
        event.pop("body", None)
    if user is None:
        event["requestContext"].pop("authorizer", None)
    else:
        claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
        claims["sub"] = user
        if groups:
            claims["cognito:groups"] = "[" + " ".join(groups) + "]"
        else:
            claims.pop("cognito:groups", None)
    return event


def call(handler_module: Any, event: dict[str, Any], context: Any) -> tuple[int, Any]:
    """Invoke the handler; return (status, decoded JSON body or text)."""
    response = handler_module.handler(event, context)
    body = response.get("body") or ""
    try:
        decoded: Any = json.loads(body)
    except ValueError:
        decoded = body
    return response["statusCode"], decoded
