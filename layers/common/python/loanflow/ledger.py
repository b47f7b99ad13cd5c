"""Double-entry bookkeeping of disbursements, in the single table.

A disbursement is one journal entry with two lines of the same amount: debit *loan receivable*
(the borrower now owes us) and credit *cash* (the money left our account). The lines' keys are
derived from the loan id, so recording the same disbursement again overwrites it with the same
content: a loan can never be booked twice, whatever is retried.

Keys: ``PK = LOAN#<loan_id>``, ``SK = LEDGER#DISBURSEMENT#1`` (debit) and ``…#2`` (credit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

LOAN_RECEIVABLE = "loan_receivable"
CASH = "cash"
LEDGER_PREFIX = "LEDGER#"


def loan_pk(loan_id: str) -> str:
    return f"LOAN#{loan_id}"


@dataclass(frozen=True)
class Disbursement:
    """One paid loan, as the bank executed it."""

    loan_id: str
    amount: Decimal
    transfer_id: str
    executed_at: str


def journal_lines(d: Disbursement) -> list[dict[str, Any]]:
    """The two balanced lines of a disbursement's journal entry (DynamoDB items)."""
    journal_id = f"DISBURSEMENT#{d.loan_id}"
    common = {
        "PK": loan_pk(d.loan_id),
        "journal_id": journal_id,
        "kind": "disbursement",
        "loan_id": d.loan_id,
        "amount": str(d.amount),
        "currency": "CNY",
        "transfer_id": d.transfer_id,
        "booked_at": d.executed_at,
    }
    return [
        {
            **common,
            "SK": f"{LEDGER_PREFIX}DISBURSEMENT#1",
            "account": LOAN_RECEIVABLE,
            "side": "debit",
        },
        {**common, "SK": f"{LEDGER_PREFIX}DISBURSEMENT#2", "account": CASH, "side": "credit"},
    ]


class Ledger:
    """Writes and reads journal lines."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def record(self, disbursements: Iterable[Disbursement]) -> None:
        """Book each disbursement (idempotent: the same loan always maps to the same two lines)."""
        with self.table.batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
            for d in disbursements:
                for line in journal_lines(d):
                    batch.put_item(Item=line)

    def lines_for(self, loan_id: str) -> list[dict[str, Any]]:
        answer = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :l)",
            ExpressionAttributeValues={":pk": loan_pk(loan_id), ":l": LEDGER_PREFIX},
            ConsistentRead=True,
        )
        return list(answer.get("Items", []))

    def all_lines(self) -> Iterator[dict[str, Any]]:
        """Every journal line in the table (reconcile; a scan, fine for an operator's check)."""
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(SK, :l)",
            "ExpressionAttributeValues": {":l": LEDGER_PREFIX},
        }
        while True:
            page = self.table.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def balances(lines: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    """Net balance per account (debits positive): a correct ledger sums to zero overall."""
    totals: dict[str, Decimal] = {}
    for line in lines:
        sign = 1 if line["side"] == "debit" else -1
        totals[line["account"]] = totals.get(line["account"], Decimal(0)) + sign * Decimal(
            str(line["amount"])
        )
    return totals
