"""Faults on the local cloud: partners down or flaky, functions raising or throttled, duplicate and
re-driven messages, pollers restarted — and afterwards nothing stuck, nothing paid twice or unpaid.

One campaign (module scope) drives seeded applicants through the HTTP API while faults are active;
the tests below check its outcome, and the last one writes ``build/security/faults.json``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from loanflow_cli import main as cli
from loanflow_cli.reconcile import discover, reconcile_target
from localcloud.applicants import applicants
from localcloud.cloud import LocalCloud
from localcloud.demo import DECIDED, TERMINAL, Driver, Journey
from tests.faults.conftest import Faults

WAITING = frozenset({"IN_REVIEW", "AWAITING_SIGNATURE"})
REPORT = Path(__file__).resolve().parents[2] / "build" / "security" / "faults.json"
BUREAU_DOWN_N = 3
MAIN_N = 8


class FaultyDriver(Driver):
    """The demo's driver, counting 5xx answers and sending a submitted application's intake
    message again (a duplicate SQS delivery) for the users listed in ``duplicate``."""

    def __init__(self, cloud: LocalCloud, faults: Faults, **kwargs: Any) -> None:
        super().__init__(cloud.url, cloud.token, **kwargs)
        self.cloud = cloud
        self.faults = faults
        self.duplicate: set[str] = set()
        self.watch: set[str] = set()
        """Users whose application has not been decided yet (watched while the bureau is down)."""
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self._lock = threading.Lock()

    def call(self, method: str, path: str, *, user: str, **kwargs: Any) -> tuple[int, Any]:
        status, body = super().call(method, path, user=user, **kwargs)
        with self._lock:
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors.append(f"{method} {path} → {status} {str(body)[:200]}")
        decided = isinstance(body, dict) and body.get("status") in DECIDED | {"FAILED"}
        if method == "GET" and user in self.watch and decided:
            self.watch.discard(user)
        if (
            method == "POST"
            and path.endswith("/submit")
            and status == 202
            and user in self.duplicate
        ):
            self._send_again(path.split("/")[2])
        return status, body

    def _send_again(self, application_id: str) -> None:
        """The same intake message twice more, on both lanes (the starter must start it once)."""
        assert self.cloud.resources is not None
        sqs = self.cloud.client("sqs")
        for queue, lane in (("IntakeQueue", "standard"), ("FastIntakeQueue", "fast")):
            body = json.dumps({"application_id": application_id, "lane": lane})
            sqs.send_message(QueueUrl=self.cloud.resources.queue_urls[queue], MessageBody=body)
            self.faults.count("sqs_duplicate_delivery")


def _status(driver: Driver, journey: Journey) -> str:
    code, body = driver.call("GET", f"/applications/{journey.application_id}", user=journey.user)
    assert code == 200, body
    return str(body["status"])


def _dynamodb_throttle(cloud: LocalCloud, n: int) -> int:
    """Have the moto server throttle its next ``n`` DynamoDB requests; how many of the previous
    setting were left unused."""
    left = requests.get(cloud.moto_url + "/_localcloud/faults", timeout=10).json()
    requests.post(
        cloud.moto_url + "/_localcloud/faults", json={"throttle_dynamodb": n}, timeout=10
    ).raise_for_status()
    return int(left["throttle_dynamodb"])


@pytest.fixture(scope="module")
def campaign(
    local_cloud: LocalCloud, faults: Faults, driven: list[dict[str, Any]]
) -> dict[str, Any]:
    cloud = local_cloud
    assert cloud.bureau is not None
    assert cloud.bank is not None
    assert cloud.runtime is not None
    driver = FaultyDriver(cloud, faults, poll_s=0.3, decision_timeout_s=45, funds_timeout_s=45)
    people = [(i, profile, body) for i, (profile, body) in enumerate(applicants(40, seed=8))]
    steady = [p for p in people if p[1] == "steady"][:BUREAU_DOWN_N]
    others = [p for p in people if p not in steady][:MAIN_N]
    driven.extend(body for _, _, body in steady + others)
    started = time.monotonic()

    # 1. The bureau down (every call 503) while three steady applicants are decided: the workflow
    #    must refer them to a person, not decline them. Once they are decided, the bureau is back.
    pool = ThreadPoolExecutor(max_workers=len(steady) + len(others), thread_name_prefix="applicant")
    cloud.bureau.app.failure_rate = 1.0
    faults.count("bureau_down_phase")
    driver.watch = {f"demo-user-{i:04d}" for i, _, _ in steady}
    bureau_down_futures = [pool.submit(driver.run, *p) for p in steady]
    deadline = time.monotonic() + 45
    while driver.watch and time.monotonic() < deadline:
        time.sleep(0.2)
    cloud.bureau.app.failure_rate = 0.0

    # 2. Everything else at once: the bank failing 30 % (half after executing) and hanging after
    #    executing (its client times out at 3 s), validation and decision throttled on the
    #    Invoke API, the score function raising for one application, duplicate intake messages,
    #    the pollers restarted twice mid-flight.
    bank = cloud.bank.app
    bank.failure_rate, bank.timeout_rate, bank.hang_s = 0.3, 0.1, 3.5
    bank.hang_next = 1  # at least one transfer executed and then not answered in time
    names = {pool.spec.logical_id: name for name, pool in cloud.runtime.pools.items()}
    # No more throttles per function than its task's Retry has attempts left (3 retries): each
    # throttled invocation must succeed in the end, however they fall on the applications.
    faults.throttle.update({names["ValidateApplicantFunction"]: 3, names["DecideFunction"]: 3})
    faults.raise_in["ScoreFunction"] = "*"
    driver.duplicate = {f"demo-user-{i:04d}" for i, _, _ in others[:3]}

    stop_restarting = threading.Event()

    def restart_pollers() -> None:
        for _ in range(2):
            if stop_restarting.wait(2.5):
                return
            cloud.restart_pollers()
            faults.count("poller_restarted")

    def throttle_dynamodb() -> None:
        """Bursts of 2 DynamoDB throttles (fewer than the SDK's 4 attempts: each is retried)."""
        for _ in range(6):
            left = _dynamodb_throttle(cloud, 2)
            faults.count("dynamodb_throttled", 2 - left)  # what the previous burst used
            if stop_restarting.wait(1.5):
                break
        faults.count("dynamodb_throttled", 2 - _dynamodb_throttle(cloud, 0))

    _dynamodb_throttle(cloud, 0)
    restarter = threading.Thread(target=restart_pollers, name="restart-pollers")
    throttler = threading.Thread(target=throttle_dynamodb, name="throttle-dynamodb")
    restarter.start()
    throttler.start()
    main_futures = [pool.submit(driver.run, *p) for p in others]
    bureau_down = [future.result() for future in bureau_down_futures]
    main = [future.result() for future in main_futures]
    pool.shutdown()
    stop_restarting.set()
    restarter.join()
    throttler.join()
    bank.failure_rate = bank.timeout_rate = 0.0
    bank.release_hanging()

    journeys = bureau_down + main
    return {
        "driver": driver,
        "bureau_down": bureau_down,
        "main": main,
        "journeys": journeys,
        "bank": {
            "calls": bank.state.calls,
            "injected_failures": bank.state.injected_failures,
            "injected_timeouts": bank.state.injected_timeouts,
        },
        "wall_s": time.monotonic() - started,
    }


def test_with_the_bureau_down_applications_go_to_review_not_decline(
    campaign: dict[str, Any],
) -> None:
    for journey in campaign["bureau_down"]:
        assert journey.error is None, journey
        assert "IN_REVIEW" in journey.statuses, journey.statuses
        assert journey.outcome != "decline", journey


def test_faults_were_really_injected(campaign: dict[str, Any], faults: Faults) -> None:
    assert faults.injected["lambda_raised"] == 1
    assert faults.injected["lambda_throttled"] >= 3  # validation's 3; decision's as far as reached
    assert faults.injected["sqs_duplicate_delivery"] == 6
    assert faults.injected["poller_restarted"] == 2
    assert faults.injected["dynamodb_throttled"] >= 4
    assert campaign["bank"]["injected_timeouts"] >= 1


def _execution_story(cloud: LocalCloud, journey: Journey, status: str) -> str:
    """Where an application's execution ended, for an assertion message."""
    assert cloud.resources is not None
    sfn = cloud.client("stepfunctions")
    machine = cloud.resources.arns["LoanApplicationStateMachine"]
    arn = machine.replace(":stateMachine:", ":execution:") + f":{journey.application_id}"
    execution = sfn.describe_execution(executionArn=arn)
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=8)["events"]
    story = [
        f"{e['type']} {json.dumps({k: v for k, v in e.items() if k.endswith('Details')})[:400]}"
        for e in events
    ]
    return "\n".join(
        [f"{journey.application_id} {status} {journey.statuses} {execution['status']}", *story]
    )


def test_every_application_ends_terminal_or_legitimately_waiting(
    campaign: dict[str, Any], faults: Faults, local_cloud: LocalCloud
) -> None:
    driver = campaign["driver"]
    for journey in campaign["journeys"]:
        assert journey.application_id, journey
        status = _status(driver, journey)
        assert status in TERMINAL | WAITING, _execution_story(local_cloud, journey, status)
        if journey.application_id in faults.raised_for:
            assert status == "FAILED", journey.statuses  # caught, recorded: not left running
        else:  # every other fault is absorbed by retries, idempotency or a person
            assert journey.error is None, journey
            assert status != "FAILED", _execution_story(local_cloud, journey, status)


def test_no_execution_is_left_running_except_those_waiting_for_a_person(
    campaign: dict[str, Any], local_cloud: LocalCloud
) -> None:
    assert local_cloud.resources is not None
    sfn = local_cloud.client("stepfunctions")
    arn = local_cloud.resources.arns["LoanApplicationStateMachine"]
    by_id = {j.application_id: j for j in campaign["journeys"]}
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert Counter(e["name"] for e in executions).most_common(1)[0][1] == 1  # duplicates: one each
    running = [e["name"] for e in executions if e["status"] == "RUNNING"]
    for name in running:
        journey = by_id[name]
        assert _status(campaign["driver"], journey) in WAITING, (name, journey.statuses)
    campaign["running_waiting"] = len(running)


def test_reconcile_reports_no_duplicated_and_no_unpaid_payout(
    campaign: dict[str, Any], local_cloud: LocalCloud
) -> None:
    args = cli.build_parser().parse_args(["reconcile", "--local", local_cloud.url])
    report = reconcile_target(discover(args))  # through GET /_localcloud/info
    campaign["reconcile"] = report
    funded = sum(j.status == "FUNDED" for j in campaign["journeys"])
    assert funded >= 5
    assert report["duplicated"] == 0, report
    assert report["unpaid"] == 0, report
    assert report["clean"], report


def test_no_5xx_reached_an_applicant(campaign: dict[str, Any]) -> None:
    assert campaign["driver"].server_errors == []


def test_a_dead_lettered_intake_message_is_redriven_and_the_application_proceeds(
    campaign: dict[str, Any], local_cloud: LocalCloud, driven: list[dict[str, Any]]
) -> None:
    """The starter's queue is not consumed (its mapping disabled) and its message dead-lettered;
    once the cause is fixed, ``loanflow dlq redrive --local URL`` puts it back and it runs."""
    cloud, driver = local_cloud, campaign["driver"]
    assert cloud.resources is not None
    sqs = cloud.client("sqs")
    urls = cloud.resources.queue_urls
    (_, body), journey = applicants(1, seed=99)[0], Journey(0, "steady", "dlq-user")
    driven.append(body)
    cloud.stop_pollers()
    try:
        code, created = driver.call(
            "POST",
            "/applications",
            user=journey.user,
            body=body,
            headers={"Idempotency-Key": "faults-dlq-1"},
        )
        assert code == 201, created
        journey.application_id = created["id"]
        code, _ = driver.call("POST", f"/applications/{created['id']}/submit", user=journey.user)
        assert code == 202
        dead = _dead_letter(sqs, urls, [urls["IntakeQueue"], urls["FastIntakeQueue"]])
    finally:
        cloud.restart_pollers()
    assert _status(driver, journey) == "SUBMITTED"

    assert cli.main(["dlq", "list", "--local", cloud.url, "--json"]) == 0
    assert (
        cli.main(
            ["dlq", "redrive", "--local", cloud.url, "--queue", dead["dlq"], "--to", dead["source"]]
        )
        == 0
    )
    campaign["dlq_redriven"] = 1
    deadline = time.monotonic() + 40
    while _status(driver, journey) in ("SUBMITTED", "IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _status(driver, journey) not in ("SUBMITTED", "IN_PROGRESS")


def _dead_letter(sqs: Any, urls: dict[str, str], sources: list[str]) -> dict[str, str]:
    """Move the one waiting intake message to its DLQ, as SQS does after maxReceiveCount."""
    for source in sources:
        messages = sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            continue
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])[
                "Attributes"
            ]["RedrivePolicy"]
        )
        dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
        dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
        sqs.send_message(QueueUrl=dlq_url, MessageBody=messages[0]["Body"])
        sqs.delete_message(QueueUrl=source, ReceiptHandle=messages[0]["ReceiptHandle"])
        return {"dlq": dlq_name, "source": source.rsplit("/", 1)[-1]}
    raise AssertionError("the submitted application's intake message is in neither queue")


def test_write_the_figures(campaign: dict[str, Any], faults: Faults) -> None:
    journeys: list[Journey] = campaign["journeys"]
    driver = campaign["driver"]
    final = Counter(_status(driver, j) for j in journeys)
    reconcile = campaign.get("reconcile") or {}
    figures = {
        "command": ".venv/bin/pytest tests/faults -q",
        "faults_injected": {
            **dict(faults.injected),
            "bank_failures_503": campaign["bank"]["injected_failures"],
            "bank_timeouts_after_executing": campaign["bank"]["injected_timeouts"],
            "dlq_redriven": campaign.get("dlq_redriven", 0),
        },
        "applications": len(journeys),
        "final_status": dict(final),
        "terminal": sum(final[s] for s in TERMINAL),
        "waiting": sum(final[s] for s in WAITING),
        "stuck": sum(n for s, n in final.items() if s not in TERMINAL | WAITING),
        "executions_running_while_waiting": campaign.get("running_waiting"),
        "payouts": {
            k: reconcile.get(k) for k in ("loans", "paid", "unpaid", "duplicated", "mismatches")
        },
        "http_status_counts": {str(k): v for k, v in sorted(driver.statuses.items())},
        "http_5xx_seen": len(driver.server_errors),
        "bank_calls": campaign["bank"]["calls"],
        "wall_s": round(campaign["wall_s"], 1),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2) + "\n")
    assert figures["stuck"] == 0
