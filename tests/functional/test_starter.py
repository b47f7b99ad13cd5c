"""StarterFunction: one execution per application, duplicates absorbed, bad records reported."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import FakeLambdaContext
from tests.support.handlers import load_handler_module

APP_ID = "app_01JDZ8Q7Y0000000000000000A"


@pytest.fixture
def starter(resources: Any) -> Any:
    from loanflow import submission

    submission.starter_settings.cache_clear()
    yield load_handler_module("starter")
    submission.starter_settings.cache_clear()


def record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764748800000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764748800001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:loanflow-IntakeQueue",
        "awsRegion": "us-east-1",
    }


def test_the_sample_event_starts_its_execution(starter, resources):
    from tests.support.apigw import load_event

    answer = starter.handler(load_event("starter_sqs.json"), FakeLambdaContext())

    assert answer == {"batchItemFailures": []}
    machine = resources.arns["LoanApplicationStateMachine"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert [e["name"] for e in executions["executions"]] == [APP_ID]


def test_duplicates_start_one_execution_and_bad_records_are_retried(starter, resources):
    good = json.dumps({"application_id": APP_ID, "lane": "fast"})
    event = {
        "Records": [
            record("m1", good),
            record("m2", good),  # a duplicate delivery
            record("m3", "{not json"),
        ]
    }

    answer = starter.handler(event, FakeLambdaContext("loanflow-StarterFunction"))

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    machine = resources.arns["LoanApplicationStateMachine"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert [e["name"] for e in executions["executions"]] == [APP_ID]
    started = boto3.client("stepfunctions").describe_execution(
        executionArn=executions["executions"][0]["executionArn"]
    )
    assert json.loads(started["input"]) == {"application_id": APP_ID, "lane": "fast"}
