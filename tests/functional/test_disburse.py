"""Disburse on moto against the bank simulator: tier A instant, others queued, exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from loanflow.ledger import Ledger, balances
from loanflow.models import ApplicationStatus as S
from loanflow.models import PayoutStatus
from loanflow.payouts import PayoutRejected, PayoutStore, loan_id_for
from loanflow.repository import application_repository
from localcloud import bank_sim
from tests.support.handlers import load_handler_module
from tests.support.loans import payout_cloud_fixture, signed_application  # noqa: F401


@pytest.fixture
def bank(payout_cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[bank_sim.BankServer]:
    with bank_sim.serve(seed=5, hang_s=0.3) as server:
        monkeypatch.setenv("BANK_API_URL", server.url)
        monkeypatch.setenv("BANK_TIMEOUT_S", "0.1")
        monkeypatch.setenv("BANK_BACKOFF_S", "0")
        yield server


@pytest.fixture
def disburse(bank: bank_sim.BankServer) -> Any:
    return load_handler_module("disburse")


@pytest.fixture
def store(payout_cloud: Any) -> PayoutStore:
    return PayoutStore(payout_cloud.names["LoanflowTable"])


def transfers_for(bank: bank_sim.BankServer, loan_id: str) -> list[dict[str, Any]]:
    return [t for t in bank.app.state.statement() if t["reference"] == loan_id]


def test_tier_a_is_paid_instantly_and_funded(
    disburse: Any, bank: Any, store: PayoutStore, lambda_context: Any
) -> None:
    # given
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=101)
    # when
    part = disburse.handler({"application_id": app.id}, lambda_context)
    # then
    assert part["channel"] == "instant"
    assert part["payout_status"] == "SENT"
    funded = repo.get(app.id)
    assert funded.status == S.FUNDED
    assert funded.loan_id == part["loan_id"]
    assert funded.extra["time_to_funds_s"] is not None
    assert len(transfers_for(bank, part["loan_id"])) == 1
    lines = Ledger(store.table).lines_for(part["loan_id"])
    assert sorted(line["account"] for line in lines) == ["cash", "loan_receivable"]
    assert set(balances(lines).values()) == {app.offer.amount, -app.offer.amount}  # type: ignore[union-attr]


def test_tier_b_waits_for_the_batch(
    disburse: Any, bank: Any, store: PayoutStore, lambda_context: Any
) -> None:
    repo = application_repository()
    app = signed_application(repo, tier="B", seed=102)
    part = disburse.handler({"application_id": app.id}, lambda_context)
    assert part["channel"] == "batch"
    assert part["payout_status"] == "QUEUED"
    assert repo.get(app.id).status == S.DISBURSING
    assert transfers_for(bank, part["loan_id"]) == []
    assert store.get(part["loan_id"]).loan.payout_status == PayoutStatus.QUEUED


def test_a_repeated_disburse_pays_once(disburse: Any, bank: Any, lambda_context: Any) -> None:
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=103)
    first = disburse.handler({"application_id": app.id}, lambda_context)
    second = disburse.handler({"application_id": app.id}, lambda_context)
    assert first["loan_id"] == second["loan_id"]
    assert len(transfers_for(bank, first["loan_id"])) == 1
    assert [e.to_status for e in repo.timeline(app.id)].count(S.FUNDED) == 1


def test_a_crash_after_the_bank_paid_is_retried_without_paying_again(
    disburse: Any, bank: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a Lambda that dies between the bank's answer and the database write
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=104)
    original = PayoutStore.record_paid

    def crash(self: PayoutStore, paid: Any, **kwargs: Any) -> None:
        raise RuntimeError("Lambda killed after the transfer")

    monkeypatch.setattr(PayoutStore, "record_paid", crash)
    with pytest.raises(RuntimeError):
        disburse.handler({"application_id": app.id}, lambda_context)
    assert len(transfers_for(bank, loan_id_for(app.id))) == 1
    # when Step Functions retries the task
    monkeypatch.setattr(PayoutStore, "record_paid", original)
    part = disburse.handler({"application_id": app.id}, lambda_context)
    # then the bank was asked, not paid again
    assert part["payout_status"] == "SENT"
    assert len(transfers_for(bank, part["loan_id"])) == 1
    assert repo.get(app.id).status == S.FUNDED


def test_an_unreachable_bank_defers_the_payout_to_the_batch_in_doubt(
    disburse: Any, bank: Any, store: PayoutStore, lambda_context: Any
) -> None:
    # given a bank that executes and then never answers in time
    bank.app.timeout_rate = 1.0
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=105)
    # when
    part = disburse.handler({"application_id": app.id}, lambda_context)
    # then nothing is lost and nothing is resent blindly: the loan waits, in doubt, for the batch
    assert part["payout_status"] == "QUEUED"
    record = store.get(part["loan_id"])
    assert record.in_doubt
    assert record.loan.payout_channel == "batch"
    assert len(transfers_for(bank, part["loan_id"])) == 1
    assert repo.get(app.id).status == S.DISBURSING


def test_a_refused_account_fails_the_loan_and_goes_to_the_dlq(
    disburse: Any, bank: Any, payout_cloud: Any, lambda_context: Any
) -> None:
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=106)
    bank.app.closed_accounts.add(app.request.bank_card)
    with pytest.raises(PayoutRejected):
        disburse.handler({"application_id": app.id}, lambda_context)
    failed = repo.get(app.id)
    assert failed.status == S.FAILED
    assert "account_closed" in (failed.failure_reason or "")
    messages = boto3.client("sqs").receive_message(
        QueueUrl=payout_cloud.queue_urls["PayoutDeadLetterQueue"], MaxNumberOfMessages=10
    )["Messages"]
    assert any(json.loads(m["Body"])["application_id"] == app.id for m in messages)


def test_an_instant_payout_leaves_no_queue_entry(
    disburse: Any, bank: Any, store: PayoutStore, lambda_context: Any
) -> None:
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=107)
    part = disburse.handler({"application_id": app.id}, lambda_context)
    item = store.table.get_item(Key={"PK": f"LOAN#{part['loan_id']}", "SK": "LOAN"})["Item"]
    assert "GSI2PK" not in item
