"""Event sources: SQS pollers and schedules, as Lambda's event source mappings and EventBridge run them.

An SQS poller receives up to ``BatchSize`` messages, invokes the function with an ``aws:sqs`` event,
and deletes what succeeded. Like Lambda it never deletes a failed message and never changes its
visibility: the message comes back when the queue's visibility timeout ends, and the queue's redrive
policy moves it to the dead-letter queue after ``maxReceiveCount`` receives. With
``FunctionResponseTypes: [ReportBatchItemFailures]`` the function's ``batchItemFailures`` decide which
messages stay; an answer naming an unknown or empty ``itemIdentifier`` fails the whole batch, as on AWS.

Schedules (function ``Schedule``/``ScheduleV2`` events, ``AWS::Scheduler::Schedule``,
``AWS::Events::Rule`` with a ScheduleExpression) fire every ``interval_s`` seconds locally, whatever
their expression says, with an asynchronous invocation.

Step Functions' EventBridge events, which moto does not emit: :class:`ExecutionWatcher` lists the
template's state machines' executions that ended FAILED, TIMED_OUT or ABORTED about once a second,
builds for each the "Step Functions Execution Status Change" event AWS would send, and invokes every
function whose EventBridge rule pattern (function ``EventBridgeRule``/``CloudWatchEvent`` events,
``AWS::Events::Rule`` with an EventPattern) matches it — once per rule and execution.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.provision import Resources

log = logging.getLogger(__name__)

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


Invoker = Callable[[str, Any], Any]
"""(function name, event) → an object with ``payload`` and ``function_error`` (``Runtime.invoke``)."""


# -- SQS -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqsSource:
    """An SQS event source mapping of a function."""

    function: str
    queue_arn: str
    queue_url: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    batching_window_s: float = 0.0
    enabled: bool = True
    concurrency: int = 2


def sqs_sources(template: dict[str, Any], resources: Resources) -> list[SqsSource]:
    """The ``SQS`` events of the template's functions, with their queues' local URLs."""
    url_by_arn = {resources.arns[lid]: url for lid, url in resources.queue_urls.items()}
    sources = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") not in _FUNCTION_TYPES or logical_id not in resources.names:
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            properties = resources.resolve(event.get("Properties") or {})
            queue_arn = str(properties["Queue"])
            if queue_arn not in url_by_arn:
                log.warning("%s polls %s, which is not in the template", logical_id, queue_arn)
                continue
            scaling = properties.get("ScalingConfig") or {}
            sources.append(
                SqsSource(
                    function=resources.names[logical_id],
                    queue_arn=queue_arn,
                    queue_url=url_by_arn[queue_arn],
                    batch_size=int(properties.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (properties.get("FunctionResponseTypes") or []),
                    batching_window_s=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                    enabled=properties.get("Enabled", True) not in (False, "false"),
                    concurrency=min(int(scaling.get("MaximumConcurrency", 2)), 2),
                )
            )
    return sources


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds from a batch of received messages."""
    records = []
    for message in messages:
        attributes = {
            name: value
            for name, value in (message.get("Attributes") or {}).items()
            if name != "AWSTraceHeader" or value
        }
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": message.get("MD5OfBody")
                or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def failed_message_ids(
    result: Any, function_error: str | None, message_ids: list[str], *, report_failures: bool
) -> set[str]:
    """Which messages of a batch stay on the queue after the function answered ``result``."""
    everything = set(message_ids)
    if function_error:
        return everything
    if not report_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in everything:
            return everything  # an invalid answer fails the whole batch, as on AWS
        failed.add(identifier)
    return failed


@dataclass
class BatchOutcome:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    function_error: bool = False


@dataclass
class SqsPoller:
    """Polls one queue for one function (``run`` in a thread, ``poll_once`` in tests)."""

    source: SqsSource
    sqs: Any
    invoke: Invoker
    region: str = "us-east-1"
    wait_time_s: int = 1
    stats: BatchOutcome = field(default_factory=BatchOutcome)

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.source.batching_window_s
        wait = self.wait_time_s
        while len(messages) < self.source.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            wait = 0
            if not received or time.monotonic() >= deadline:
                break
        return messages

    def poll_once(self) -> BatchOutcome:
        """Receive one batch, invoke the function, delete what succeeded."""
        messages = self._receive()
        if not messages:
            return BatchOutcome()
        outcome = self.invoke(
            self.source.function, sqs_event(messages, self.source.queue_arn, self.region)
        )
        try:
            result = json.loads(outcome.payload) if outcome.payload else None
        except ValueError:
            result = None
        ids = [message["MessageId"] for message in messages]
        failed = failed_message_ids(
            result,
            outcome.function_error,
            ids,
            report_failures=self.source.report_batch_item_failures,
        )
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(chunk)
                ],
            )
        batch = BatchOutcome(len(messages), len(done), len(failed), bool(outcome.function_error))
        self.stats.received += batch.received
        self.stats.deleted += batch.deleted
        self.stats.failed += batch.failed
        if outcome.function_error:
            log.warning("%s failed a batch: %s", self.source.function, outcome.payload[:500])
        return batch

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a poller outlives a failed poll, as Lambda's does
                if stop.is_set():
                    return
                log.exception("polling %s failed", self.source.queue_url)
                stop.wait(0.5)


# -- schedules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    name: str
    function: str
    expression: str
    payload: Any
    kind: str  # "events" (EventBridge rule: a Scheduled Event) or "scheduler" (its Input)


def _function_by_arn(resources: Resources) -> dict[str, str]:
    return {
        resources.arns[logical_id]: resources.names[logical_id]
        for logical_id, resource_type in resources.types.items()
        if resource_type in _FUNCTION_TYPES
    }


def _input(value: Any, default: Any) -> Any:
    if value is None:
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _provisioned(
    template: dict[str, Any], resources: Resources
) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(logical id, type, properties) of each template resource the local cloud created."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if logical_id in resources.names:
            yield logical_id, resource.get("Type"), resource.get("Properties") or {}


def schedules(template: dict[str, Any], resources: Resources) -> list[Schedule]:
    """Every schedule that targets a function of the template."""
    functions = _function_by_arn(resources)
    found: list[Schedule] = []
    for logical_id, resource_type, properties in _provisioned(template, resources):
        if resource_type in _FUNCTION_TYPES:
            for event_id, event in (properties.get("Events") or {}).items():
                spec = resources.resolve(event.get("Properties") or {})
                if event.get("Type") == "Schedule" and spec.get("Enabled", True) not in (
                    False,
                    "false",
                ):
                    found.append(
                        Schedule(
                            f"{logical_id}{event_id}",
                            resources.names[logical_id],
                            str(spec.get("Schedule")),
                            _input(spec.get("Input"), None),
                            "events",
                        )
                    )
                elif event.get("Type") == "ScheduleV2" and spec.get("State") != "DISABLED":
                    found.append(
                        Schedule(
                            f"{logical_id}{event_id}",
                            resources.names[logical_id],
                            str(spec.get("ScheduleExpression")),
                            _input(spec.get("Input"), {}),
                            "scheduler",
                        )
                    )
        elif resource_type == "AWS::Scheduler::Schedule":
            spec = resources.resolve(properties)
            target = spec.get("Target") or {}
            if target.get("Arn") in functions and spec.get("State") != "DISABLED":
                found.append(
                    Schedule(
                        resources.names[logical_id],
                        functions[target["Arn"]],
                        str(spec.get("ScheduleExpression")),
                        _input(target.get("Input"), {}),
                        "scheduler",
                    )
                )
        elif resource_type == "AWS::Events::Rule":
            spec = resources.resolve(properties)
            if "ScheduleExpression" not in spec or spec.get("State") == "DISABLED":
                continue
            for target in spec.get("Targets") or []:
                if target.get("Arn") in functions:
                    found.append(
                        Schedule(
                            resources.names[logical_id],
                            functions[target["Arn"]],
                            str(spec["ScheduleExpression"]),
                            _input(target.get("Input"), None),
                            "events",
                        )
                    )
    return found


def scheduled_event(schedule: Schedule, resources: Resources, now: float | None = None) -> Any:
    """What the function receives when ``schedule`` fires."""
    if schedule.payload is not None:
        return schedule.payload
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": resources.account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": resources.region,
        "resources": [
            f"arn:aws:events:{resources.region}:{resources.account_id}:rule/{schedule.name}"
        ],
        "detail": {},
    }


class Scheduler:
    """Fires every schedule each ``interval_s`` seconds, one thread per schedule.

    A schedule fires again only once its previous invocation has ended: with the reserved
    concurrency of 1 and no retries that batch jobs like the payout have, an overlapping invocation
    would be throttled and dropped on AWS; locally it is simply not sent.
    """

    def __init__(
        self,
        entries: list[Schedule],
        resources: Resources,
        invoke: Callable[[str, Any], Any],
        interval_s: float,
    ) -> None:
        self.entries = entries
        self.resources = resources
        self.invoke = invoke
        self.interval_s = interval_s
        self.fired = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(entry,), name=f"schedule:{entry.name}")
            for entry in entries
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def fire(self, entry: Schedule) -> Any:
        self.fired += 1
        outcome = self.invoke(entry.function, scheduled_event(entry, self.resources))
        if getattr(outcome, "function_error", None):
            log.warning("schedule %s: %s failed: %s", entry.name, entry.function, outcome.payload)
        return outcome

    def _run(self, entry: Schedule) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.fire(entry)
            except Exception:  # the schedule keeps firing, as EventBridge does
                log.exception("schedule %s failed to fire", entry.name)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=30)


# -- EventBridge: Step Functions execution status changes -----------------------------------------

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
"""The ends the watcher reports (RUNNING and SUCCEEDED are not watched)."""
_STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule with an event pattern whose target is a function of the template."""

    name: str
    function: str
    pattern: dict[str, Any]
    max_retries: int = 2
    """Lambda retries a failed asynchronous invocation (``EventInvokeConfig``; default 2)."""


def _pattern(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def event_rules(template: dict[str, Any], resources: Resources) -> list[EventRule]:
    """Every enabled event-pattern rule that targets a function of the template."""
    functions = _function_by_arn(resources)
    found: list[EventRule] = []
    for logical_id, resource_type, properties in _provisioned(template, resources):
        if resource_type in _FUNCTION_TYPES:
            invoke_config = resources.resolve(properties.get("EventInvokeConfig") or {})
            retries = int(invoke_config.get("MaximumRetryAttempts", 2))
            for event_id, event in (properties.get("Events") or {}).items():
                if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                    continue
                spec = resources.resolve(event.get("Properties") or {})
                pattern = _pattern(spec.get("Pattern"))
                if pattern is None or not _enabled(spec):
                    continue
                name = str(spec.get("RuleName") or f"{logical_id}{event_id}")
                found.append(EventRule(name, resources.names[logical_id], pattern, retries))
        elif resource_type == "AWS::Events::Rule":
            spec = resources.resolve(properties)
            pattern = _pattern(spec.get("EventPattern"))
            if pattern is None or spec.get("State") == "DISABLED":
                continue
            for target in spec.get("Targets") or []:
                if target.get("Arn") in functions:
                    found.append(
                        EventRule(resources.names[logical_id], functions[target["Arn"]], pattern)
                    )
    return found


def _enabled(spec: dict[str, Any]) -> bool:
    return spec.get("Enabled", True) not in (False, "false") and spec.get("State") != "DISABLED"


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge content filtering, the part templates use here: every field of the pattern must
    match; a mapping matches the event's mapping field by field; a list matches when the event's
    value (or one of its values, for a list) equals one of its values or satisfies one of its
    ``{"prefix": …}`` / ``{"exists": true|false}`` filters. Any other filter does not match."""
    for key, expected in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not any(_value_matches(item, value, present) for item in expected):
                return False
        else:
            raise ValueError(f"an event pattern's {key!r} must be a list or an object")
    return True


def _value_matches(filter_: Any, value: Any, present: bool) -> bool:
    if isinstance(filter_, dict):
        if set(filter_) == {"exists"}:
            return bool(filter_["exists"]) == present
        if set(filter_) == {"prefix"} and present:
            values = value if isinstance(value, list) else [value]
            return any(isinstance(v, str) and v.startswith(filter_["prefix"]) for v in values)
        return False
    if not present:
        return False
    values = value if isinstance(value, list) else [value]
    return filter_ in values


def _epoch_ms(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime) else None


def execution_status_event(
    execution: dict[str, Any], resources: Resources, now: float | None = None
) -> dict[str, Any]:
    """The event AWS puts on the default bus when an execution changes status (``execution`` is a
    DescribeExecution answer); its time is the execution's stop date (else ``now``)."""
    moment = execution.get("stopDate")
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    output = execution.get("output")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": resources.account_id,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": resources.region,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": _epoch_ms(execution.get("startDate")),
            "stopDate": _epoch_ms(execution.get("stopDate")),
            "input": execution.get("input"),
            "inputDetails": {"included": True},
            "output": output,
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


def _may_match_step_functions(rule: EventRule) -> bool:
    """Whether the rule's ``source`` lets a Step Functions event through (others are not watched)."""
    source = {"source": rule.pattern["source"]} if "source" in rule.pattern else {}
    return matches(source, {"source": "aws.states"})


@dataclass
class _Pending:
    rule: EventRule
    event: dict[str, Any]
    attempts: int = 0


class ExecutionWatcher:
    """Turns ended executions into EventBridge deliveries (``start``/``stop``, ``poll_once`` in tests).

    ``delivered`` holds ``<rule>|<execution arn>`` of every delivery made (or given up): the cloud
    keeps it, so a watcher started again in the same cloud does not deliver an event twice. A failed
    invocation is tried again on the next polls, up to the rule's ``max_retries`` (Lambda's retries
    of an asynchronous invocation), then logged and dropped (on AWS: the function's DLQ).
    """

    def __init__(
        self,
        stepfunctions: Any,
        state_machines: list[str],
        rules: list[EventRule],
        resources: Resources,
        invoke: Invoker,
        *,
        interval_s: float = 1.0,
        delivered: set[str] | None = None,
    ) -> None:
        self.stepfunctions = stepfunctions
        self.state_machines = state_machines
        self.rules = [rule for rule in rules if _may_match_step_functions(rule)]
        self.resources = resources
        self.invoke = invoke
        self.interval_s = interval_s
        self.delivered = delivered if delivered is not None else set()
        self.deliveries = 0
        self._pending: dict[str, _Pending] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_template(
        cls,
        template: dict[str, Any],
        resources: Resources,
        stepfunctions: Any,
        invoke: Invoker,
        **options: Any,
    ) -> ExecutionWatcher:
        machines = [
            resources.arns[logical_id]
            for logical_id, resource_type in resources.types.items()
            if resource_type in _STATE_MACHINE_TYPES and logical_id not in resources.failures
        ]
        return cls(
            stepfunctions, machines, event_rules(template, resources), resources, invoke, **options
        )

    def ended_executions(self) -> list[dict[str, Any]]:
        """ListExecutions entries of every watched state machine that ended FAILED/TIMED_OUT/ABORTED."""
        found: list[dict[str, Any]] = []
        for machine in self.state_machines:
            for status in ENDED_STATUSES:
                paginator = self.stepfunctions.get_paginator("list_executions")
                for page in paginator.paginate(stateMachineArn=machine, statusFilter=status):
                    found.extend(page.get("executions", []))
        return found

    def poll_once(self) -> int:
        """Deliver the events of executions that ended since the last poll; how many were invoked."""
        if not self.rules:
            return 0
        for listed in self.ended_executions():
            arn = listed["executionArn"]
            waiting = [
                rule
                for rule in self.rules
                if f"{rule.name}|{arn}" not in self.delivered
                and f"{rule.name}|{arn}" not in self._pending
            ]
            if not waiting:
                continue
            description = self.stepfunctions.describe_execution(executionArn=arn)
            event = execution_status_event(description, self.resources)
            for rule in waiting:
                key = f"{rule.name}|{arn}"
                if matches(rule.pattern, event):
                    self._pending[key] = _Pending(rule, event)
                else:
                    self.delivered.add(key)  # judged once, as EventBridge does on the event
        invoked = 0
        for key, pending in list(self._pending.items()):
            invoked += 1
            if self._deliver(pending):
                del self._pending[key]
                self.delivered.add(key)
        return invoked

    def _deliver(self, pending: _Pending) -> bool:
        """One invocation; True when the event is done with (handled, or retries used up)."""
        pending.attempts += 1
        self.deliveries += 1
        outcome = self.invoke(pending.rule.function, pending.event)
        if not getattr(outcome, "function_error", None):
            return True
        payload = getattr(outcome, "payload", b"")
        if pending.attempts > pending.rule.max_retries:
            log.error(
                "rule %s: %s failed on %s %d times, dropped: %s",
                pending.rule.name,
                pending.rule.function,
                pending.event["detail"].get("executionArn"),
                pending.attempts,
                payload[:500],
            )
            return True
        log.warning(
            "rule %s: %s failed, will retry: %s",
            pending.rule.name,
            pending.rule.function,
            payload[:500],
        )
        return False

    def start(self) -> None:
        if not self.rules or not self.state_machines:
            return
        self._thread = threading.Thread(target=self._run, name="eventbridge:executions")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll_once()
            except Exception:  # the watcher keeps watching, as EventBridge keeps delivering
                if self._stop.is_set():
                    return
                log.exception("watching executions failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=30)
