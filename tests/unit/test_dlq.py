"""``loanflow dlq``: DLQs found from the template's redrive policies, messages moved back intact."""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
import pytest

from loanflow_cli import dlq


@pytest.fixture
def sqs(resources: Any) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def _url(sqs: Any, name: str) -> str:
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def _dlq_of(sqs: Any, source_logical_id: str, resources: Any) -> dlq.DeadLetterQueue:
    source = _url(sqs, resources.names[source_logical_id])
    return next(q for q in dlq.dead_letter_queues(sqs) if source in q.sources)


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
    ).get("Messages", []):
        out.extend(batch)
    return out


def test_every_template_queue_with_a_redrive_policy_has_its_dlq_listed(
    sqs: Any, resources: Any
) -> None:
    queues = dlq.dead_letter_queues(sqs)
    intake = _dlq_of(sqs, "IntakeQueue", resources)
    assert _url(sqs, resources.names["FastIntakeQueue"]) in intake.sources
    assert all(q.sources for q in queues)
    assert all(q.depth == 0 for q in queues)


def test_redrive_moves_every_message_back_once_with_its_attributes(
    sqs: Any, resources: Any
) -> None:
    dead = _dlq_of(sqs, "IntakeQueue", resources)
    source = _url(sqs, resources.names["IntakeQueue"])
    bodies = {json.dumps({"application_id": f"app-{i}"}) for i in range(23)}
    for body in bodies:
        sqs.send_message(
            QueueUrl=dead.url,
            MessageBody=body,
            MessageAttributes={"lane": {"DataType": "String", "StringValue": "standard"}},
        )

    dry = dlq.redrive(sqs, queue_name=dead.name, to=source, dry_run=True)
    assert dry[0].would_move == 23
    assert dry[0].moved == 0

    results = dlq.redrive(sqs, queue_name=dead.name, to=resources.names["IntakeQueue"])
    assert [r.moved for r in results] == [23]
    assert results[0].method == "receive-send-delete"  # moto has no StartMessageMoveTask
    moved = _drain(sqs, source)
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert {m["MessageAttributes"]["lane"]["StringValue"] for m in moved} == {"standard"}
    assert _drain(sqs, dead.url) == []


def test_a_dlq_with_two_sources_needs_to(sqs: Any, resources: Any) -> None:
    dead = _dlq_of(sqs, "IntakeQueue", resources)
    sqs.send_message(QueueUrl=dead.url, MessageBody="{}")
    with pytest.raises(SystemExit, match="--to"):
        dlq.redrive(sqs, queue_name=dead.name)
    dry = dlq.redrive(sqs, queue_name=dead.name, dry_run=True)  # names the choices, moves nothing
    assert dry[0].source.startswith("--to ")
    assert dry[0].would_move == 1
    with pytest.raises(SystemExit, match="not a dead-letter queue"):
        dlq.redrive(sqs, queue_name=resources.names["IntakeQueue"])


def test_redrive_all_skips_empty_queues_and_the_cli_prints_json(
    sqs: Any, resources: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dlq, "sqs_client", lambda args: sqs)
    parser = argparse.ArgumentParser()
    dlq.register(parser.add_subparsers())
    args = parser.parse_args(["dlq", "redrive", "--all", "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out) == []

    args = parser.parse_args(["dlq", "list", "--json"])
    assert args.func(args) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {q["name"] for q in listed} == {q.name for q in dlq.dead_letter_queues(sqs)}
