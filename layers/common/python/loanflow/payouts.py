"""Disbursements, exactly once: the loan record, instant payouts, and scheduled batch payouts.

Why a loan is never paid twice:

1. The bank executes a transfer at most once per idempotency key, and the key is derived from the
   loan id (:func:`loanflow.bank.idempotency_key`); the loan id is derived from the application id.
2. After any unclear answer (timeout, 5xx, a crashed invocation) the bank is *asked* about the
   transfer before anything is sent again: per loan ``in_doubt`` / ``payout_attempts`` for instant
   payouts, the run lease's ``inflight`` list for batches.
3. Only one batch run works at a time: a lease item with an expiry, renewed before every bank
   request *conditionally on still owning it* (fencing), so a run that lost its lease stops.
4. The ledger lines and the SENT mark have keys/conditions derived from the loan: recording twice
   changes nothing.

Why a signed loan is always paid in the end: a loan leaves the payout queue (GSI2 ``QUEUE#PAYOUT``)
only when the bank confirmed it (→ ``QUEUE#FUNDING`` until the application is FUNDED) or refused it
for good (→ FAILED, a message on the payout DLQ and an alarm). Transient failures are requeued with
a delay; unknown outcomes stay in doubt and are asked about on the next run.

Keys: loan ``PK=LOAN#<loan_id>, SK=LOAN``; queue ``GSI2PK=QUEUE#PAYOUT|QUEUE#FUNDING,
GSI2SK=<due ISO time>#<loan_id>``; run lease ``PK=PAYOUT#RUN, SK=LEASE``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow import aws, pii
from loanflow.bank import (
    BankClient,
    BankUnavailable,
    BatchOutcome,
    TransferOrder,
    TransferReceipt,
    TransferRejected,
    idempotency_key,
)
from loanflow.concurrency import in_parallel
from loanflow.dynamo import from_item, to_item
from loanflow.errors import ConcurrentModification, InvalidTransition, NotFound
from loanflow.ids import new_id
from loanflow.ledger import Disbursement, Ledger, loan_pk
from loanflow.models import Application, ApplicationStatus, Loan, PayoutStatus, utcnow
from loanflow.observability import logger, metrics
from loanflow.repository import ApplicationRepository, application_repository
from loanflow.settings import get_settings

LOAN_SK = "LOAN"
QUEUE_PAYOUT = "QUEUE#PAYOUT"
QUEUE_FUNDING = "QUEUE#FUNDING"
LEASE_KEY = {"PK": "PAYOUT#RUN", "SK": "LEASE"}
Channel = Literal["instant", "batch"]


class PayoutSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYOUT_", extra="ignore")

    dlq_url: str | None = Field(default=None, description="Poison payouts go here (PAYOUT_DLQ_URL)")
    lease_s: int = Field(default=360, ge=1, description="Batch run lease (PAYOUT_LEASE_S)")
    max_attempts: int = Field(default=8, ge=1, description="Sends before a payout is poison")
    retry_delay_s: int = Field(default=30, ge=0, description="Delay before a requeued payout")
    rounds: int = Field(default=3, ge=1, description="Send rounds per batch run")
    batch_limit: int = Field(default=20_000, ge=1, description="Payouts taken by one run")
    workers: int = Field(
        default=16,
        ge=1,
        le=128,
        description="Loans a batch run reads/writes at once (PAYOUT_WORKERS)",
    )


class LoanNotFound(NotFound):
    code = "loan_not_found"

    def __init__(self, loan_id: str) -> None:
        super().__init__(f"loan {loan_id} not found", field="id")


class PayoutRejected(Exception):
    """The bank refused this payout for good; the loan is FAILED and on the DLQ."""


def loan_id_for(application_id: str) -> str:
    """One application, one loan: the id is derived, so a retried task finds the same loan."""
    return "loan_" + application_id.removeprefix("app_")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass
class LoanRecord:
    """A loan and the state of its payout."""

    loan: Loan
    payout_attempts: int = 0
    in_doubt: bool = False
    beneficiary: str = ""
    transfer_id: str | None = None
    last_error: str | None = None
    submitted_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.loan.id

    @property
    def key(self) -> str:
        return idempotency_key(self.loan.id)

    def time_to_funds_s(self) -> float | None:
        if self.submitted_at is None or self.loan.funds_sent_at is None:
            return None
        return (self.loan.funds_sent_at - self.submitted_at).total_seconds()


class PayoutStore:
    """Loans and their payout state in the single table."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table = (dynamodb or aws.resource("dynamodb")).Table(table_name)
        # Per-loan writes of a batch run come from several threads: they use the (thread-safe)
        # client, which takes plain Python values like the Table resource does.
        self.client = self.table.meta.client
        self.ledger = Ledger(self.table)

    # --- loans ---------------------------------------------------------------------------------

    def open_loan(
        self, application: Application, channel: Channel, *, submitted_at: datetime | None = None
    ) -> LoanRecord:
        """Create the application's loan (once; a repeat returns the existing one)."""
        if application.offer is None:
            raise ValueError(f"application {application.id} has no offer")
        offer = application.offer
        now = utcnow()
        loan = Loan(
            id=loan_id_for(application.id),
            application_id=application.id,
            owner_id=application.owner_id,
            principal=offer.amount,
            apr=offer.apr,
            term_months=offer.term_months,
            schedule=offer.schedule,
            payout_status=PayoutStatus.QUEUED if channel == "batch" else PayoutStatus.PENDING,
            payout_channel=channel,
            created_at=now,
        )
        item = {
            **to_item(loan),
            "PK": loan_pk(loan.id),
            "SK": LOAN_SK,
            "payout_attempts": 0,
            "in_doubt": False,
            "beneficiary": pii.encrypt(
                {"account": application.request.bank_card, "name": application.request.name},
                context=loan.id,
            ),
            "submitted_at": _iso(submitted_at) if submitted_at else None,
        }
        if channel == "batch":
            item.update({"GSI2PK": QUEUE_PAYOUT, "GSI2SK": f"{_iso(now)}#{loan.id}"})
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return self.get(loan.id)

    def get(self, loan_id: str) -> LoanRecord:
        item = self.table.get_item(
            Key={"PK": loan_pk(loan_id), "SK": LOAN_SK}, ConsistentRead=True
        ).get("Item")
        if item is None:
            raise LoanNotFound(loan_id)
        return record_from_item(item)

    def get_for_owner(self, loan_id: str, owner_id: str) -> LoanRecord:
        """The loan if ``owner_id`` owns it; otherwise not found (no existence leak)."""
        record = self.get(loan_id)
        if record.loan.owner_id != owner_id:
            raise LoanNotFound(loan_id)
        return record

    def beneficiary_of(self, record: LoanRecord) -> tuple[str, str]:
        sealed = pii.decrypt(record.beneficiary, context=record.id)
        return sealed["account"], sealed["name"]

    def order_for(self, record: LoanRecord) -> TransferOrder:
        account, name = self.beneficiary_of(record)
        return TransferOrder(record.id, record.loan.principal, account, name)

    # --- payout state --------------------------------------------------------------------------

    def begin_attempt(self, loan_id: str) -> bool:
        """Count an instant attempt; True when an earlier one may already have reached the bank."""
        answer = self.table.update_item(
            Key={"PK": loan_pk(loan_id), "SK": LOAN_SK},
            UpdateExpression="SET payout_attempts = payout_attempts + :one, payout_status = :s",
            ConditionExpression="payout_status IN (:pending, :sending)",
            ExpressionAttributeValues={
                ":one": 1,
                ":s": PayoutStatus.SENDING.value,
                ":pending": PayoutStatus.PENDING.value,
                ":sending": PayoutStatus.SENDING.value,
            },
            ReturnValues="UPDATED_OLD",
        )
        return int(answer["Attributes"].get("payout_attempts", 0)) > 0

    def orders_for(self, records: Sequence[LoanRecord], *, workers: int = 1) -> list[TransferOrder]:
        """Each loan's transfer order (one KMS decryption per loan, ``workers`` at a time)."""
        return in_parallel(self.order_for, records, workers=workers)

    def record_paid(
        self,
        paid: Sequence[tuple[LoanRecord, TransferReceipt]],
        *,
        workers: int = 1,
        funding: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> set[str]:
        """Book the ledger, then mark each loan SENT.

        A loan with entries in ``funding`` (its application's FUNDED transition, from
        :meth:`Payouts.funding_items`) is settled in one transaction with them: SENT, off every
        queue, application FUNDED. Any other loan — or one whose transaction is refused because its
        application changed meanwhile — goes to the funding queue, which the batch run drains
        (``finish_funding``). Returns the ids of the loans settled with their application.
        """
        self.ledger.record(
            (
                Disbursement(r.id, receipt.amount, receipt.transfer_id, receipt.executed_at)
                for r, receipt in paid
            ),
            workers=workers,
        )
        funding = funding or {}

        def settle(entry: tuple[LoanRecord, TransferReceipt]) -> bool:
            record, receipt = entry
            items = funding.get(record.id)
            if items and self._settle(record, receipt, items):
                return True
            self._mark_sent(entry)
            return False

        settled = in_parallel(settle, paid, workers=workers)
        return {record.id for (record, _), done in zip(paid, settled, strict=True) if done}

    def _mark_sent(self, paid: tuple[LoanRecord, TransferReceipt]) -> None:
        """SENT, and on the funding queue until its application is FUNDED."""
        record, receipt = paid
        try:
            self.client.update_item(**self._sent_change(record, receipt, funding_queue=True))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        _note_sent(record, receipt)

    def _settle(
        self, record: LoanRecord, receipt: TransferReceipt, funding: list[dict[str, Any]]
    ) -> bool:
        """SENT and off the queues, in one transaction with the application's FUNDED change;
        False when the transaction is refused (the loan was already SENT, the application moved)."""
        loan = {"Update": self._sent_change(record, receipt, funding_queue=False)}
        try:
            self.client.transact_write_items(TransactItems=[loan, *funding])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return False
        _note_sent(record, receipt)
        return True

    def _sent_change(
        self, record: LoanRecord, receipt: TransferReceipt, *, funding_queue: bool
    ) -> dict[str, Any]:
        """The loan's SENT update (unless SENT already): onto the funding queue, or off every queue."""
        sent_at = _iso(_parse_time(receipt.executed_at))
        values: dict[str, Any] = {
            ":sent": PayoutStatus.SENT.value,
            ":at": sent_at,
            ":t": receipt.transfer_id,
            ":no": False,
        }
        sets = "SET payout_status = :sent, funds_sent_at = :at, transfer_id = :t, in_doubt = :no"
        if funding_queue:
            values.update({":q": QUEUE_FUNDING, ":qs": f"{sent_at}#{record.id}"})
            expression = f"{sets}, GSI2PK = :q, GSI2SK = :qs"
        else:
            expression = f"{sets} REMOVE GSI2PK, GSI2SK"
        return {
            "TableName": self.table.name,
            "Key": {"PK": loan_pk(record.id), "SK": LOAN_SK},
            "UpdateExpression": expression,
            "ConditionExpression": "payout_status <> :sent",
            "ExpressionAttributeValues": values,
        }

    def requeue(
        self, record: LoanRecord, *, error: str, in_doubt: bool, delay_s: int, counts: bool
    ) -> None:
        """Back on the payout queue after ``delay_s`` (as a batch payout)."""
        due = utcnow() + timedelta(seconds=delay_s)
        try:
            self._requeue(record, error, in_doubt, due, counts)
        except ClientError as exc:
            # Someone settled it meanwhile (SENT or FAILED): nothing left to queue.
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _requeue(
        self, record: LoanRecord, error: str, in_doubt: bool, due: datetime, counts: bool
    ) -> None:
        self.table.update_item(
            Key={"PK": loan_pk(record.id), "SK": LOAN_SK},
            UpdateExpression=(
                "SET payout_status = :q, payout_channel = :batch, in_doubt = :d, last_error = :e, "
                "payout_attempts = payout_attempts + :n, GSI2PK = :pk, GSI2SK = :sk"
            ),
            ConditionExpression="payout_status IN (:q, :pending, :sending)",
            ExpressionAttributeValues={
                ":q": PayoutStatus.QUEUED.value,
                ":pending": PayoutStatus.PENDING.value,
                ":sending": PayoutStatus.SENDING.value,
                ":batch": "batch",
                ":d": in_doubt,
                ":e": error,
                ":n": 1 if counts else 0,
                ":pk": QUEUE_PAYOUT,
                ":sk": f"{_iso(due)}#{record.id}",
            },
        )

    def fail(self, record: LoanRecord, reason: str) -> None:
        """The bank refused for good: FAILED, off every queue."""
        self.table.update_item(
            Key={"PK": loan_pk(record.id), "SK": LOAN_SK},
            UpdateExpression="SET payout_status = :f, last_error = :e REMOVE GSI2PK, GSI2SK",
            ConditionExpression="payout_status <> :sent",
            ExpressionAttributeValues={
                ":f": PayoutStatus.FAILED.value,
                ":e": reason,
                ":sent": PayoutStatus.SENT.value,
            },
        )

    def funded(self, record: LoanRecord) -> None:
        """The application knows it is FUNDED: the loan leaves the funding queue."""
        self.client.update_item(
            TableName=self.table.name,
            Key={"PK": loan_pk(record.id), "SK": LOAN_SK},
            UpdateExpression="REMOVE GSI2PK, GSI2SK",
        )

    def queued(self, queue: str, *, until: datetime | None = None, limit: int) -> list[LoanRecord]:
        """Loans on ``queue`` due by ``until`` (oldest first), without their repayment schedule
        (a payout does not need it; leaving it out keeps the queue reads small)."""
        kwargs: dict[str, Any] = {
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :q AND GSI2SK <= :until",
            "ExpressionAttributeValues": {":q": queue, ":until": _iso(until or utcnow()) + "~"},
            "ProjectionExpression": ", ".join(f"#{a}" for a in _QUEUE_ATTRIBUTES),
            "ExpressionAttributeNames": {f"#{a}": a for a in _QUEUE_ATTRIBUTES},
        }
        records: list[LoanRecord] = []
        while len(records) < limit:
            page = self.table.query(**kwargs)
            records.extend(record_from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return records[:limit]

    def all_loans(self) -> Iterator[LoanRecord]:
        kwargs: dict[str, Any] = {
            "FilterExpression": "SK = :sk",
            "ExpressionAttributeValues": {":sk": LOAN_SK},
        }
        while True:
            page = self.table.scan(**kwargs)
            for item in page.get("Items", []):
                yield record_from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_QUEUE_ATTRIBUTES = (
    *(name for name in Loan.model_fields if name != "schedule"),
    "payout_attempts",
    "in_doubt",
    "beneficiary",
    "transfer_id",
    "last_error",
    "submitted_at",
)


def _note_sent(record: LoanRecord, receipt: TransferReceipt) -> None:
    record.loan.payout_status = PayoutStatus.SENT
    record.loan.funds_sent_at = _parse_time(receipt.executed_at)
    record.transfer_id = receipt.transfer_id


def record_from_item(item: dict[str, Any]) -> LoanRecord:
    data = from_item(item)
    fields = {k: v for k, v in data.items() if k in Loan.model_fields}
    fields.setdefault("schedule", [])
    loan = Loan.model_validate(fields)
    submitted = data.get("submitted_at")
    return LoanRecord(
        loan=loan,
        payout_attempts=int(data.get("payout_attempts", 0)),
        in_doubt=bool(data.get("in_doubt", False)),
        beneficiary=str(data.get("beneficiary", "")),
        transfer_id=data.get("transfer_id"),
        last_error=data.get("last_error"),
        submitted_at=datetime.fromisoformat(submitted) if submitted else None,
    )


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- poison payouts ----------------------------------------------------------------------------


class DeadLetters:
    """Poison payouts, for a person to look at (the queue has an alarm)."""

    def __init__(self, queue_url: str | None) -> None:
        self.queue_url = queue_url

    def send(self, record: LoanRecord, reason: str) -> None:
        logger.error("payout is poison", extra={"loan_id": record.id, "reason": reason})
        if not self.queue_url:
            return
        aws.client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(
                {
                    "loan_id": record.id,
                    "application_id": record.loan.application_id,
                    "amount": str(record.loan.principal),
                    "reason": reason,
                    "at": _iso(utcnow()),
                }
            ),
        )


# --- the batch run lease -----------------------------------------------------------------------


class LeaseHeld(Exception):
    """Another batch run holds the lease."""


class LeaseLost(Exception):
    """This run's lease expired and another run took it: stop before talking to the bank."""


class RunLease:
    """One batch run at a time; ``inflight`` names what a run sent and has not recorded yet."""

    def __init__(self, table: Any, lease_s: int) -> None:
        self.table = table
        self.lease_s = lease_s

    def acquire(self, run_id: str) -> list[str]:
        """Take the lease; returns the loans a previous run left in flight (their fate unknown)."""
        now = time.time()
        try:
            answer = self.table.update_item(
                Key=LEASE_KEY,
                UpdateExpression="SET run_id = :me, lease_until = :until",
                ConditionExpression="attribute_not_exists(run_id) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":me": run_id,
                    ":until": Decimal(str(round(now + self.lease_s, 3))),
                    ":now": Decimal(str(round(now, 3))),
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseHeld("another payout run is in progress") from exc
            raise
        return list(answer.get("Attributes", {}).get("inflight", []))

    def hold(self, run_id: str, inflight: Sequence[str]) -> None:
        """Renew the lease and name what is about to be sent — only if this run still owns it."""
        try:
            self.table.update_item(
                Key=LEASE_KEY,
                UpdateExpression="SET lease_until = :until, inflight = :f",
                ConditionExpression="run_id = :me",
                ExpressionAttributeValues={
                    ":me": run_id,
                    ":until": Decimal(str(round(time.time() + self.lease_s, 3))),
                    ":f": list(inflight),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseLost(f"run {run_id} lost the payout lease") from exc
            raise

    def release(self, run_id: str, inflight: Sequence[str]) -> None:
        """Give the lease up; ``inflight`` stays recorded when the run could not settle it."""
        try:
            self.table.update_item(
                Key=LEASE_KEY,
                UpdateExpression="SET inflight = :f REMOVE run_id, lease_until",
                ConditionExpression="run_id = :me",
                ExpressionAttributeValues={":me": run_id, ":f": list(inflight)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


# --- instant payouts ---------------------------------------------------------------------------


@dataclass
class InstantResult:
    record: LoanRecord
    outcome: Literal["sent", "queued"]


def pay_instantly(
    store: PayoutStore,
    bank: BankClient,
    record: LoanRecord,
    dead_letters: DeadLetters,
    *,
    retry_delay_s: int = 0,
) -> InstantResult:
    """Pay one loan now; an unreachable bank sends it to the batch queue (in doubt), never twice."""
    if record.loan.payout_status == PayoutStatus.SENT:
        return InstantResult(record, "sent")
    if record.loan.payout_status == PayoutStatus.QUEUED:
        return InstantResult(record, "queued")
    if record.loan.payout_status == PayoutStatus.FAILED:
        raise PayoutRejected(record.last_error or "payout failed")
    in_doubt = store.begin_attempt(record.id)
    try:
        receipt = bank.transfer(store.order_for(record), in_doubt=in_doubt)
    except TransferRejected as exc:
        store.fail(record, exc.code)
        dead_letters.send(record, exc.code)
        raise PayoutRejected(exc.code) from exc
    except BankUnavailable as exc:
        logger.warning("instant payout deferred to the batch", extra={"loan_id": record.id})
        store.requeue(record, error=str(exc), in_doubt=True, delay_s=retry_delay_s, counts=False)
        return InstantResult(store.get(record.id), "queued")
    store.record_paid([(record, receipt)])
    return InstantResult(record, "sent")


def hand_over(store: PayoutStore, application_id: str) -> LoanRecord | None:
    """The workflow gave up on a DISBURSING application: its loan, if it has one, is the payouts'
    to finish — never FAILED while the bank may have paid it.

    A loan whose instant payout was interrupted (PENDING, or SENDING: maybe executed) joins the
    batch queue *in doubt*, so the next run asks the bank before sending anything; a queued or sent
    loan is already on its way to FUNDED. ``None`` when no loan was opened (nothing can have been
    paid: the application may fail).
    """
    try:
        record = store.get(loan_id_for(application_id))
    except LoanNotFound:
        return None
    if record.loan.payout_status in (PayoutStatus.PENDING, PayoutStatus.SENDING):
        store.requeue(
            record,
            error="the workflow ended during the instant payout",
            in_doubt=True,
            delay_s=0,
            counts=False,
        )
        record = store.get(record.id)
    return record


# --- scheduled batch payouts -------------------------------------------------------------------


@dataclass
class RunReport:
    run_id: str
    skipped: bool = False
    lease_lost: bool = False
    due: int = 0
    paid: int = 0
    requeued: int = 0
    in_doubt: int = 0
    failed: int = 0
    funded: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "failures"} | {
            "failures": self.failures[:20]
        }


class Funding(Protocol):
    """What a batch run needs from the applications' side to settle a paid loan in one write."""

    def funding_items(
        self, paid: Sequence[tuple[LoanRecord, TransferReceipt]]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per loan id, the writes that move its application to FUNDED (absent: not possible)."""
        ...

    def funded_together(self, records: Sequence[LoanRecord]) -> None:
        """These loans' applications became FUNDED with them."""
        ...


class BatchPayout:
    """One scheduled run: take the due payouts, pay them as bank batches, settle every outcome."""

    def __init__(
        self,
        store: PayoutStore,
        bank: BankClient,
        dead_letters: DeadLetters,
        settings: PayoutSettings,
        *,
        on_paid: Callable[[LoanRecord], None] | None = None,
        on_failed: Callable[[LoanRecord, str], None] | None = None,
        funding: Funding | None = None,
    ) -> None:
        self.store = store
        self.funding = funding
        self.bank = bank
        self.dead_letters = dead_letters
        self.settings = settings
        self.lease = RunLease(store.table, settings.lease_s)
        self.on_paid = on_paid
        self.on_failed = on_failed

    def run(self, run_id: str | None = None) -> RunReport:
        report = RunReport(run_id=run_id or new_id("run"))
        started = time.perf_counter()
        try:
            left_inflight = set(self.lease.acquire(report.run_id))
        except LeaseHeld:
            report.skipped = True
            return report
        unsettled: list[str] = list(left_inflight)
        try:
            due = self.store.queued(QUEUE_PAYOUT, limit=self.settings.batch_limit)
            report.due = len(due)
            unsettled = sorted(left_inflight | {r.id for r in due})
            self._pay(report, due, left_inflight)
            unsettled = []
        except LeaseLost:
            # Another run owns the queue now (this one overran its lease): stop, send nothing more.
            logger.warning("payout run lost its lease", extra={"run_id": report.run_id})
            report.lease_lost = True
            return report
        finally:
            self.lease.release(report.run_id, unsettled)
        self.finish_funding(report)
        report.seconds = round(time.perf_counter() - started, 3)
        logger.info("payout run finished", extra=report.as_dict())
        return report

    def finish_funding(self, report: RunReport) -> None:
        """Tell each paid loan's application (FUNDED); a crash here is finished by the next run."""
        due = self.store.queued(QUEUE_FUNDING, until=utcnow(), limit=100_000)
        done = in_parallel(self._finish_one, due, workers=self.settings.workers)
        report.funded += sum(done)

    def _finish_one(self, record: LoanRecord) -> bool:
        if self.on_paid is not None:
            try:
                self.on_paid(record)
            except (InvalidTransition, ConcurrentModification) as exc:
                logger.warning(
                    "application not marked FUNDED yet; the next run tries again",
                    extra={"loan_id": record.id, "cause": str(exc)},
                )
                return False
        self.store.funded(record)
        return True

    def _pay(self, report: RunReport, due: list[LoanRecord], left_inflight: set[str]) -> None:
        workers = self.settings.workers
        by_key = {r.key: r for r in due}
        orders = {
            r.key: order
            for r, order in zip(due, self.store.orders_for(due, workers=workers), strict=True)
        }
        doubtful = {r.key for r in due if r.in_doubt or r.id in left_inflight}
        pending = list(orders)
        for round_no in range(self.settings.rounds):
            if not pending:
                break
            outcome = BatchOutcome()
            self.lease.hold(report.run_id, [by_key[k].id for k in pending])
            asked = [orders[k] for k in pending if k in doubtful]
            self.bank.resolve(asked, outcome)
            to_send = [orders[k] for k in pending if k not in doubtful] + [
                orders[k] for k in outcome.retry
            ]
            outcome.retry = []
            if to_send:
                sent = self.bank.submit_batch(to_send, batch_id=f"{report.run_id}-{round_no}")
                outcome.executed.update(sent.executed)
                outcome.rejected.update(sent.rejected)
                outcome.retry.extend(sent.retry)
                outcome.unknown.extend(sent.unknown)
            paid = [(by_key[k], r) for k, r in outcome.executed.items()]
            together = self.store.record_paid(
                paid,
                workers=workers,
                funding=self.funding.funding_items(paid) if self.funding and paid else None,
            )
            if self.funding is not None and together:
                self.funding.funded_together([r for r, _ in paid if r.id in together])
            report.paid += len(paid)
            report.funded += len(together)
            for key, reason in outcome.rejected.items():
                self._poison(report, by_key[key], reason)
            pending = outcome.retry + outcome.unknown
            doubtful = set(outcome.unknown)
        for key in pending:
            self._leave_for_later(report, by_key[key], in_doubt=key in doubtful)

    def _leave_for_later(self, report: RunReport, record: LoanRecord, *, in_doubt: bool) -> None:
        if in_doubt:
            # The bank could not say whether it paid: never give up on it, ask again next run.
            self.store.requeue(
                record, error="outcome unknown", in_doubt=True, delay_s=0, counts=False
            )
            report.in_doubt += 1
            return
        if record.payout_attempts + 1 >= self.settings.max_attempts:
            self._poison(report, record, f"not executed after {record.payout_attempts + 1} runs")
            return
        self.store.requeue(
            record,
            error="bank did not execute it",
            in_doubt=False,
            delay_s=self.settings.retry_delay_s,
            counts=True,
        )
        report.requeued += 1

    def _poison(self, report: RunReport, record: LoanRecord, reason: str) -> None:
        self.store.fail(record, reason)
        self.dead_letters.send(record, reason)
        report.failed += 1
        report.failures.append(f"{record.id}: {reason}")
        if self.on_failed is not None:
            self.on_failed(record, reason)


# --- wiring: the Disburse task, the batch run, and what they tell the application --------------

ACTOR = "payouts"
FUNDED_REASON = "the bank executed the transfer"
_METRICS_LOCK = threading.Lock()
INSTANT_TIERS = frozenset({"A"})


class Payouts:
    """The payout service as the functions use it: applications, loans, the bank and the DLQ."""

    def __init__(
        self,
        repo: ApplicationRepository,
        store: PayoutStore,
        bank: BankClient,
        dead_letters: DeadLetters,
        settings: PayoutSettings,
    ) -> None:
        self.repo = repo
        self.store = store
        self.bank = bank
        self.dead_letters = dead_letters
        self.settings = settings

    @classmethod
    def from_environment(cls) -> Payouts:
        settings = PayoutSettings()
        return cls(
            application_repository(),
            PayoutStore(get_settings().table_name),
            BankClient.from_settings(),
            DeadLetters(settings.dlq_url),
            settings,
        )

    def disburse(self, application_id: str) -> dict[str, Any]:
        """Disburse: open the loan (SIGNED → DISBURSING); tier A now, others in the next batch."""
        app = self.repo.get(application_id)
        tier = app.decision.tier if app.decision else None
        channel: Channel = "instant" if tier in INSTANT_TIERS else "batch"
        # DISBURSING first: a loan is never on the payout queue while its application is SIGNED.
        if app.status == ApplicationStatus.SIGNED:
            self.repo.transition(
                application_id,
                ApplicationStatus.DISBURSING,
                actor=ACTOR,
                reason=f"{channel} payout",
                set_fields={"loan_id": loan_id_for(application_id)},
            )
        elif app.status not in (ApplicationStatus.DISBURSING, ApplicationStatus.FUNDED):
            raise InvalidTransition(app.status.value, ApplicationStatus.DISBURSING.value)
        record = self.store.open_loan(app, channel, submitted_at=_submitted_at(app))
        if record.loan.payout_channel == "instant":
            try:
                result = pay_instantly(
                    self.store,
                    self.bank,
                    record,
                    self.dead_letters,
                    retry_delay_s=self.settings.retry_delay_s,
                )
            except PayoutRejected as exc:
                self.failed(record, str(exc))
                raise
            record = result.record
            if result.outcome == "sent":
                self.funded(record)
        return {
            "loan_id": record.id,
            "channel": record.loan.payout_channel,
            "payout_status": record.loan.payout_status.value,
            "funds_sent_at": _iso(record.loan.funds_sent_at) if record.loan.funds_sent_at else None,
        }

    def batch(self) -> BatchPayout:
        return BatchPayout(
            self.store,
            self.bank,
            self.dead_letters,
            self.settings,
            on_paid=self.mark_funded,
            on_failed=self.failed,
            funding=self,
        )

    def funded(self, record: LoanRecord) -> None:
        """An instant payout went through: the application is FUNDED, the loan off the queue."""
        self.mark_funded(record)
        self.store.funded(record)

    def mark_funded(self, record: LoanRecord) -> None:
        """DISBURSING → FUNDED with the time the funds left and the time to funds."""
        sent_at = record.loan.funds_sent_at or utcnow()
        changed = self.repo.advance(
            record.loan.application_id,
            ApplicationStatus.FUNDED,
            actor=ACTOR,
            reason=FUNDED_REASON,
            set_fields=_funded_fields(record, sent_at, record.transfer_id),
            details={"loan_id": record.id, "transfer_id": record.transfer_id},
        )
        if changed:
            self.funded_together([record])

    def funding_items(
        self, paid: Sequence[tuple[LoanRecord, TransferReceipt]]
    ) -> dict[str, list[dict[str, Any]]]:
        """For the loans whose application is DISBURSING, its → FUNDED writes (one BatchGetItem
        per 100 loans reads the versions; nothing personal is unsealed)."""
        current = self.repo.statuses(record.loan.application_id for record, _ in paid)
        items: dict[str, list[dict[str, Any]]] = {}
        for record, receipt in paid:
            status, version = current.get(record.loan.application_id, (None, 0))
            if status != ApplicationStatus.DISBURSING:
                continue  # FUNDED already, or changed: the funding queue settles it
            items[record.id] = self.repo.transition_items(
                record.loan.application_id,
                from_status=status,
                version=version,
                to_status=ApplicationStatus.FUNDED,
                actor=ACTOR,
                reason=FUNDED_REASON,
                set_fields=_funded_fields(
                    record, _parse_time(receipt.executed_at), receipt.transfer_id
                ),
                details={"loan_id": record.id, "transfer_id": receipt.transfer_id},
            )
        return items

    def funded_together(self, records: Sequence[LoanRecord]) -> None:
        """The TimeToFunds metric of loans whose application just became FUNDED."""
        with _METRICS_LOCK:  # batch runs mark loans FUNDED from several threads
            for record in records:
                time_to_funds = record.time_to_funds_s()
                if time_to_funds is not None:
                    metrics.add_metric(
                        name="TimeToFunds", unit=MetricUnit.Seconds, value=time_to_funds
                    )

    def failed(self, record: LoanRecord, reason: str) -> None:
        self.repo.transition(
            record.loan.application_id,
            ApplicationStatus.FAILED,
            actor=ACTOR,
            reason=f"payout refused by the bank: {reason}",
            set_fields={"failure_reason": f"payout refused by the bank: {reason}"},
            details={"loan_id": record.id},
        )


def _funded_fields(
    record: LoanRecord, sent_at: datetime, transfer_id: str | None
) -> dict[str, Any]:
    submitted = record.submitted_at
    return {
        "extra.funds_sent_at": _iso(sent_at),
        "extra.time_to_funds_s": (sent_at - submitted).total_seconds() if submitted else None,
        "extra.transfer_id": transfer_id,
    }


def _submitted_at(app: Application) -> datetime:
    value = app.extra.get("submitted_at")
    return datetime.fromisoformat(value) if value else app.created_at
