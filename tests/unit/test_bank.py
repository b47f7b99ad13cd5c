"""The bank client against the bank simulator: idempotency keys, ask-before-resend, batches."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from loanflow.bank import (
    BankClient,
    BankUnavailable,
    TransferOrder,
    TransferRejected,
    idempotency_key,
)
from localcloud import bank_sim

CARD = "6222021234567894"


def order(loan_id: str = "loan_1", amount: str = "5000.00", account: str = CARD) -> TransferOrder:
    return TransferOrder(loan_id, Decimal(amount), account, "张三")


def client(url: str, **kwargs: float) -> BankClient:
    options = {"timeout_s": 0.5, "max_attempts": 6, "backoff_s": 0.0, **kwargs}
    return BankClient(url, sleep=lambda _: None, **options)  # type: ignore[arg-type]


@pytest.fixture
def bank() -> Iterator[bank_sim.BankServer]:
    with bank_sim.serve(seed=1) as server:
        yield server


def test_idempotency_key_is_stable_and_distinct_per_loan() -> None:
    assert idempotency_key("loan_1") == idempotency_key("loan_1")
    assert idempotency_key("loan_1") != idempotency_key("loan_2")


def test_transfer_executes_once_even_when_sent_twice(bank: bank_sim.BankServer) -> None:
    c = client(bank.url)
    first = c.transfer(order())
    second = c.transfer(order())
    assert first.transfer_id == second.transfer_id
    assert len(bank.app.state.statement()) == 1


def test_invalid_account_is_rejected_for_good(bank: bank_sim.BankServer) -> None:
    with pytest.raises(TransferRejected) as info:
        client(bank.url).transfer(order(account="6222021234567895"))
    assert info.value.code == "invalid_account"
    assert bank.app.state.statement() == []


def test_key_reused_for_another_amount_is_rejected(bank: bank_sim.BankServer) -> None:
    c = client(bank.url)
    c.transfer(order())
    with pytest.raises(TransferRejected) as info:
        c.transfer(order(amount="6000.00"))
    assert info.value.code == "idempotency_key_mismatch"


def test_find_returns_none_for_a_transfer_never_executed(bank: bank_sim.BankServer) -> None:
    assert client(bank.url).find(idempotency_key("loan_never")) is None


def test_timeout_after_execution_is_resolved_by_asking_not_resending() -> None:
    # given a bank that executes every transfer and then hangs past the client's timeout
    with bank_sim.serve(timeout_rate=1.0, seed=3, hang_s=0.3) as bank:
        c = client(bank.url, timeout_s=0.1, max_attempts=2)
        # when the client transfers: every call times out, status queries included
        with pytest.raises(BankUnavailable):
            c.transfer(order())
        # then the bank executed it exactly once: the client never resent blindly
        assert len(bank.app.state.statement()) == 1
        bank.app.timeout_rate = 0.0
        # and a later attempt, in doubt, finds the executed transfer instead of paying again
        receipt = c.transfer(order(), in_doubt=True)
    assert receipt.reference == "loan_1"
    assert len(bank.app.state.statement()) == 1


def test_flaky_bank_pays_every_loan_exactly_once() -> None:
    with bank_sim.serve(failure_rate=0.3, timeout_rate=0.1, seed=7, hang_s=0.15) as bank:
        c = client(bank.url, timeout_s=0.1, max_attempts=12)
        receipts = [c.transfer(order(f"loan_{i}")) for i in range(30)]
        statement = bank.app.state.statement()
    assert len({r.transfer_id for r in receipts}) == 30
    assert sorted(t["reference"] for t in statement) == sorted(f"loan_{i}" for i in range(30))


def test_batch_reports_executed_rejected_and_retry() -> None:
    with bank_sim.serve(failure_rate=0.3, seed=11) as bank:
        c = client(bank.url)
        orders = [order(f"loan_{i}") for i in range(40)] + [order("bad", account="1234")]
        outcome = c.submit_batch(orders, batch_id="b1")
        executed_refs = {t["reference"] for t in bank.app.state.statement()}
    assert outcome.rejected == {idempotency_key("bad"): "invalid_account"}
    assert {r.reference for r in outcome.executed.values()} == executed_refs
    assert len(outcome.executed) + len(outcome.retry) + len(outcome.unknown) == 40
    assert not set(outcome.executed) & (set(outcome.retry) | set(outcome.unknown))
    # every order the bank reported as not executed really was not executed
    assert not set(outcome.retry) & {idempotency_key(r) for r in executed_refs}


def test_statement_pages_through_every_transfer(bank: bank_sim.BankServer) -> None:
    c = client(bank.url)
    c.submit_batch([order(f"loan_{i}") for i in range(1200)], batch_id="big")
    assert len(c.statement()) == 1200
