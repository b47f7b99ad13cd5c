"""moto's server app in a process of its own, with Step Functions executing definitions for real.

The process hosts every AWS service moto emulates on one port. Two things are added to moto:

- ``stepfunctions.execute_state_machine`` is on (moto's own setting: executions run the ASL through
  its interpreter instead of returning canned results);
- Lambda Invoke calls (``POST /2015-03-31/functions/{name}/invocations``) — which moto's Step
  Functions interpreter sends to ``http://localhost:$MOTO_PORT`` — are forwarded to the local Lambda
  runtime, so every Task runs the real handler.

The interpreter builds a new boto3 client for every Task (``boto_client_for``); here clients are
cached per region and service, which makes service-integration Tasks about a third faster.

It runs in its own process so that its state never mixes with an in-process ``mock_aws`` (a test
session may run both) and so that its CPU work does not compete for the caller's GIL.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/[^/]+/invocations$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
SERIALIZED_SERVICES = frozenset({"dynamodb"})
"""Services whose moto backend is not safe under concurrent requests: moto's DynamoDB iterates and
deep-copies its tables while other threads write to them ("dictionary changed size during
iteration"). Their writes are handled one at a time; reads run together, but never beside a
write."""
_READ_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
    }
)


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def _service_of(environ: dict[str, Any]) -> str:
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else ""


class _InvokeForwarder:
    """WSGI middleware: Lambda Invoke calls go to the local runtime, everything else to moto."""

    def __init__(self, app: Any, runtime_url: str) -> None:
        self.app = app
        target = urlsplit(runtime_url)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self._locks = {service: _ReadWriteLock() for service in SERIALIZED_SERVICES}

    throttle_dynamodb = 0
    """Fault injection (tests/faults): how many more DynamoDB requests to answer with
    ProvisionedThroughputExceededException; set by ``POST /_localcloud/faults``."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_localcloud/faults":
            return self._faults(environ, start_response)
        if self.throttle_dynamodb > 0 and _service_of(environ) == "dynamodb":
            self.throttle_dynamodb -= 1  # one counter, approximate under concurrency: fine here
            body = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#"
                    "ProvisionedThroughputExceededException",
                    "message": "Throughput exceeds the current capacity (fault injected)",
                }
            ).encode()
            # DynamoDB names every answer with a request id; clients (moto's Step Functions SDK
            # integration among them) read it from the error's metadata.
            start_response(
                "400 Bad Request",
                [
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("x-amzn-RequestId", str(uuid.uuid4())),
                ],
            )
            return [body]
        if environ.get("REQUEST_METHOD") != "POST" or not _INVOKE_PATH.match(
            environ.get("PATH_INFO", "")
        ):
            lock = self._locks.get(_service_of(environ))
            if lock is None:
                return self.app(environ, start_response)
            action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
            with lock.reading() if action in _READ_ACTIONS else lock.writing():
                # the body is produced inside the lock too: moto's responses are lists, eager
                return list(self.app(environ, start_response))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        path = environ["PATH_INFO"]
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        connection = http.client.HTTPConnection(self.host, self.port, timeout=900)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            reply_headers = [
                (key, value)
                for key, value in response.getheaders()
                if key.lower() not in _HOP_BY_HOP
            ]
            reply_headers.append(("Content-Length", str(len(payload))))
            start_response(f"{response.status} {response.reason}", reply_headers)
            return [payload]
        finally:
            connection.close()

    def _faults(self, environ: dict[str, Any], start_response: Any) -> Any:
        """``POST /_localcloud/faults {"throttle_dynamodb": N}`` → ``{"throttle_dynamodb": left}``."""
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            wanted = json.loads(environ["wsgi.input"].read(length) or b"{}")
            self.throttle_dynamodb = int(wanted.get("throttle_dynamodb", 0))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"throttle_dynamodb": self.throttle_dynamodb}).encode()]


def _cache_step_functions_clients() -> None:
    """Make moto's Step Functions interpreter reuse one boto3 client per region and service."""
    from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module

    original = boto_client_module.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def cached_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        with lock:
            if key not in clients:
                clients[key] = original(region, service, state_credentials)
            return clients[key]

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and hasattr(module, "boto_client_for"):
            setattr(module, "boto_client_for", cached_boto_client_for)  # noqa: B010


def _lambda_error_names() -> None:
    """As on AWS, an error of Lambda's Invoke API itself (a 429 TooManyRequestsException, a 5xx
    ServiceException) reaches the state machine as ``Lambda.<ErrorCode>``, so that the template's
    ``Retry`` on ``Lambda.TooManyRequestsException`` & co. matches; moto names them all "Exception"."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        state_task_lambda as module,
    )

    original = module.StateTaskLambda._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error = f"Lambda.{ex.response.get('Error', {}).get('Code') or 'ServiceException'}"
        cause = str(ex.response.get("Error", {}).get("Message", ""))
        return module.FailureEvent(
            env=env,
            error_name=module.CustomErrorName(error),
            event_type=module.HistoryEventType.LambdaFunctionFailed,
            event_details=module.EventDetails(  # type: ignore[typeddict-item]
                lambdaFunctionFailedEventDetails=module.LambdaFunctionFailedEventDetails(
                    error=error, cause=cause
                )
            ),
        )

    module.StateTaskLambda._from_error = from_error  # type: ignore[method-assign]


def _cache_module_list() -> None:
    """moto lists its own package directory on every request to route it; the list never changes."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


class _TableMarker:
    """Stands in for moto's whole-table backup inside TransactWriteItems (see below)."""

    def __init__(self, table: Any) -> None:
        self.table = table


def _backup_items_not_tables() -> None:
    """Make moto's TransactWriteItems back up the items it touches instead of whole tables.

    moto deep-copies every table a transaction names before applying it, so that it can roll back:
    the cost grows with the table (hundreds of milliseconds once it holds a few thousand items,
    on every status change). Here the backup is the touched items' previous versions; a rollback
    puts them back. The outcome is the same; requests are serialized (``SERIALIZED_SERVICES``).
    """
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items
    real_copy = copy

    class _Copy:
        """``copy`` as moto's dynamodb module sees it: tables are not copied, only marked."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table):
                return _TableMarker(value)
            return real_copy.deepcopy(value, memo)

    def touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
        found = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            elif "Key" in op:
                key = op["Key"]
            else:
                continue
            try:
                current = backend.get_item(op["TableName"], key)
            except Exception as error:  # noqa: BLE001 - moto reports a bad key itself, below
                log.debug("no backup for %s: %s", key, error)
                continue
            before = real_copy.deepcopy(current.to_json()["Attributes"]) if current else None
            found.append((op["TableName"], key, before))
        return found

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        previous = touched(self, transact_items)
        models.copy = _Copy()  # type: ignore[assignment]
        try:
            original(self, transact_items)
        finally:
            models.copy = real_copy
            rolled_back = False
            for name, table in list(self.tables.items()):
                if isinstance(table, _TableMarker):
                    self.tables[name] = table.table
                    rolled_back = True
            if rolled_back:
                for table_name, key, before in reversed(previous):
                    if before is None:
                        with contextlib.suppress(Exception):
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, before)

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _fast_dynamodb_responses() -> None:
    """Answer DynamoDB item calls with ``json.dumps`` instead of moto's model-driven serializer.

    moto 5.2 serializes every response by walking the botocore output shape; for DynamoDB's nested
    attribute values that costs ~7 ms per item (a 20-item Query: 155 ms → 37 ms here). The result
    moto builds is already the JSON wire shape; blobs are base64 and timestamps epoch seconds, as
    the JSON protocol has them. Anything else falls back to moto's serializer.
    """
    from moto.dynamodb import responses

    original = responses.DynamoResult.execute_result

    def encode(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        raise TypeError(type(value).__name__)

    def compact(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: compact(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [compact(item) for item in value]
        return value

    def execute_result(self: Any, context: Any) -> Any:
        try:
            body = json.dumps(compact(self.result), default=encode)
        except (TypeError, ValueError):
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    responses.DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


_SPED_UP = False


def speed_up_moto() -> None:
    """The local cloud's changes to moto's cost (not its behaviour), in this process.

    The server process applies them; benchmarks that run moto in process apply them too, so that
    both measure the same emulator. Applied once per process.
    """
    global _SPED_UP
    if _SPED_UP:
        return
    _SPED_UP = True
    _cache_module_list()
    _backup_items_not_tables()
    _fast_dynamodb_responses()


def _serve(
    conn: Connection, runtime_url: str, host: str, port: int, log_path: str | None = None
) -> None:
    """The server process: bind, report the port, serve until told to stop or the parent dies."""
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Request logging is left to the callers."""

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    if (
        log_path
    ):  # moto's own logging (ASL failures, request errors) goes to a file, not the console
        log_file = open(log_path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    _cache_step_functions_clients()
    _lambda_error_names()
    speed_up_moto()
    app = _InvokeForwarder(DomainDispatcherApplication(create_backend_app), runtime_url)
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    os.environ["MOTO_PORT"] = str(server.server_port)
    thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    thread.start()
    conn.send(server.server_port)
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # a stop message, or EOFError when the parent is gone
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class MotoServer:
    """A running moto server process; ``stop()`` ends it."""

    process: BaseProcess
    conn: Connection
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, grace_s: float = 5.0) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send("stop")
        self.process.join(grace_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(grace_s)
        self.conn.close()


def start(
    runtime_url: str, *, host: str = "127.0.0.1", port: int = 0, log_path: Path | None = None
) -> MotoServer:
    """Start the moto server process (``port=0``: a free port) and wait until it listens."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve,
        args=(child, runtime_url, host, port, str(log_path) if log_path else None),
        name="moto-server",
        daemon=True,
    )
    process.start()
    child.close()
    if not parent.poll(60):
        process.kill()
        raise RuntimeError("the moto server did not start within 60 s")
    bound_port = int(parent.recv())
    return MotoServer(process=process, conn=parent, port=bound_port, host=host)
