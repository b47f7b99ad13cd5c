"""Fixtures every test shares: a moto account with everything in template.yaml created in it.

Tables, queues, buckets, keys and the state machine come from the template itself
(``localcloud.provision``), so a test cannot drift from what is deployed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

# Before anything imports boto3: a fake account, one region, no real endpoint, quiet powertools.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "Loanflow",
        "POWERTOOLS_SERVICE_NAME": "loanflow",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@cache
def template() -> dict[str, Any]:
    from localcloud.template import load_template

    return load_template()


def clear_process_caches() -> None:
    """Forget clients, settings, repositories… built for a previous test's account.

    Every ``functools.cache``/``lru_cache`` at module level in the ``loanflow`` package is cleared,
    so a new module with a cached factory needs no change here.
    """
    import sys

    for name, module in list(sys.modules.items()):
        if name == "loanflow" or name.startswith("loanflow."):
            for value in list(vars(module).values()):
                if (
                    callable(getattr(value, "cache_clear", None))
                    and getattr(value, "__module__", None) == name
                ):
                    value.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _moto_one_request_at_a_time() -> Iterator[None]:
    """moto's in-process backends are not thread-safe (a TransactWriteItems deep-copies a table
    while another thread writes to it). Tests that run a Step Functions execution in moto's thread
    beside their own calls would flake; serialise moto's request handling, as the local cloud's
    moto server does. Re-entrant: a Lambda task's handler calls moto again from the same thread."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def serialised(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = serialised  # type: ignore[method-assign]
    yield
    BotocoreStubber.process_request = original  # type: ignore[method-assign]


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's emulation of AWS, fresh for each test."""
    from moto import mock_aws

    with mock_aws():
        clear_process_caches()
        yield
    clear_process_caches()


@pytest.fixture
def resources(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every resource of template.yaml, created in moto; every function's environment applied."""
    from localcloud.provision import function_environment, provision

    tpl = template()
    created = provision(tpl, region="us-east-1")
    for logical_id, resource in tpl["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            for key, value in function_environment(tpl, logical_id, created).items():
                monkeypatch.setenv(key, value)
    clear_process_caches()
    return created


class FakeLambdaContext:
    """What Lambda hands a handler: names, memory, request id and a clock."""

    def __init__(self, function_name: str = "loanflow-ApiFunction", timeout_ms: int = 10_000):
        import time
        import uuid

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/12/03/[$LATEST]test"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
