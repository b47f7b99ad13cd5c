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

import contextlib
import http.client
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
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
"""Services whose moto backend is not safe under concurrent requests: moto's DynamoDB deep-copies
whole tables inside TransactWriteItems while other threads write to them ("dictionary changed size
during iteration"). Their requests are handled one at a time, as DynamoDB's own consistency would
have them appear."""


def _service_of(environ: dict[str, Any]) -> str:
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else ""


class _InvokeForwarder:
    """WSGI middleware: Lambda Invoke calls go to the local runtime, everything else to moto."""

    def __init__(self, app: Any, runtime_url: str) -> None:
        self.app = app
        target = urlsplit(runtime_url)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self._locks = {service: threading.Lock() for service in SERIALIZED_SERVICES}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or not _INVOKE_PATH.match(
            environ.get("PATH_INFO", "")
        ):
            lock = self._locks.get(_service_of(environ))
            if lock is None:
                return self.app(environ, start_response)
            with lock:
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
