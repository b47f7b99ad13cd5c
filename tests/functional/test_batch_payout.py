"""BatchPayoutFunction on moto against the bank simulator: batches, leases, partial failures, DLQ."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from loanflow.models import ApplicationStatus as S
from loanflow.models import PayoutStatus
from loanflow.payouts import LEASE_KEY, PayoutStore
from loanflow.repository import application_repository
from localcloud import bank_sim
from tests.conftest import FakeLambdaContext
from tests.support.handlers import load_handler_module
from tests.support.loans import payout_cloud_fixture, signed_application  # noqa: F401

_seed = iter(range(500, 10_000))


@pytest.fixture
def bank(payout_cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[bank_sim.BankServer]:
    with bank_sim.serve(seed=9, hang_s=0.3) as server:
        monkeypatch.setenv("BANK_API_URL", server.url)
        monkeypatch.setenv("BANK_TIMEOUT_S", "0.1")
        monkeypatch.setenv("BANK_BACKOFF_S", "0")
        monkeypatch.setenv("PAYOUT_RETRY_DELAY_S", "0")
        yield server


@pytest.fixture
def store(payout_cloud: Any) -> PayoutStore:
    return PayoutStore(payout_cloud.names["LoanflowTable"])


@pytest.fixture(autouse=True)
def empty_queue(payout_cloud: Any, store: PayoutStore) -> None:
    """Each test starts with no payout queued and no run lease (the account is shared)."""
    for queue in ("QUEUE#PAYOUT", "QUEUE#FUNDING"):
        for record in store.queued(queue, limit=100_000):
            store.fail(record, "cleared between tests")
    store.table.delete_item(Key=LEASE_KEY)


def queued_loans(count: int, *, tier: str = "B") -> list[tuple[str, str]]:
    """``count`` signed applications disbursed to the batch queue: [(application id, loan id)]."""
    disburse = load_handler_module("disburse")
    repo = application_repository()
    made = []
    for _ in range(count):
        app = signed_application(repo, tier=tier, seed=next(_seed))
        part = disburse.handler({"application_id": app.id}, FakeLambdaContext())
        made.append((app.id, part["loan_id"]))
    return made


def run_batch() -> dict[str, Any]:
    return load_handler_module("batch_payout").handler(
        {"source": "schedule"}, FakeLambdaContext("loanflow-BatchPayoutFunction", 300_000)
    )


def paid_loans(bank: bank_sim.BankServer) -> list[str]:
    return [t["reference"] for t in bank.app.state.statement()]


def test_a_run_pays_every_queued_loan_and_funds_the_applications(bank: Any) -> None:
    # given
    loans = queued_loans(4)
    # when
    report = run_batch()
    # then
    assert (report["due"], report["paid"], report["funded"]) == (4, 4, 4)
    assert sorted(paid_loans(bank)) == sorted(loan for _, loan in loans)
    repo = application_repository()
    for app_id, _ in loans:
        app = repo.get(app_id)
        assert app.status == S.FUNDED
        assert app.extra["funds_sent_at"]
    assert run_batch()["due"] == 0


def test_a_paid_loan_and_its_application_are_settled_in_one_write(bank: Any, store: Any) -> None:
    # given
    loans = queued_loans(3)
    # when
    run_batch()
    # then each loan is SENT and on no queue, and its application's timeline says why it is FUNDED
    repo = application_repository()
    for app_id, loan_id in loans:
        item = store.table.get_item(Key={"PK": f"LOAN#{loan_id}", "SK": "LOAN"})["Item"]
        assert item["payout_status"] == "SENT"
        assert "GSI2PK" not in item
        assert "GSI2SK" not in item
        app = repo.get(app_id)
        assert app.extra["transfer_id"] == item["transfer_id"]
        assert app.extra["time_to_funds_s"] > 0
        last = repo.timeline(app_id)[-1]
        assert (last.from_status, last.to_status, last.actor) == (S.DISBURSING, S.FUNDED, "payouts")
        assert last.details == {"loan_id": loan_id, "transfer_id": item["transfer_id"]}
    assert store.queued("QUEUE#FUNDING", limit=10) == []


def test_an_application_that_changed_meanwhile_is_funded_through_the_funding_queue(
    bank: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an application whose version moves between the batch's read and its write
    (app_id, loan_id), *_ = loans = queued_loans(2)
    repo = application_repository()
    original = repo.statuses

    def stale(ids: Any) -> Any:
        found = original(ids)
        repo.update(app_id, actor="ops", action="noted")  # version + 1
        return found

    monkeypatch.setattr(repo, "statuses", stale)
    # when
    report = run_batch()
    # then the refused transaction fell back: SENT, then FUNDED by the same run's funding step
    assert (report["paid"], report["funded"]) == (2, 2)
    assert sorted(paid_loans(bank)) == sorted(loan for _, loan in loans)
    assert repo.get(app_id).status == S.FUNDED
    assert store.get(loan_id).loan.payout_status == PayoutStatus.SENT
    assert store.queued("QUEUE#FUNDING", limit=10) == []


def test_partial_failures_are_requeued_and_paid_by_a_later_run(bank: Any, store: Any) -> None:
    # given a bank that fails a third of the items of a batch (not executing them)
    loans = queued_loans(6)
    bank.app.failure_rate = 0.34
    # when runs follow one another until the queue is empty
    for _ in range(8):
        if run_batch()["due"] == 0:
            break
    # then each loan was paid exactly once
    assert sorted(paid_loans(bank)) == sorted(loan for _, loan in loans)
    assert all(store.get(loan).loan.payout_status == PayoutStatus.SENT for _, loan in loans)


def test_overlapping_runs_cannot_pay_the_same_loan(
    bank: Any, store: PayoutStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a slow bank, and a run in the middle of its bank batch
    loans = queued_loans(3)
    bank.app.latency_s = 0.5
    monkeypatch.setenv("BANK_TIMEOUT_S", "5")
    reports: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: reports.append(run_batch()))
    first.start()
    while "run_id" not in store.table.get_item(Key=LEASE_KEY).get("Item", {}):
        time.sleep(0.01)
    # when the schedule fires again meanwhile
    second = run_batch()
    first.join()
    # then the second run stands aside, and every loan is paid once
    assert second["skipped"]
    assert second["due"] == 0
    assert reports[0]["paid"] == 3
    assert sorted(paid_loans(bank)) == sorted(loan for _, loan in loans)


def test_a_run_that_overran_its_lease_stops_before_sending(
    bank: Any, store: PayoutStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a run whose lease another run took over while it was reading the queue
    queued_loans(2)
    original = PayoutStore.queued

    def queued_then_lose_lease(self: PayoutStore, queue: str, **kwargs: Any) -> Any:
        found = original(self, queue, **kwargs)
        if queue == "QUEUE#PAYOUT":
            self.table.update_item(
                Key=LEASE_KEY,
                UpdateExpression="SET run_id = :other",
                ExpressionAttributeValues={":other": "run_other"},
            )
        return found

    monkeypatch.setattr(PayoutStore, "queued", queued_then_lose_lease)
    # when it goes on
    report = run_batch()
    # then it sent nothing
    assert report["lease_lost"]
    assert report["paid"] == 0
    assert paid_loans(bank) == []


def test_a_run_that_crashed_after_the_bank_paid_is_settled_by_the_next(
    bank: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a run that dies between the bank's answer and the database write
    loans = queued_loans(3)
    original = PayoutStore.record_paid

    def crash(self: PayoutStore, paid: Any, **kwargs: Any) -> None:
        raise RuntimeError("Lambda killed after the bank batch")

    monkeypatch.setattr(PayoutStore, "record_paid", crash)
    with pytest.raises(RuntimeError):
        run_batch()
    assert len(paid_loans(bank)) == 3
    # when the next scheduled run comes
    monkeypatch.setattr(PayoutStore, "record_paid", original)
    report = run_batch()
    # then it asked the bank about the loans left in flight instead of paying them again
    assert report["paid"] == 3
    assert sorted(paid_loans(bank)) == sorted(loan for _, loan in loans)


def test_a_refused_payout_goes_to_the_dlq_and_the_others_are_paid(
    bank: Any, payout_cloud: Any
) -> None:
    loans = queued_loans(3)
    repo = application_repository()
    refused_app = repo.get(loans[0][0])
    bank.app.closed_accounts.add(refused_app.request.bank_card)
    report = run_batch()
    assert (report["paid"], report["failed"]) == (2, 1)
    assert repo.get(refused_app.id).status == S.FAILED
    messages = boto3.client("sqs").receive_message(
        QueueUrl=payout_cloud.queue_urls["PayoutDeadLetterQueue"], MaxNumberOfMessages=10
    )["Messages"]
    assert any(json.loads(m["Body"])["loan_id"] == loans[0][1] for m in messages)


def test_a_bank_timeout_leaves_the_loans_in_doubt_then_asks(bank: Any, store: Any) -> None:
    # given a bank that executes the batch and then never answers, status queries included
    loans = queued_loans(2)
    bank.app.timeout_rate = 1.0
    first = run_batch()
    assert first["in_doubt"] == 2
    assert first["paid"] == 0
    assert all(store.get(loan).in_doubt for _, loan in loans)
    # when the bank recovers
    bank.app.timeout_rate = 0.0
    second = run_batch()
    # then the next run asks and records, without a second transfer
    assert second["paid"] == 2
    assert sorted(paid_loans(bank)) == sorted(loan for _, loan in loans)


def test_reconcile_command_reports_paid_unpaid_and_duplicated(
    bank: Any, payout_cloud: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from loanflow_cli.main import main

    table = payout_cloud.names["LoanflowTable"]
    command = ["reconcile", "--json", "--table", table, "--bank-url", bank.url]

    def reconcile() -> dict[str, Any]:
        main(command)
        out = capsys.readouterr().out  # powertools' log lines come first
        report: dict[str, Any] = json.loads(out[out.index('{\n  "paid"') :])
        return report

    # (this test's bank is new: the loans earlier tests paid elsewhere count as unpaid here)
    before = reconcile()
    # given two loans paid by a run and one still queued
    queued_loans(2)
    run_batch()
    queued_loans(1)
    # when
    report = reconcile()
    # then
    assert report["paid"] == before["paid"] + 2
    assert report["unpaid"] == before["unpaid"] + 1
    assert report["duplicated"] == 0
    # and once the next run paid the third, nothing of this test is unpaid
    run_batch()
    after = reconcile()
    assert (after["paid"], after["unpaid"], after["duplicated"]) == (
        before["paid"] + 3,
        before["unpaid"],
        0,
    )
