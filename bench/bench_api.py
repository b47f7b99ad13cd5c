"""The product's speed against the local cloud, over HTTP, as applicants see it.

- ``decision.c{1,4,16}_ms``: SUBMITTED → the decided status (APPROVED, DECLINED, IN_REVIEW), from
  the application's own timeline (server clock), with 1, 4 and 16 applicants at once (each polls
  every 200 ms, as an app would; a warm-up application goes first and is not counted);
  references: the 10 s quoted for the seed's app and MYbank's 1 s approval;
- ``decision.c{1,4,16}_per_s``: decisions per second at that concurrency (wall clock);
- ``funds.instant_ms`` / ``funds.batch_ms``: submission → FUNDED, the contract signed the moment it
  is offered, per payout path (reference: the 3 minutes the industry quotes); the batch path waits
  for the payout schedule, which runs every ``PAYOUT_INTERVAL_S`` here; the bank simulator answers
  every request in 200 ms (``bench.cloudrunner --bank-latency-ms``);
- ``funds.instant_sign_to_sent_ms``: SIGNED → FUNDED on the instant path (target p99 ≤ 2 s);
- ``overhead.*``: the local cloud's own cost, measured with the same runtime and moto: an empty
  Lambda invoke through the Invoke API, a Pass-only state machine as long as the decision path, a
  one-Task state machine calling the empty function, and a 404 through the HTTP front. Compare them
  with the decision latency to see what is the product and what is the emulator.

An application that does not finish in time is counted in the figure's note ("unfinished"), never
given a made-up latency. The applicants, the HTTP front and the local cloud share the machine's
cores; ``machine.load_average_at_start`` in latest.json says how busy it was.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import duration_figure, value_figure
from bench.driver import Applicant, BenchError, Cloud, Journey
from costmodel.model import SCENARIO_DATA, state_machines, walk
from loanflow.ids import new_id
from localcloud.template import load_template

PAYOUT_INTERVAL_S = 5.0
DECISION_REFERENCE_MS = 10_000.0
MYBANK_REFERENCE_MS = 1_000.0
FUNDS_REFERENCE_MS = 180_000.0


def _quick() -> bool:
    return os.environ.get("BENCH_QUICK") == "1"


def _plan() -> dict[int, int]:
    """Applications per concurrency level."""
    return {1: 3, 4: 4, 16: 16} if _quick() else {1: 6, 4: 12, 16: 32}


def _attempt(step: Any) -> Journey | BenchError:
    try:
        journey: Journey = step()
    except BenchError as error:
        return error
    return journey


def _run_level(
    cloud: Cloud, concurrency: int, count: int, seed: int
) -> tuple[list[Journey], list[str], float]:
    applicants = [Applicant(cloud, seed + i) for i in range(count)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(lambda a: _attempt(a.apply), applicants))
    wall_s = time.monotonic() - started
    journeys = [o for o in outcomes if isinstance(o, Journey)]
    failures = [str(o) for o in outcomes if isinstance(o, BenchError)]
    return journeys, failures, wall_s


def _count(outcomes: dict[str, int], key: str) -> None:
    outcomes[key] = outcomes.get(key, 0) + 1


def _decision_figures(cloud: Cloud) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    seed = 1000
    Applicant(cloud, seed - 1).apply()  # warm-up: every function's first invocation, not counted
    for concurrency, count in _plan().items():
        journeys, failures, wall_s = _run_level(cloud, concurrency, count, seed)
        seed += count
        latencies = [j.decision_ms for j in journeys if j.decision_ms is not None]
        if not latencies:
            raise BenchError(f"no decision at concurrency {concurrency}: {failures[:3]}")
        outcomes: dict[str, int] = {}
        for journey in journeys:
            _count(outcomes, str(journey.decision_status))
        if failures:
            outcomes["unfinished"] = len(failures)
        figures[f"decision.c{concurrency}_ms"] = duration_figure(
            latencies,
            reference=DECISION_REFERENCE_MS,
            reference_label="10 s quoted for the seed's app",
            note=f"{count} applications, {concurrency} at once; outcomes {outcomes}; "
            f"vs MYbank's 1 s: p50/1 s = {statistics.median(latencies) / MYBANK_REFERENCE_MS:.3g}",
        )
        figures[f"decision.c{concurrency}_per_s"] = value_figure(
            len(latencies) / wall_s,
            unit="decisions/s",
            higher_is_better=True,
            note=f"{len(latencies)} decisions in {wall_s:.1f} s of wall clock",
        )
    return figures


def _funds_figures(cloud: Cloud) -> dict[str, dict[str, Any]]:
    """Applicants who sign at once, in waves of 4, until both payout channels have been seen
    twice (or the budget is spent); submission → FUNDED per channel."""
    budget = 8 if _quick() else 16
    wanted = ("instant", "batch")
    by_channel: dict[str, list[float]] = {}
    sign_to_sent: list[float] = []
    outcomes: dict[str, int] = {}

    def one(seed: int) -> Journey:
        applicant = Applicant(cloud, seed)
        return applicant.take_funds(applicant.apply())

    seed, tried = 5000, 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        while tried < budget and any(len(by_channel.get(c, [])) < 2 for c in wanted):
            wave = list(range(seed, seed + 4))
            seed, tried = seed + 4, tried + 4
            for attempt in pool.map(lambda n: _attempt(lambda: one(n)), wave):
                if isinstance(attempt, BenchError):
                    _count(outcomes, "unfinished")
                    continue
                _count(outcomes, str(attempt.final_status))
                if attempt.funds_ms is not None:
                    channel = attempt.payout_mode or "unknown"
                    by_channel.setdefault(channel, []).append(attempt.funds_ms)
                if attempt.sign_to_funds_ms is not None and attempt.payout_mode == "instant":
                    sign_to_sent.append(attempt.sign_to_funds_ms)
    figures: dict[str, dict[str, Any]] = {}
    for channel in sorted({*wanted, *by_channel}):
        samples = by_channel.get(channel)
        if not samples:
            figures[f"funds.{channel}_ms"] = {
                "unit": "ms",
                "error": f"no {channel}-path loan funded among {tried} applicants: {outcomes}",
            }
            continue
        figures[f"funds.{channel}_ms"] = duration_figure(
            samples,
            reference=FUNDS_REFERENCE_MS,
            reference_label="3 minutes quoted by the industry",
            note=f"SUBMITTED → FUNDED, signed at once; payout schedule every "
            f"{PAYOUT_INTERVAL_S:g} s here; outcomes of {tried} applicants: {outcomes}",
        )
    if sign_to_sent:
        figures["funds.instant_sign_to_sent_ms"] = duration_figure(
            sign_to_sent,
            reference=2000.0,
            reference_label="issue 6 target: p99 ≤ 2 s after signature",
            note="SIGNED → FUNDED on the instant path (Disburse resumed, the bank transfer, the "
            "ledger, FUNDED), bank simulator answering in 200 ms",
        )
    return figures


def _decision_path_length() -> int:
    """States the approved path enters before its first callback (what a Pass-only twin mimics)."""
    machine = state_machines(load_template())[0]
    steps = walk(machine.definition, SCENARIO_DATA["approved"], machine.functions)
    first_callback = next((i for i, s in enumerate(steps) if s.callback), len(steps))
    return max(1, first_callback)


def _execute(sfn: Any, arn: str, timeout_s: float = 60.0) -> float:
    started = time.perf_counter()
    execution = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input="{}")
    deadline = time.monotonic() + timeout_s
    while True:
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
        if status != "RUNNING":
            if status != "SUCCEEDED":
                raise BenchError(f"overhead state machine ended {status}")
            return (time.perf_counter() - started) * 1000
        if time.monotonic() > deadline:
            raise BenchError("overhead state machine did not finish")
        time.sleep(0.005)


def _overhead_figures(cloud: Cloud) -> dict[str, dict[str, Any]]:
    import json

    samples = 10 if _quick() else 30
    runs = 5 if _quick() else 15
    lam = cloud.boto_client("lambda")
    empty_arn = cloud.info["empty_function_arn"]
    invoke_ms = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = lam.invoke(FunctionName=empty_arn, Payload=b"{}")
        answer["Payload"].read()
        invoke_ms.append((time.perf_counter() - started) * 1000)

    sfn = cloud.boto_client("stepfunctions")
    role = f"arn:aws:iam::{cloud.info['account_id']}:role/bench"
    length = _decision_path_length()
    pass_states = {
        f"S{i}": {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < length - 1 else {"End": True})}
        for i in range(length)
    }
    pass_arn = sfn.create_state_machine(
        name=f"bench-pass-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "S0", "States": pass_states}),
        roleArn=role,
    )["stateMachineArn"]
    task_arn = sfn.create_state_machine(
        name=f"bench-task-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": empty_arn, "End": True}}}
        ),
        roleArn=role,
    )["stateMachineArn"]
    pass_ms = [_execute(sfn, pass_arn) for _ in range(runs)]
    task_ms = [_execute(sfn, task_arn) for _ in range(runs)]

    applicant = Applicant(cloud, 9)
    missing_ms = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = applicant._call("GET", f"/applications/{new_id('app')}")
        if answer.status_code != 404:
            raise BenchError(f"GET a missing application → {answer.status_code}")
        missing_ms.append((time.perf_counter() - started) * 1000)

    return {
        "overhead.empty_lambda_invoke_ms": duration_figure(
            invoke_ms, note="Invoke API on the moto port → the local runtime's warm worker → back"
        ),
        "overhead.pass_state_machine_ms": duration_figure(
            pass_ms,
            note=f"{length} Pass states (the decision path's length) in moto's interpreter, "
            "start → SUCCEEDED seen by polling every 5 ms",
        ),
        "overhead.one_lambda_task_ms": duration_figure(
            task_ms, note="one Task state invoking the empty function, start → SUCCEEDED"
        ),
        "overhead.http_get_missing_application_ms": duration_figure(
            missing_ms,
            note="HTTP front + JWT check + ApiFunction + one DynamoDB GetItem on moto → 404",
        ),
    }


def run() -> dict[str, dict[str, Any]]:
    with Cloud(payout_interval_s=PAYOUT_INTERVAL_S, max_concurrency=4) as cloud:
        figures: dict[str, dict[str, Any]] = {
            "local_cloud_start_s": value_figure(
                cloud.info["started_s"], unit="s", note="LocalCloud.start(): moto, provision, warm"
            )
        }
        figures.update(_overhead_figures(cloud))
        try:
            figures.update(_decision_figures(cloud))
        except BenchError as error:
            figures["decision"] = {"unit": "ms", "error": str(error)}
        figures.update(_funds_figures(cloud))
        cloud.durations()  # not needed here; keeps the runner's record small
    return figures
