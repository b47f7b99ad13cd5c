"""Cold start of every function in template.yaml, in a fresh process, with the function's environment.

Each sample starts a new execution environment exactly as the local cloud does
(``localcloud.worker.serve`` in a ``spawn``-ed process: clean environment of the function's variables
plus Lambda's reserved ones, import path = code + layers + interpreter libraries), and records:

- ``init_ms``: importing the handler module and running its module-level init, as Lambda's
  ``Init Duration`` reports it (measured inside the worker);
- ``process_ms``: from process start to "ready" as seen by the parent (interpreter start-up included,
  which Lambda's runtime pays too but reports separately).

Paths under ``/opt`` (where Lambda unpacks layers) are mapped to the layer's source directory, and
the LightGBM C library to the one in the developer environment: the model and code are the same,
only the location differs. No AWS call is made at init (settings and clients only), so no endpoint
is needed; a fake endpoint and credentials are set so that nothing could reach AWS.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from bench import duration_figure
from localcloud import worker
from localcloud.provision import function_properties, plan
from localcloud.runtime import child_environment_defaults, function_specs
from localcloud.template import ROOT, load_template
from localcloud.worker import FunctionSpec

REFERENCE_MS = 1000.0
REFERENCE_LABEL = "1 s: a cold start the applicant would notice"
INIT_TIMEOUT_S = 120.0


def samples_per_function() -> int:
    return 2 if os.environ.get("BENCH_QUICK") == "1" else 5


def _lightgbm_library() -> str | None:
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "lib" / "lib_lightgbm.so"
    return str(candidate) if candidate.exists() else None


def _local_opt_path(value: str, layer_sources: list[Path]) -> str:
    """``/opt/x/y`` → the first layer source directory that has ``x/y``; else unchanged."""
    relative = value.removeprefix("/opt/")
    for source in layer_sources:
        if (source / relative).exists():
            return str(source / relative)
    if relative == "lib/lib_lightgbm.so":
        return _lightgbm_library() or value
    return value


def _layer_sources(template: dict[str, Any], logical_id: str) -> list[Path]:
    declared = template.get("Resources") or {}
    sources = []
    for layer in function_properties(template, logical_id).get("Layers") or []:
        ref = layer.get("Ref") if isinstance(layer, dict) else None
        content = ((declared.get(ref) or {}).get("Properties") or {}).get("ContentUri")
        if isinstance(content, str):
            sources.append(ROOT / content)
    return sources


def local_specs() -> dict[str, FunctionSpec]:
    """Every function's spec, keyed by logical id, with /opt paths mapped to this machine."""
    template = load_template()
    resources = plan(template)
    defaults = child_environment_defaults("http://127.0.0.1:9", resources.region)
    specs = function_specs(template, resources, extra_environment=defaults)
    out: dict[str, FunctionSpec] = {}
    for spec in specs.values():
        sources = _layer_sources(template, spec.logical_id)
        environment = {
            key: _local_opt_path(value, sources) if value.startswith("/opt/") else value
            for key, value in spec.environment.items()
        }
        out[spec.logical_id] = FunctionSpec(**{**spec.__dict__, "environment": environment})
    return out


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


def run() -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    rounds = samples_per_function()
    specs = local_specs()
    init: dict[str, list[float]] = {name: [] for name in specs}
    process: dict[str, list[float]] = {name: [] for name in specs}
    for _ in range(rounds):  # interleaved, so background load spreads over every function
        for name, spec in specs.items():
            init_ms, ready_ms = cold_start(spec)
            init[name].append(init_ms)
            process[name].append(ready_ms)
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
