"""A threaded WSGI server that, when stopped, also ends its open keep-alive connections.

werkzeug's threaded server answers each connection in a daemon thread and, when shut down, leaves
those threads waiting for the next request on kept-alive connections. ``Server.stop()`` closes the
listening socket, then shuts every open connection down and joins the threads that served them, so
nothing of the server outlives it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class _TrackedHandler(WSGIRequestHandler):
    """Registers its connection with the server while it serves it."""

    server: Any

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections[self.connection] = threading.current_thread()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.pop(self.connection, None)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s", self.requestline, code)


class Server:
    """``app`` served on ``host:port`` (0: a free port) from a background thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, name: str = "http"):
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_TrackedHandler
        )
        self._server.connections = {}  # type: ignore[attr-defined]
        self._server.connections_lock = threading.Lock()  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout_s)
        with self._server.connections_lock:  # type: ignore[attr-defined]
            open_connections = dict(self._server.connections)  # type: ignore[attr-defined]
        for connection in open_connections:
            with contextlib.suppress(OSError):  # the client may have closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)
        for thread in open_connections.values():
            thread.join(timeout_s)
