"""SQS pollers behave as Lambda's event source mapping; schedules come from the template."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.events import (
    ExecutionWatcher,
    SqsPoller,
    event_rules,
    execution_status_event,
    failed_message_ids,
    matches,
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


# -- EventBridge events of ended executions ----------------------------------------------------

EXECUTIONS_TEMPLATE = """
Resources:
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Boom
        States:
          Boom: {Type: Fail, Error: Broken, Cause: it broke}
  Other:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Boom
        States:
          Boom: {Type: Fail, Error: Broken, Cause: elsewhere}
  Fine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Done
        States:
          Done: {Type: Pass, End: true}
  Slow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Wait
        States:
          Wait: {Type: Wait, Seconds: 600, End: true}
  Cleaner:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/cleaner/
      EventInvokeConfig: {MaximumRetryAttempts: 1}
      Events:
        Ended:
          Type: EventBridgeRule
          Properties:
            RuleName: flow-ended
            Pattern:
              source: [aws.states]
              detail-type: [Step Functions Execution Status Change]
              detail:
                status: [FAILED, TIMED_OUT, ABORTED]
                stateMachineArn: [!Ref Flow]
  Auditor:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/auditor/}
  AuditRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.states], detail: {status: [ABORTED]}}
      Targets: [{Id: audit, Arn: !GetAtt Auditor.Arn}]
  Nightly:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 day)
      Targets: [{Id: audit, Arn: !GetAtt Auditor.Arn}]
"""


class Target:
    """Functions behind the rules: records each event, fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> Outcome:
        self.events.append((function, event))
        if len(self.events) <= self.failures:
            return Outcome(b'{"errorType": "Sandbox.Timedout"}', "Unhandled")
        return Outcome(b"{}")

    def got(self) -> list[tuple[str, str, str]]:
        return [(f, e["detail"]["name"], e["detail"]["status"]) for f, e in self.events]


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resources]:
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    with mock_aws():
        yield provision(parse_template(EXECUTIONS_TEMPLATE))


def run(resources: Resources, machine: str, name: str, *, stop: bool = False) -> str:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.start_execution(
        stateMachineArn=resources.arns[machine], name=name, input=json.dumps({"id": name})
    )["executionArn"]
    if stop:
        sfn.stop_execution(executionArn=arn)
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{name} is still running"
        time.sleep(0.02)
    return arn


def watcher(resources: Resources, target: Target, delivered: set[str] | None = None):
    return ExecutionWatcher.for_template(
        parse_template(EXECUTIONS_TEMPLATE),
        resources,
        boto3.client("stepfunctions", region_name="us-east-1"),
        target,
        delivered=delivered,
    )


def test_rules_with_event_patterns_come_from_function_events_and_rule_resources() -> None:
    template = parse_template(EXECUTIONS_TEMPLATE)
    resources = plan(template)

    rules = {rule.name: rule for rule in event_rules(template, resources)}

    assert set(rules) == {"flow-ended", "loanflow-AuditRule"}  # not the scheduled rule
    cleaner = rules["flow-ended"]
    assert cleaner.function == "loanflow-Cleaner"
    assert cleaner.max_retries == 1
    assert cleaner.pattern["detail"]["stateMachineArn"] == [resources.arns["Flow"]]
    assert rules["loanflow-AuditRule"].function == "loanflow-Auditor"
    assert rules["loanflow-AuditRule"].max_retries == 2


def ended_event(**detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"status": "FAILED", "stateMachineArn": "arn:sm:Flow", **detail},
    }


LOAN_RULE = {
    "source": ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": ["arn:sm:Flow"]},
}


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        (LOAN_RULE, ended_event(), True),
        (LOAN_RULE, ended_event(status="TIMED_OUT"), True),
        (LOAN_RULE, ended_event(status="SUCCEEDED"), False),
        (LOAN_RULE, ended_event(stateMachineArn="arn:sm:Other"), False),
        (LOAN_RULE, {**ended_event(), "source": "aws.events"}, False),
        (LOAN_RULE, {**ended_event(), "detail-type": "Scheduled Event"}, False),
        (LOAN_RULE, {"source": "aws.states", "detail-type": LOAN_RULE["detail-type"][0]}, False),
        ({"detail": {"stateMachineArn": [{"prefix": "arn:sm:"}]}}, ended_event(), True),
        ({"detail": {"error": [{"exists": False}]}}, ended_event(), True),
        ({"detail": {"error": [{"exists": True}]}}, ended_event(), False),
        ({"resources": ["arn:x"]}, {"resources": ["arn:y", "arn:x"]}, True),
        ({"detail": {"status": [{"anything-but": "SUCCEEDED"}]}}, ended_event(), False),
    ],
)
def test_event_pattern_matching(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_the_event_has_the_shape_aws_sends() -> None:
    resources = plan(parse_template(EXECUTIONS_TEMPLATE))
    started = datetime(2026, 12, 3, 8, 42, 16, 847000, tzinfo=UTC)
    description = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:loanflow-Flow:app_1",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:loanflow-Flow",
        "name": "app_1",
        "status": "FAILED",
        "startDate": started,
        "stopDate": started + timedelta(seconds=5),
        "input": '{"id": "app_1"}',
        "error": "States.Runtime",
        "cause": "bad JSONPath",
    }

    event = execution_status_event(description, resources, now=0)

    assert {
        key: event[key] for key in ("version", "source", "detail-type", "account", "region")
    } == {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "account": "123456789012",
        "region": "us-east-1",
    }
    assert event["time"] == "2026-12-03T08:42:21Z"  # when it stopped
    assert event["resources"] == [description["executionArn"]]
    assert event["id"]
    assert event["detail"] == {
        "executionArn": description["executionArn"],
        "stateMachineArn": description["stateMachineArn"],
        "name": "app_1",
        "status": "FAILED",
        "startDate": 1796287336847,
        "stopDate": 1796287341847,
        "input": '{"id": "app_1"}',
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": "States.Runtime",
        "cause": "bad JSONPath",
    }


def test_each_ended_execution_reaches_the_rules_it_matches_once(executions: Resources) -> None:
    # given a failed execution of Flow, one of Other, a succeeded one and a stopped one
    failed = run(executions, "Flow", "app_1")
    run(executions, "Other", "app_2")
    run(executions, "Fine", "app_3")
    run(executions, "Slow", "app_4", stop=True)
    target = Target()
    watching = watcher(executions, target)

    watching.poll_once()
    watching.poll_once()

    assert sorted(target.got()) == [
        ("loanflow-Auditor", "app_4", "ABORTED"),
        ("loanflow-Cleaner", "app_1", "FAILED"),
    ]
    (event,) = [e for f, e in target.events if f == "loanflow-Cleaner"]
    assert event["detail"]["executionArn"] == failed
    assert (event["detail"]["error"], event["detail"]["cause"]) == ("Broken", "it broke")
    assert json.loads(event["detail"]["input"]) == {"id": "app_1"}


def test_a_restarted_watcher_does_not_deliver_again(executions: Resources) -> None:
    run(executions, "Flow", "app_1")
    delivered: set[str] = set()
    first, second = Target(), Target()
    watcher(executions, first, delivered).poll_once()

    # when the watcher is started again in the same cloud, and another execution fails
    run(executions, "Flow", "app_5")
    watcher(executions, second, delivered).poll_once()

    assert first.got() == [("loanflow-Cleaner", "app_1", "FAILED")]
    assert second.got() == [("loanflow-Cleaner", "app_5", "FAILED")]


def test_a_failed_invocation_is_retried_as_lambda_retries_asynchronous_ones(
    executions: Resources,
) -> None:
    run(executions, "Flow", "app_1")
    target = Target(failures=5)
    watching = watcher(executions, target)

    for _ in range(4):
        watching.poll_once()

    # Cleaner's EventInvokeConfig allows 1 retry: two invocations, then the event is given up
    assert target.got() == [("loanflow-Cleaner", "app_1", "FAILED")] * 2


def test_the_watcher_runs_in_a_thread_and_stops(executions: Resources) -> None:
    run(executions, "Flow", "app_1")
    target = Target()
    watching = ExecutionWatcher.for_template(
        parse_template(EXECUTIONS_TEMPLATE),
        executions,
        boto3.client("stepfunctions", region_name="us-east-1"),
        target,
        interval_s=0.05,
    )

    watching.start()
    deadline = time.monotonic() + 10
    while not target.events and time.monotonic() < deadline:
        time.sleep(0.02)
    watching.stop()

    assert target.got() == [("loanflow-Cleaner", "app_1", "FAILED")]
    assert not any(t.name == "eventbridge:executions" for t in threading.enumerate())
