"""The local cloud in a process of its own, for the benchmarks that drive it over HTTP.

``python -m bench.cloudrunner [--payout-interval-s S] [--max-concurrency K]`` starts
``localcloud.cloud.LocalCloud`` (exactly what ``loanflow local up`` runs) in a private state
directory, adds one empty function (``loanflow-bench-empty``: the local runtime's own overhead), and
prints one line ``ready {json}`` with its URLs. It then answers commands on stdin, one per line,
with one JSON line each:

- ``token USER [GROUP]`` → ``{"token": ...}`` (a bearer token the local API accepts);
- ``durations`` → ``{LogicalId: [{"ms": duration, "init_ms": init or null}, ...]}``: every
  invocation the runtime served since the last ``durations``, as the runtime measured it around the
  worker (the handler's own time plus a pipe round trip, well under a millisecond);
- ``quit`` → stops the cloud and exits.

The driver (``bench/bench_api.py``) runs in another process so that its threads do not compete for
the local cloud's GIL.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud, Options
from localcloud.runtime import FunctionPool, Invocation, child_environment_defaults
from localcloud.worker import FunctionSpec

EMPTY_FUNCTION = "loanflow-bench-empty"
EMPTY_HANDLER = """def handler(event, context):
    return {"ok": True}
"""

_lock = threading.Lock()
_durations: dict[str, list[dict[str, float | None]]] = defaultdict(list)


def _record_invocations() -> None:
    """Wrap ``FunctionPool.invoke`` (in this process only) to keep every invocation's duration."""
    original = FunctionPool.invoke

    def invoke(self: FunctionPool, payload: bytes, request_id: str | None = None) -> Invocation:
        result = original(self, payload, request_id)
        with _lock:
            _durations[self.spec.logical_id].append(
                {"ms": result.duration_ms, "init_ms": result.init_ms}
            )
        return result

    FunctionPool.invoke = invoke  # type: ignore[method-assign]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _add_empty_function(cloud: LocalCloud, code_dir: Path) -> str:
    assert cloud.runtime is not None
    assert cloud.resources is not None
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / "app.py").write_text(EMPTY_HANDLER)
    region, account = cloud.options.region, cloud.resources.account_id
    arn = f"arn:aws:lambda:{region}:{account}:function:{EMPTY_FUNCTION}"
    spec = FunctionSpec(
        logical_id="BenchEmptyFunction",
        name=EMPTY_FUNCTION,
        arn=arn,
        handler="app.handler",
        code_dir=str(code_dir),
        environment=child_environment_defaults(cloud.moto_url, region),
        timeout_s=10,
        memory_mb=128,
    )
    pool = FunctionPool(spec, max_concurrency=cloud.options.max_concurrency)
    pool.warm()
    cloud.runtime.pools[EMPTY_FUNCTION] = pool
    return arn


def _answer(line: str, cloud: LocalCloud) -> dict[str, Any] | None:
    words = line.split()
    if not words:
        return {}
    if words[0] == "token" and len(words) >= 2:
        return {"token": cloud.token(words[1], tuple(words[2:]))}
    if words[0] == "durations":
        with _lock:
            snapshot = {name: list(values) for name, values in _durations.items()}
            _durations.clear()
        return snapshot
    if words[0] == "quit":
        return None
    return {"error": f"unknown command {line!r}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cloudrunner")
    parser.add_argument("--payout-interval-s", type=float, default=5.0)
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument(
        "--bank-latency-ms", type=float, default=200.0, help="the bank simulator's latency"
    )
    args = parser.parse_args(argv)
    _record_invocations()
    state_dir = Path(tempfile.mkdtemp(prefix="loanflow-bench-cloud-"))
    options = Options(
        port=_free_port(),
        payout_interval_s=args.payout_interval_s,
        max_concurrency=args.max_concurrency,
        bank_latency_ms=args.bank_latency_ms,
        state_dir=state_dir,
        seed=7,
    )
    cloud = LocalCloud(options)
    try:
        cloud.start()
        empty_arn = _add_empty_function(cloud, state_dir / "empty")
        assert cloud.resources is not None
        ready = {
            "url": cloud.url,
            "moto_url": cloud.moto_url,
            "region": options.region,
            "account_id": cloud.resources.account_id,
            "empty_function_arn": empty_arn,
            "started_s": cloud.started_s,
            "state_machines": {
                logical_id: arn
                for logical_id, arn in cloud.resources.arns.items()
                if ":stateMachine:" in str(arn)
            },
        }
        sys.stdout.write("ready " + json.dumps(ready) + "\n")
        sys.stdout.flush()
        for line in sys.stdin:
            answer = _answer(line.strip(), cloud)
            if answer is None:
                break
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        cloud.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
