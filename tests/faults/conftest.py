"""One local cloud for the fault-injection and log-leak tests, with its faults and its log capture.

Package scope and a fixed seed, as in ``tests/e2e``: the cloud is gone before other tests start
moto's in-process ``mock_aws``. Every line the local cloud writes is kept: each function worker's
stdout/stderr go to ``<state_dir>/logs/<Function>.log`` (the runtime's own files), moto's to
``logs/moto.log``, and this process's ``localcloud`` loggers (the HTTP front, the pollers, the
runtime) to ``logs/front.log`` through a handler added here.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud, Options
from localcloud.demo import Driver
from localcloud.runtime import _INVOKE_PATH, Invocation, _aws_error, function_name_of

SEED = 8


@pytest.fixture(scope="package")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loanflow-faults")


@pytest.fixture(scope="package")
def front_log(state_dir: Path) -> Iterator[Path]:
    """This process's local-cloud logs (front, pollers, runtime, simulators) at DEBUG, to a file."""
    path = state_dir / "logs" / "front.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("localcloud", "werkzeug")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield path
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
    handler.close()


@pytest.fixture(scope="package")
def local_cloud(state_dir: Path, front_log: Path) -> Iterator[LocalCloud]:
    # Functions log at DEBUG: the PII test then checks the most talkative configuration.
    options = Options(
        port=0,
        state_dir=state_dir,
        payout_interval_s=1.0,
        seed=SEED,
        parameters={"LogLevel": "DEBUG"},
    )
    with LocalCloud(options) as cloud:
        yield cloud


@dataclass
class Faults:
    """Faults injected into one local cloud, and how many of each kind actually happened.

    Function faults wrap the runtime's own entry points (``FunctionPool.invoke`` for a handler
    raising, ``InvokeServer.handle`` for the Invoke API's 429) on the instance: nothing in the
    runtime, ``functions/`` or ``layers/`` knows about them.
    """

    cloud: LocalCloud
    injected: Counter[str] = field(default_factory=Counter)
    raise_in: dict[str, str] = field(default_factory=dict)
    """Function logical id → the application id whose invocation raises (once; ``*``: the next)."""
    raised_for: list[str] = field(default_factory=list)
    throttle: dict[str, int] = field(default_factory=dict)
    """Function name → how many more Invoke API calls answer 429 TooManyRequestsException."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        runtime = self.cloud.runtime
        assert runtime is not None
        for pool in runtime.pools.values():
            pool.invoke = self._raising(pool.spec.logical_id, pool.invoke)  # type: ignore[method-assign]
        server = self.cloud._invoke_server
        assert server is not None
        server.handle = self._throttling(server.handle)  # type: ignore[method-assign]

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.injected[kind] += n

    def _raising(self, logical_id: str, invoke: Any) -> Any:
        def wrapped(payload: bytes, request_id: str | None = None) -> Invocation:
            target = self.raise_in.get(logical_id)
            application_id = _application_id(payload) if target else None
            if application_id and target in ("*", application_id):
                with self._lock:
                    fire = self.raise_in.pop(logical_id, None) is not None
                if fire:
                    self.count("lambda_raised")
                    self.raised_for.append(application_id)
                    error = {
                        "errorType": "RuntimeError",
                        "errorMessage": "fault injected: the handler raised mid-workflow",
                        "requestId": request_id or "fault",
                    }
                    return Invocation(
                        request_id or "fault", json.dumps(error).encode(), "Unhandled"
                    )
            result: Invocation = invoke(payload, request_id)
            return result

        return wrapped

    def _throttling(self, handle: Any) -> Any:
        def wrapped(request: Any) -> Any:
            match = _INVOKE_PATH.match(request.path)
            name = function_name_of(match.group("function")) if match else None
            with self._lock:
                left = self.throttle.get(name or "", 0)
                if left > 0:
                    self.throttle[name or ""] = left - 1
                    self.injected["lambda_throttled"] += 1
                    return _aws_error(429, "TooManyRequestsException", "Rate exceeded")
            return handle(request)

        return wrapped


def _application_id(payload: bytes) -> str | None:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    value = event.get("application_id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


@pytest.fixture(scope="package")
def faults(local_cloud: LocalCloud) -> Faults:
    injected = Faults(local_cloud)
    injected.install()
    return injected


@pytest.fixture(scope="package")
def driver(local_cloud: LocalCloud) -> Driver:
    return Driver(
        local_cloud.url, local_cloud.token, poll_s=0.3, decision_timeout_s=40, funds_timeout_s=40
    )


@pytest.fixture(scope="package")
def driven() -> list[dict[str, Any]]:
    """Every application body driven through this cloud (the PII test searches the logs for them)."""
    return []
