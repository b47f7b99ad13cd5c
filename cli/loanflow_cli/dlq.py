"""``loanflow dlq list`` and ``loanflow dlq redrive``: dead-letter queues, and moving their messages back.

A dead-letter queue is any queue that another queue's ``RedrivePolicy`` names as its
``deadLetterTargetArn``; that other queue is its source. ``redrive`` moves every message of a DLQ
back to its source once the cause is fixed (a partner back up, a bug deployed away).

How a message moves: SQS's ``StartMessageMoveTask`` where the endpoint has it (AWS); otherwise
(moto, hence the local cloud) receive from the DLQ → send to the source with the same body and
message attributes → delete from the DLQ, in that order. A message is deleted only after its copy
was accepted, so none is lost; a crash between send and delete leaves it in both queues, to be
delivered again — at-least-once, which is safe because every consumer of loanflow's queues is
idempotent (the starter names the execution after the application; payouts carry an idempotency
key). A DLQ with several sources (e.g. one DLQ for the standard and the fast lane) needs ``--to``.

Where the queues are: ``--local URL`` (a running local cloud: ``GET URL/_localcloud/info`` names
its moto endpoint), ``--endpoint-url``, or the AWS account and region of the environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

RECEIVE_VISIBILITY_S = 120
"""How long a message being moved stays invisible in the DLQ: ample for one send and one delete."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dlq",
        help="list dead-letter queues, move their messages back to their source queues",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="every DLQ, its source queues and its depth")
    _common(listing)
    listing.set_defaults(func=run_list)

    redrive = commands.add_parser("redrive", help="move DLQ messages back to their source queue")
    chosen = redrive.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--queue", metavar="NAME", help="the DLQ's name (or URL)")
    chosen.add_argument("--all", action="store_true", help="every DLQ that has messages")
    redrive.add_argument("--to", metavar="NAME", help="the source queue, when a DLQ has several")
    redrive.add_argument("--dry-run", action="store_true", help="say what would move; move nothing")
    _common(redrive)
    redrive.set_defaults(func=run_redrive)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local", metavar="URL", help="a running local cloud (loanflow local up)")
    parser.add_argument("--endpoint-url", help="AWS endpoint (e.g. a moto server)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


# -- discovery -------------------------------------------------------------------------------------


@dataclass
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    depth: int
    in_flight: int
    sources: list[str] = field(default_factory=list)
    """Source queue URLs."""


def sqs_client(args: argparse.Namespace) -> Any:
    import boto3

    endpoint = args.endpoint_url
    if args.local and not endpoint:
        from loanflow_cli.reconcile import _local_info

        endpoint = _local_info(args.local)["moto_url"]
    session = boto3.Session()
    kwargs: dict[str, Any] = {"region_name": session.region_name or "us-east-1"}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
        if session.get_credentials() is None:
            kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    return boto3.client("sqs", **kwargs)


def _all_queue_urls(sqs: Any) -> list[str]:
    urls: list[str] = []
    for page in sqs.get_paginator("list_queues").paginate():
        urls.extend(page.get("QueueUrls", []))
    return urls


def dead_letter_queues(sqs: Any) -> list[DeadLetterQueue]:
    """Every queue some other queue's RedrivePolicy targets, with its sources."""
    attributes = {
        url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for url in _all_queue_urls(sqs)
    }
    by_arn = {attrs["QueueArn"]: url for url, attrs in attributes.items()}
    sources: dict[str, list[str]] = {}
    for url, attrs in attributes.items():
        policy = attrs.get("RedrivePolicy")
        if not policy:
            continue
        target = json.loads(policy)["deadLetterTargetArn"]
        if target in by_arn:
            sources.setdefault(by_arn[target], []).append(url)
    queues = []
    for url, source_urls in sources.items():
        attrs = attributes[url]
        queues.append(
            DeadLetterQueue(
                name=url.rsplit("/", 1)[-1],
                url=url,
                arn=attrs["QueueArn"],
                depth=int(attrs.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                sources=sorted(source_urls),
            )
        )
    return sorted(queues, key=lambda queue: queue.name)


# -- moving ----------------------------------------------------------------------------------------


@dataclass
class Redrive:
    queue: str
    source: str
    moved: int = 0
    would_move: int = 0
    method: str = "receive-send-delete"


def _source_of(queue: DeadLetterQueue, to: str | None) -> str:
    if to:
        matches = [url for url in queue.sources if url == to or url.rsplit("/", 1)[-1] == to]
        if not matches:
            raise SystemExit(f"{to} is not a source of {queue.name}: {queue.sources}")
        return matches[0]
    if len(queue.sources) != 1:
        names = [url.rsplit("/", 1)[-1] for url in queue.sources]
        raise SystemExit(f"{queue.name} has several sources {names}: choose one with --to")
    return queue.sources[0]


def _send_entry(index: int, message: dict[str, Any], fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        entry["MessageAttributes"] = message["MessageAttributes"]
    if fifo:
        attributes = message.get("Attributes", {})
        entry["MessageGroupId"] = attributes.get("MessageGroupId", "redrive")
        entry["MessageDeduplicationId"] = attributes.get(
            "MessageDeduplicationId", message["MessageId"]
        )
    return entry


def redrive_queue(sqs: Any, queue: DeadLetterQueue, source_url: str) -> int:
    """Move every visible message of ``queue`` to ``source_url``; the number moved."""
    fifo = source_url.endswith(".fifo")
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=RECEIVE_VISIBILITY_S,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return moved
        sent = sqs.send_message_batch(
            QueueUrl=source_url,
            Entries=[_send_entry(i, message, fifo) for i, message in enumerate(messages)],
        )
        accepted = {int(entry["Id"]) for entry in sent.get("Successful", [])}
        done = [message for i, message in enumerate(messages) if i in accepted]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]}
                    for i, message in enumerate(done)
                ],
            )
        moved += len(done)
        if sent.get("Failed"):
            # Left in the DLQ (visible again after RECEIVE_VISIBILITY_S): say so and stop.
            raise SystemExit(
                f"{len(sent['Failed'])} message(s) of {queue.name} could not be sent to "
                f"{source_url}: {sent['Failed'][0]}; {moved} moved, the rest stay in the DLQ"
            )


def _move_task(sqs: Any, queue: DeadLetterQueue, source_url: str) -> bool:
    """Start SQS's own move task where the endpoint supports it; False if it does not."""
    from botocore.exceptions import ClientError

    source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    try:
        sqs.start_message_move_task(SourceArn=queue.arn, DestinationArn=source_arn)
    except NotImplementedError:  # moto in-process
        return False
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        unsupported = code in ("InvalidAction", "UnknownOperationException", "NotImplemented")
        # moto's server answers an action it lacks with a bare HTML 500 (no AWS error code).
        if unsupported or code.isdigit() or "not been implemented" in str(error):
            return False
        raise
    return True


def redrive(
    sqs: Any,
    *,
    queue_name: str | None = None,
    every: bool = False,
    to: str | None = None,
    dry_run: bool = False,
    use_move_task: bool = True,
) -> list[Redrive]:
    queues = dead_letter_queues(sqs)
    if not every:
        wanted = [q for q in queues if queue_name in (q.name, q.url)]
        if not wanted:
            known = [q.name for q in queues]
            raise SystemExit(f"{queue_name} is not a dead-letter queue here (DLQs: {known})")
        queues = wanted
    results = []
    for queue in queues:
        if every and queue.depth == 0:
            continue
        if dry_run and not to and len(queue.sources) > 1:  # say which to choose; move nothing
            names = " | ".join(url.rsplit("/", 1)[-1] for url in queue.sources)
            results.append(Redrive(queue.name, f"--to {names}", would_move=queue.depth))
            continue
        source = _source_of(queue, to)
        result = Redrive(queue=queue.name, source=source.rsplit("/", 1)[-1])
        if dry_run:
            result.would_move = queue.depth
        elif use_move_task and _move_task(sqs, queue, source):
            result.method = "StartMessageMoveTask"
            result.would_move = queue.depth
        else:
            result.moved = redrive_queue(sqs, queue, source)
        results.append(result)
    return results


# -- commands --------------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    queues = dead_letter_queues(sqs_client(args))
    if args.json:
        json.dump([asdict(q) for q in queues], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dead-letter queues")
    for column in ("DLQ", "messages", "in flight", "sources"):
        table.add_column(column)
    for queue in queues:
        sources = ", ".join(url.rsplit("/", 1)[-1] for url in queue.sources)
        table.add_row(queue.name, str(queue.depth), str(queue.in_flight), sources)
    Console().print(table)
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    results = redrive(
        sqs_client(args), queue_name=args.queue, every=args.all, to=args.to, dry_run=args.dry_run
    )
    if args.json:
        json.dump([asdict(r) for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console

    console = Console()
    if not results:
        console.print("no dead-letter queue has messages")
    for r in results:
        if args.dry_run:
            console.print(f"{r.queue} → {r.source}: would move {r.would_move} (dry run)")
        elif r.method == "StartMessageMoveTask":
            console.print(f"{r.queue} → {r.source}: move task started for ~{r.would_move}")
        else:
            console.print(f"{r.queue} → {r.source}: moved {r.moved}")
    return 0
