"""Cold start of every function in template.yaml, in a fresh process, with the function's environment.

Each sample starts a new execution environment exactly as the local cloud does
(``localcloud.worker.serve`` in a ``spawn``-ed process: clean environment of the function's variables
plus Lambda's reserved ones, import path = code + layers + interpreter libraries), and records:

- ``init_ms``: importing the handler module and running its module-level init, as Lambda's
  ``Init Duration`` reports it (measured inside the worker);
- ``process_ms``: from process start to "ready" as seen by the parent (interpreter start-up included,
  which Lambda's runtime pays too but reports separately).

Paths under ``/opt`` (where Lambda unpacks layers) stand at a temporary directory the local
runtime fills (``function_specs(opt_root=...)``), exactly as ``loanflow local up`` does. No AWS call is made at init (settings and clients only), so no endpoint
is needed; a fake endpoint and credentials are set so that nothing could reach AWS.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import duration_figure
from localcloud import worker
from localcloud.provision import plan
from localcloud.runtime import child_environment_defaults, function_specs
from localcloud.template import load_template
from localcloud.worker import FunctionSpec

REFERENCE_MS = 1000.0
REFERENCE_LABEL = "1 s: a cold start the applicant would notice"
INIT_TIMEOUT_S = 120.0


def samples_per_function() -> int:
    """Fresh environments per function (``BENCH_COLDSTART_ROUNDS``; 3, or 2 with BENCH_QUICK)."""
    default = 2 if os.environ.get("BENCH_QUICK") == "1" else 3
    return int(os.environ.get("BENCH_COLDSTART_ROUNDS", default))


def local_specs(opt_root: Path) -> dict[str, FunctionSpec]:
    """Every function's spec, keyed by logical id, with ``/opt`` standing at ``opt_root/<id>``."""
    template = load_template()
    resources = plan(template)
    defaults = child_environment_defaults("http://127.0.0.1:9", resources.region)
    specs = function_specs(template, resources, extra_environment=defaults, opt_root=opt_root)
    return {spec.logical_id: spec for spec in specs.values()}


def cold_start(spec: FunctionSpec) -> tuple[float, float]:
    """One fresh environment: (init_ms inside the worker, process start → ready in ms)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=worker.serve, args=(spec, child, os.devnull), daemon=True)
    started = time.perf_counter()
    process.start()
    child.close()
    try:
        if not parent.poll(INIT_TIMEOUT_S):
            raise TimeoutError(f"{spec.logical_id}: init exceeded {INIT_TIMEOUT_S:.0f} s")
        kind, value = parent.recv()
        ready_ms = (time.perf_counter() - started) * 1000
        if kind != "ready":
            detail = value.decode() if isinstance(value, bytes) else value
            raise RuntimeError(f"{spec.logical_id} failed its init: {detail}")
        parent.send(None)
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)
        parent.close()
    return float(value), ready_ms


def _measure(
    specs: dict[str, FunctionSpec], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    init: dict[str, list[float]] = {name: [] for name in specs}
    process: dict[str, list[float]] = {name: [] for name in specs}
    for _ in range(rounds):  # interleaved, so background load spreads over every function
        for name, spec in specs.items():
            init_ms, ready_ms = cold_start(spec)
            init[name].append(init_ms)
            process[name].append(ready_ms)
    return init, process


def run() -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    rounds = samples_per_function()
    with tempfile.TemporaryDirectory(prefix="loanflow-bench-opt-") as opt_root:
        specs = local_specs(Path(opt_root))
        init, process = _measure(specs, rounds)
    for name, spec in specs.items():
        figures[f"{name}.init_ms"] = duration_figure(
            init[name],
            reference=REFERENCE_MS,
            reference_label=REFERENCE_LABEL,
            note=f"import + module init of {spec.handler} ({spec.memory_mb} MB configured)",
        )
        figures[f"{name}.process_ms"] = duration_figure(
            process[name], note="spawn → ready, interpreter start-up included"
        )
    return figures
