"""Decision compute: the Lambda handlers' own durations per application, OCR excluded.

Applications go through the local cloud one at a time (so every invocation belongs to the one in
flight). After each decision the driver waits until no workflow function has run for
``QUIET_S``, then takes the runtime's record of invocations (``bench.cloudrunner``: each duration
as the local runtime measured it around its warm worker). Per application, the durations of every
function the submission set off are summed — the intake starter and every workflow task — leaving
out the HTTP API (``ApiFunction``, whose requests the applicant makes, polling included) and OCR
functions. Cold starts (the first invocation of each environment) are reported apart, not summed.

Figures: ``decision_compute_ms`` (per application) and ``<LogicalId>.duration_ms`` per function
(the cost model reads these, ``costmodel.model.measured_durations``; ``ApiFunction`` too, for
the requests an application makes, though it is not part of the decision compute).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from bench import duration_figure
from bench.driver import Applicant, BenchError, Cloud
from costmodel.model import SCENARIO_DATA, state_machines, walk
from localcloud.template import load_template

QUIET_S = 0.5
EXCLUDED = re.compile(r"^(ApiFunction|BenchEmptyFunction)$|extract|ocr|autofill", re.IGNORECASE)
"""Not part of an application's compute: the HTTP API (the applicant's requests), the overhead
probe, and OCR."""


def scheduled_functions(template: dict[str, Any]) -> set[str]:
    """Functions a schedule runs (their work is per run, not per application)."""
    found: set[str] = set()
    for logical_id, resource in (template.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Scheduler::Schedule":
            arn = (properties.get("Target") or {}).get("Arn")
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                found.add(str(arn["Fn::GetAtt"][0]))
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                found.add(logical_id)
    return found


def decision_functions(template: dict[str, Any]) -> set[str]:
    """The intake starter and every task the approved path runs up to and including Decide."""
    machine = state_machines(template)[0]
    steps = walk(machine.definition, SCENARIO_DATA["approved"], machine.functions)
    names = [step.function for step in steps]
    end = names.index("DecideFunction") + 1 if "DecideFunction" in names else len(names)
    return {"StarterFunction", *(n for n in names[:end] if n and not EXCLUDED.search(n))}


def _quiet_snapshot(cloud: Cloud, timeout_s: float = 30.0) -> dict[str, list[dict[str, Any]]]:
    """Invocations until the workflow has been idle for QUIET_S."""
    collected: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + timeout_s
    idle_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        batch = cloud.durations()
        if any(not EXCLUDED.search(name) for name in batch):
            idle_since = time.monotonic()
        for name, calls in batch.items():
            collected.setdefault(name, []).extend(calls)
        if time.monotonic() - idle_since >= QUIET_S:
            return collected
    raise BenchError(f"the workflow did not go quiet within {timeout_s:.0f} s")


def run() -> dict[str, dict[str, Any]]:
    count = 3 if os.environ.get("BENCH_QUICK") == "1" else 10
    template = load_template()
    scheduled = scheduled_functions(template)
    deciding = decision_functions(template)
    per_application: list[float] = []
    per_decision: list[float] = []
    per_function: dict[str, list[float]] = {}
    cold: dict[str, list[float]] = {}
    outcomes: dict[str, int] = {}
    with Cloud(max_concurrency=1) as cloud:
        warmup = Applicant(cloud, 1)
        warmup.apply()  # every environment's first invocation happens here
        _quiet_snapshot(cloud)
        for seed in range(2000, 2000 + count):
            journey = Applicant(cloud, seed).apply()
            outcomes[str(journey.decision_status)] = (
                outcomes.get(str(journey.decision_status), 0) + 1
            )
            total = decision = 0.0
            for name, calls in _quiet_snapshot(cloud).items():
                if name == "BenchEmptyFunction":
                    continue
                for call in calls:
                    if call.get("init_ms") is not None:
                        cold.setdefault(name, []).append(float(call["init_ms"]))
                    per_function.setdefault(name, []).append(float(call["ms"]))
                    if not EXCLUDED.search(name) and name not in scheduled:
                        total += float(call["ms"])
                    if name in deciding:
                        decision += float(call["ms"])
            per_application.append(total)
            per_decision.append(decision)
    if not per_application or not any(per_application):
        raise BenchError("no workflow function ran for the applications submitted")
    figures: dict[str, dict[str, Any]] = {
        "decision_compute_ms": duration_figure(
            per_decision,
            note=f"sum of handler durations up to the decision, per application ({count} "
            f"applications, one at a time; outcomes {outcomes}); functions: "
            f"{', '.join(sorted(deciding))}",
        ),
        "workflow_compute_ms": duration_figure(
            per_application,
            note="every handler the submission set off until the workflow waits (offer and "
            "contract included), OCR, the HTTP API and scheduled functions excluded",
        ),
    }
    for name, samples in sorted(per_function.items()):
        figures[f"{name}.duration_ms"] = duration_figure(
            samples, note="warm invocation, as the local runtime measured it around the worker"
        )
    for name, samples in sorted(cold.items()):
        figures[f"{name}.cold_init_ms"] = duration_figure(samples, note="init during the run")
    return figures
