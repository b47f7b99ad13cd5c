"""One Lambda execution environment: a process that imports a function once and runs its invocations.

This module is the target of each worker process, so it imports nothing beyond the standard
library: what a function imports is its own business, as on Lambda. The process
gets a clean environment (the function's variables plus the ``AWS_*`` ones Lambda sets), an import
path of the function's code and layers plus the interpreter's own packages, and the code directory as
its working directory.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FunctionSpec:
    """Everything a worker needs to become one function's execution environment."""

    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: str
    layer_dirs: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0
    memory_mb: int = 128
    runtime: str = "python3.13"
    repository_root: str = ""
    reserved_concurrency: int | None = None


class LambdaContext:
    """The context object Lambda hands a Python handler."""

    function_version = "$LATEST"
    identity = None
    client_context = None

    def __init__(self, spec: FunctionSpec, request_id: str, deadline_epoch_s: float) -> None:
        self.function_name = spec.name
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{os.getpid():032x}"
        self._deadline_epoch_s = deadline_epoch_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline_epoch_s - time.time()) * 1000))


def lambda_environment(spec: FunctionSpec, base: dict[str, str]) -> dict[str, str]:
    """The process environment of a function: Lambda's reserved variables, then the function's."""
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
    environment = {name: base[name] for name in keep if name in base}
    environment |= {
        "TZ": "UTC",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": spec.code_dir,
        "_HANDLER": spec.handler,
    }
    environment |= spec.environment
    return environment


def _import_path(spec: FunctionSpec) -> list[str]:
    """The function's code and layers, then the interpreter's libraries — never the repository."""
    root = Path(spec.repository_root).resolve() if spec.repository_root else None
    inherited = []
    for entry in sys.path:
        if not entry:
            continue
        resolved = Path(entry).resolve()
        inside_repository = root is not None and resolved.is_relative_to(root)
        if inside_repository and ".venv" not in resolved.parts:
            continue
        inherited.append(entry)
    return [spec.code_dir, *spec.layer_dirs, *inherited]


def _error_payload(error: BaseException, request_id: str) -> bytes:
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
    ).encode()


def serve(spec: FunctionSpec, conn: Connection, log_path: str | None = None) -> None:
    """The worker process: initialise the function, then answer invocations until told to stop.

    Messages in: ``(request_id, payload_bytes, deadline_epoch_s)`` or ``None`` (stop).
    Messages out: ``("ready", init_ms)`` or ``("init_error", payload)`` once, then per invocation
    ``("ok", payload)`` or ``("error", payload)``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runtime's to handle, not ours
    if log_path:
        log_file = open(log_path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
    environment = lambda_environment(spec, dict(os.environ))
    os.environ.clear()
    os.environ.update(environment)
    sys.path[:] = _import_path(spec)
    os.chdir(spec.code_dir)
    started = time.perf_counter()
    module_name, _, function_name = spec.handler.replace("/", ".").rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # noqa: BLE001 - Lambda reports any init failure to the caller
        conn.send(("init_error", _error_payload(error, "init")))
        return
    conn.send(("ready", (time.perf_counter() - started) * 1000))
    sys.stdout.flush()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the runtime is gone: so is this environment
        if message is None:
            return
        request_id, payload, deadline = message
        conn.send(_invoke(handler, spec, request_id, payload, deadline))
        sys.stdout.flush()
        sys.stderr.flush()


def _invoke(
    handler: Any, spec: FunctionSpec, request_id: str, payload: bytes, deadline: float
) -> tuple[str, bytes]:
    context = LambdaContext(spec, request_id, deadline)
    try:
        event = json.loads(payload) if payload else {}
    except ValueError as error:
        return "error", _error_payload(error, request_id)
    try:
        result = handler(event, context)
    except Exception as error:  # noqa: BLE001 - an unhandled error goes back as Lambda reports it
        return "error", _error_payload(error, request_id)
    try:
        return "ok", json.dumps(result).encode()
    except (TypeError, ValueError) as error:
        marshal = {
            "errorMessage": f"Unable to marshal response: {error}",
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }
        return "error", json.dumps(marshal).encode()
