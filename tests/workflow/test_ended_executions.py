"""Executions that end without RecordFailure, on the real ASL: the application is failed from the
execution's EventBridge event (delivered here as the local cloud's watcher delivers it, to the
target of the template's rule); and a task that times out once is simply run again."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3

from localcloud.events import ExecutionWatcher
from tests.conftest import FakeLambdaContext, template
from tests.support.decisioning import find_applicant
from tests.support.identities import application_body
from tests.support.stepfunctions import visited_states, wait_for


class SandboxTimedout(Exception):
    """What Lambda reports when a function runs past its Timeout (``errorType``)."""


SandboxTimedout.__name__ = "Sandbox.Timedout"


def deliver_ended_executions(cloud: Any) -> list[tuple[str, dict[str, Any]]]:
    """One pass of the local cloud's watcher: each ended execution's event to the rule's target."""
    delivered: list[tuple[str, dict[str, Any]]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        delivered.append((function, event))
        headers: dict[str, str] = {}
        payload = cloud.lambdas.invoke(function, json.dumps(event), headers)
        return SimpleNamespace(
            payload=payload.encode(), function_error=headers.get("x-amz-function-error")
        )

    watcher = ExecutionWatcher.for_template(
        template(), cloud.resources, boto3.client("stepfunctions", region_name="us-east-1"), invoke
    )
    watcher.poll_once()
    return delivered


def start(cloud: Any, body: dict[str, Any]) -> str:
    application_id = cloud.create(body)
    assert cloud.submit(application_id)[0] == 202
    assert cloud.drain_intake() == 1
    return application_id


def test_record_failure_failing_every_attempt_is_caught_up_by_the_ended_execution_event(cloud):
    # given a Decide that crashes and a RecordFailure that cannot write (DynamoDB overloaded)
    cloud.lambdas.fail("decide", RuntimeError("policy engine crashed"))
    cloud.lambdas.fail("workflow_failed", TimeoutError("Read timeout on endpoint URL: dynamodb"))
    application_id = start(cloud, application_body())

    execution = wait_for(cloud.execution_arn(application_id))

    # then the execution ends FAILED, and nothing recorded it on the application
    assert execution["status"] == "FAILED"
    assert visited_states(execution["executionArn"])[-2:] == ["RecordFailure", "Failed"]
    assert cloud.application(application_id).status == "IN_PROGRESS"

    # when EventBridge delivers the execution's status change
    delivered = deliver_ended_executions(cloud)

    # then the rule's target failed the application with the execution's error
    assert [function for function, _ in delivered] == [
        cloud.resources.names["ExecutionEndedFunction"]
    ]
    app = cloud.application(application_id)
    assert app.status == "FAILED"
    assert app.failure_reason.startswith("execution FAILED: ApplicationFailed")
    # and a second delivery of the same event changes nothing
    _, event = delivered[0]
    answer = cloud.lambdas.module(cloud.resources.names["ExecutionEndedFunction"]).handler(
        event, FakeLambdaContext()
    )
    assert answer == {"application_id": application_id, "status": "FAILED", "changed": False}


def test_the_event_after_record_failure_keeps_the_recorded_reason(cloud):
    # given a Decide that crashes: RecordFailure fails the application with the task's error
    cloud.lambdas.fail("decide", RuntimeError("policy engine crashed"))
    application_id = start(cloud, application_body())
    assert wait_for(cloud.execution_arn(application_id))["status"] == "FAILED"

    (_, event), *_ = deliver_ended_executions(cloud)

    assert event["detail"]["name"] == application_id
    app = cloud.application(application_id)
    assert app.status == "FAILED"
    assert app.failure_reason.startswith("RuntimeError")


def test_a_decide_that_times_out_once_is_run_again_and_decides(cloud):
    # given an applicant the policy declines, and a Decide whose first run times out
    body = find_applicant(lambda verdict: verdict.outcome == "declined")
    name = cloud.resources.names["DecideFunction"]
    calls: list[dict[str, Any]] = []

    def slow_once(event: dict[str, Any]) -> Any:
        calls.append(event)
        if len(calls) == 1:
            raise SandboxTimedout("Task timed out after 10.00 seconds")
        return cloud.lambdas.module(name).handler(event, FakeLambdaContext(name))

    cloud.lambdas.overrides["decide"] = slow_once
    application_id = start(cloud, body)

    execution = wait_for(cloud.execution_arn(application_id))

    assert execution["status"] == "SUCCEEDED"
    assert len(calls) == 2
    assert cloud.application(application_id).status == "DECLINED"
    assert "RecordFailure" not in visited_states(execution["executionArn"])
