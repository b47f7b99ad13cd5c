"""boto3 clients and resources, built once per process (cold start) and reused."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str) -> Any:
    """A cached boto3 client; honours AWS_ENDPOINT_URL like any boto3 client."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def resource(service: str) -> Any:
    return boto3.resource(service, config=_CONFIG)  # type: ignore[call-overload]


def reset() -> None:
    """Forget cached clients (tests switch endpoints between cases)."""
    client.cache_clear()
    resource.cache_clear()
