"""Reconcile in pure logic: loans vs bank transfers vs ledger lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loanflow.ledger import Disbursement, journal_lines
from loanflow.models import Loan, PayoutStatus
from loanflow.payouts import LoanRecord
from loanflow.reconcile import reconcile

AMOUNT = Decimal("5000.00")


def loan(
    n: int, status: PayoutStatus = PayoutStatus.SENT, transfer: str | None = None
) -> LoanRecord:
    record = Loan(
        id=f"loan_{n}",
        application_id=f"app_{n}",
        owner_id="user-1",
        principal=AMOUNT,
        apr=Decimal("0.18"),
        term_months=12,
        schedule=[],
        payout_status=status,
    )
    return LoanRecord(loan=record, transfer_id=transfer or f"trf_{n}")


def transfer(n: int, transfer_id: str | None = None, amount: str = "5000.00") -> dict[str, Any]:
    return {"reference": f"loan_{n}", "transfer_id": transfer_id or f"trf_{n}", "amount": amount}


def lines(n: int) -> list[dict[str, Any]]:
    return journal_lines(Disbursement(f"loan_{n}", AMOUNT, f"trf_{n}", "2026-12-03T00:00:00+00:00"))


def test_agreeing_records_are_clean() -> None:
    report = reconcile([loan(1), loan(2)], [transfer(1), transfer(2)], lines(1) + lines(2))
    assert (report.paid, report.unpaid, report.duplicated) == (2, 0, 0)
    assert report.clean


def test_a_loan_paid_twice_is_duplicated() -> None:
    report = reconcile([loan(1)], [transfer(1), transfer(1, "trf_again")], lines(1))
    assert report.duplicated == 1
    assert not report.clean


def test_a_queued_loan_is_unpaid() -> None:
    report = reconcile([loan(1, PayoutStatus.QUEUED)], [], [])
    assert (report.paid, report.unpaid) == (0, 1)


def test_a_signed_application_without_a_loan_is_unpaid() -> None:
    report = reconcile([], [], [], owed_application_ids=["app_9"])
    assert report.unpaid == 1


def test_a_paid_loan_not_yet_recorded_is_a_mismatch_not_a_duplicate() -> None:
    report = reconcile([loan(1, PayoutStatus.QUEUED)], [transfer(1)], [])
    assert (report.paid, report.duplicated) == (1, 0)
    assert any("not recorded" in m for m in report.mismatches)
    assert any("ledger" in m for m in report.mismatches)


def test_a_failed_loan_is_counted_apart_and_must_not_be_paid() -> None:
    assert reconcile([loan(1, PayoutStatus.FAILED)], [], []).as_dict()["failed"] == 1
    report = reconcile([loan(1, PayoutStatus.FAILED)], [transfer(1)], [])
    assert not report.clean


def test_a_wrong_amount_and_an_unknown_transfer_are_reported() -> None:
    report = reconcile([loan(1)], [transfer(1, amount="5000.01"), transfer(7)], lines(1))
    assert any("bank paid 5000.01" in m for m in report.mismatches)
    assert any(m.startswith("loan_7") for m in report.mismatches)


def test_the_json_keys_are_the_contract() -> None:
    keys = reconcile([], [], []).as_dict()
    assert {"paid", "unpaid", "duplicated"} <= set(keys)
