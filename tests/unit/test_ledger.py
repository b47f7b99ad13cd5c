"""Double-entry lines of a disbursement."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from loanflow.ledger import CASH, LOAN_RECEIVABLE, Disbursement, balances, journal_lines


def test_a_disbursement_is_one_balanced_entry_of_two_lines() -> None:
    lines = journal_lines(Disbursement("loan_1", Decimal("5000.00"), "trf_1", "2026-12-03"))
    assert [(line["account"], line["side"]) for line in lines] == [
        (LOAN_RECEIVABLE, "debit"),
        (CASH, "credit"),
    ]
    assert balances(lines) == {LOAN_RECEIVABLE: Decimal("5000.00"), CASH: Decimal("-5000.00")}
    assert len({line["journal_id"] for line in lines}) == 1


def test_the_same_loan_always_maps_to_the_same_keys() -> None:
    first = journal_lines(Disbursement("loan_1", Decimal("1.00"), "trf_1", "t1"))
    again = journal_lines(Disbursement("loan_1", Decimal("1.00"), "trf_1", "t2"))
    assert [(x["PK"], x["SK"]) for x in first] == [(x["PK"], x["SK"]) for x in again]


@given(st.lists(st.decimals(min_value="0.01", max_value="200000", places=2), max_size=30))
def test_the_ledger_always_balances(amounts: list[Decimal]) -> None:
    lines = [
        line
        for i, amount in enumerate(amounts)
        for line in journal_lines(Disbursement(f"loan_{i}", amount, f"trf_{i}", "t"))
    ]
    assert sum(balances(lines).values(), Decimal(0)) == 0
