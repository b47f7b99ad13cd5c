"""SQS pollers behave as Lambda's event source mapping; schedules come from the template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.events import (
    SqsPoller,
    failed_message_ids,
    scheduled_event,
    schedules,
    sqs_event,
    sqs_sources,
)
from localcloud.provision import Resources, plan, provision
from localcloud.template import parse_template

TEMPLATE = """
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 0
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 2}
  Dead:
    Type: AWS::SQS::Queue
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/consumer/
      Events:
        Lane:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
  Payer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/payer/
  PayerSchedule:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(5 minutes)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target: {Arn: !GetAtt Payer.Arn, RoleArn: arn:aws:iam::123456789012:role/x, Input: '{"source": "schedule"}'}
"""


@dataclass
class Outcome:
    payload: bytes
    function_error: str | None = None


class Consumer:
    """A function stand-in: fails the messages whose body says so."""

    def __init__(self, *, crash: bool = False, answer: Any = None) -> None:
        self.crash = crash
        self.answer = answer
        self.batches: list[list[str]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> Outcome:
        records = event["Records"]
        self.batches.append([record["body"] for record in records])
        if self.crash:
            return Outcome(b'{"errorType": "RuntimeError", "errorMessage": "boom"}', "Unhandled")
        if self.answer is not None:
            return Outcome(json.dumps(self.answer).encode())
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in records
            if record["body"].startswith("bad")
        ]
        return Outcome(json.dumps({"batchItemFailures": failures}).encode())


@pytest.fixture
def cloud() -> Iterator[Resources]:
    with mock_aws():
        yield provision(parse_template(TEMPLATE))


def poller(resources: Resources, consumer: Consumer) -> SqsPoller:
    (source,) = sqs_sources(parse_template(TEMPLATE), resources)
    return SqsPoller(source, boto3.client("sqs", region_name="us-east-1"), consumer, wait_time_s=0)


def send(resources: Resources, *bodies: str) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    for body in bodies:
        sqs.send_message(QueueUrl=resources.queue_urls["Work"], MessageBody=body)


def remaining(resources: Resources, queue: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=resources.queue_urls[queue], MaxNumberOfMessages=10)
    return sorted(message["Body"] for message in messages.get("Messages", []))


def test_source_takes_its_settings_from_the_template(cloud: Resources) -> None:
    (source,) = sqs_sources(parse_template(TEMPLATE), cloud)

    assert source.function == "loanflow-Consumer"
    assert source.queue_arn == "arn:aws:sqs:us-east-1:123456789012:loanflow-Work"
    assert source.queue_url == cloud.queue_urls["Work"]
    assert source.batch_size == 5
    assert source.report_batch_item_failures is True


def test_successful_batch_is_deleted(cloud: Resources) -> None:
    send(cloud, "one", "two", "three")
    consumer = Consumer()

    outcome = poller(cloud, consumer).poll_once()

    assert (outcome.received, outcome.deleted, outcome.failed) == (3, 3, 0)
    assert remaining(cloud, "Work") == []


def test_partial_batch_failure_keeps_only_the_failed_messages(cloud: Resources) -> None:
    send(cloud, "good-1", "bad-1", "good-2")

    outcome = poller(cloud, Consumer()).poll_once()

    assert (outcome.deleted, outcome.failed) == (2, 1)
    assert remaining(cloud, "Work") == ["bad-1"]


def test_function_error_keeps_the_whole_batch(cloud: Resources) -> None:
    send(cloud, "good-1", "good-2")

    outcome = poller(cloud, Consumer(crash=True)).poll_once()

    assert outcome.function_error is True
    assert remaining(cloud, "Work") == ["good-1", "good-2"]


def test_invalid_failure_report_fails_the_whole_batch(cloud: Resources) -> None:
    send(cloud, "good-1", "good-2")

    poller(cloud, Consumer(answer={"batchItemFailures": [{"itemIdentifier": ""}]})).poll_once()

    assert remaining(cloud, "Work") == ["good-1", "good-2"]


def test_poison_message_goes_to_the_dlq_after_max_receive_count(cloud: Resources) -> None:
    # given a message the function always fails, on a queue with maxReceiveCount 2
    send(cloud, "bad-poison", "good")
    consumer = Consumer()
    work = poller(cloud, consumer)

    # when the poller keeps polling
    for _ in range(4):
        work.poll_once()

    # then the good one was handled once, the poison one twice, and it now sits in the DLQ
    handled = [body for batch in consumer.batches for body in batch]
    assert handled.count("good") == 1
    assert handled.count("bad-poison") == 2
    assert remaining(cloud, "Dead") == ["bad-poison"]
    assert remaining(cloud, "Work") == []


def test_sqs_event_has_lambdas_record_shape() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": '{"application_id": "app_1"}',
        "MD5OfBody": "abc",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "MessageAttributes": {"lane": {"DataType": "String", "StringValue": "fast"}},
    }

    event = sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")

    (record,) = event["Records"]
    assert record["messageId"] == "m-1"
    assert record["receiptHandle"] == "r-1"
    assert record["body"] == '{"application_id": "app_1"}'
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["lane"] == {
        "stringValue": "fast",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:q"
    assert record["awsRegion"] == "us-east-1"


@pytest.mark.parametrize(
    ("result", "error", "report", "expected"),
    [
        (None, None, True, set()),
        ({"batchItemFailures": []}, None, True, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, None, True, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, None, False, set()),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, None, True, {"a", "b"}),
        ({"batchItemFailures": [{}]}, None, True, {"a", "b"}),
        ({}, "Unhandled", True, {"a", "b"}),
    ],
)
def test_which_messages_stay(result: Any, error: str | None, report: bool, expected: set[str]):
    assert failed_message_ids(result, error, ["a", "b"], report_failures=report) == expected


def test_schedules_from_function_events_and_scheduler_resources() -> None:
    template = parse_template(TEMPLATE)
    resources = plan(template)

    found = {schedule.function: schedule for schedule in schedules(template, resources)}

    assert found["loanflow-Payer"].payload == {"source": "schedule"}
    assert found["loanflow-Payer"].expression == "rate(5 minutes)"
    nightly = found["loanflow-Consumer"]
    event = scheduled_event(nightly, resources, now=0)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "1970-01-01T00:00:00Z"
