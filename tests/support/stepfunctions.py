"""Run the real state machine on moto: executions for real, every Lambda task the real handler.

moto 5.2.5 interprets ASL when ``execute_state_machine`` is on; its Lambda tasks call the Lambda
Invoke API, which :class:`InProcessLambdas` answers by calling ``functions/<dir>/app.py:handler``
in this process (loaded once per test with :func:`load_handler_module`, each function under its
own module name). A handler that raises answers as Lambda does: ``FunctionError: Unhandled`` and
``{"errorType": <exception class>, "errorMessage": ...}``, so Retry/Catch see the real error name.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any

import boto3

from tests.conftest import FakeLambdaContext
from tests.support.handlers import load_handler_module

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def function_dirs(template: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """Physical function name → ``functions/<dir>`` for every function in the template."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code_uri = str(resource["Properties"]["CodeUri"])
        found[names[logical_id]] = PurePosixPath(code_uri).name
    return found


class InProcessLambdas:
    """Answers moto's Lambda ``Invoke`` with the real handlers (see the module docstring)."""

    def __init__(self, dirs: dict[str, str]) -> None:
        self.dirs = dirs
        self.modules: dict[str, ModuleType] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.completed: list[tuple[str, dict[str, Any]]] = []
        self.overrides: dict[str, Callable[[dict[str, Any]], Any]] = {}
        # One invocation at a time: moto's in-process DynamoDB deep-copies a table during
        # TransactWriteItems and breaks if a Parallel branch writes to it at that moment.
        self._lock = threading.Lock()

    def module(self, function_name: str) -> ModuleType:
        directory = self.dirs[function_name]
        if directory not in self.modules:
            self.modules[directory] = load_handler_module(directory)
        return self.modules[directory]

    def fail(self, function_dir: str, exception: BaseException) -> None:
        """Make every call to ``functions/<function_dir>`` raise ``exception``."""

        def raising(_event: dict[str, Any]) -> Any:
            raise exception

        self.overrides[function_dir] = raising

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> str:
        name = function_name.split(":function:")[-1].split(":")[0]
        directory = self.dirs[name]
        event = json.loads(body or "{}") if isinstance(body, str | bytes) else (body or {})
        self.calls.append((directory, event))
        with self._lock:
            answer = self._run(name, directory, event, response_headers)
        self.completed.append((directory, event))
        return answer

    def has_run(self, function_dir: str, application_id: str) -> bool:
        """Whether ``functions/<function_dir>`` has finished a call about ``application_id``."""
        return any(d == function_dir and application_id in json.dumps(e) for d, e in self.completed)

    def _run(
        self, name: str, directory: str, event: dict[str, Any], response_headers: dict[str, str]
    ) -> str:
        try:
            if directory in self.overrides:
                result = self.overrides[directory](event)
            else:
                result = self.module(name).handler(event, FakeLambdaContext(name))
        except Exception as exc:  # noqa: BLE001 - Lambda reports any unhandled error this way
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
        return json.dumps(result)


def install(monkeypatch: Any, lambdas: InProcessLambdas) -> None:
    """Route moto's Lambda backend ``invoke`` to ``lambdas`` (undone by ``monkeypatch``)."""
    from moto.awslambda.models import LambdaBackend

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> str:
        payload = lambdas.invoke(function_name, body, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)


def wait_for(
    execution_arn: str,
    *,
    until: Callable[[dict[str, Any]], bool] | None = None,
    timeout_s: float = 20.0,
) -> dict[str, Any]:
    """Poll ``DescribeExecution`` until it ends (or ``until(description)`` holds)."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    deadline = time.monotonic() + timeout_s
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] in TERMINAL or (until is not None and until(description)):
            return description
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution still {description['status']} after {timeout_s} s")
        time.sleep(0.03)


def visited_states(execution_arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
