"""Double-entry bookkeeping of disbursements, in the single table.

A disbursement is one journal entry with two lines of the same amount: debit *loan receivable*
(the borrower now owes us) and credit *cash* (the money left our account). The lines' keys are
derived from the loan id, so recording the same disbursement again overwrites it with the same
content: a loan can never be booked twice, whatever is retried.

Keys: ``PK = LOAN#<loan_id>``, ``SK = LEDGER#DISBURSEMENT#1`` (debit) and ``…#2`` (credit).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loanflow.concurrency import in_parallel

LOAN_RECEIVABLE = "loan_receivable"
CASH = "cash"
LEDGER_PREFIX = "LEDGER#"
BATCH_WRITE_LIMIT = 25  # items per BatchWriteItem request (DynamoDB's limit)


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

    def record(self, disbursements: Iterable[Disbursement], *, workers: int = 1) -> None:
        """Book each disbursement (idempotent: the same loan always maps to the same two lines).

        The lines go out as BatchWriteItem requests of 25, ``workers`` requests at a time.
        """
        lines = {(line["PK"], line["SK"]): line for d in disbursements for line in journal_lines(d)}
        items = list(lines.values())
        chunks = [
            items[start : start + BATCH_WRITE_LIMIT]
            for start in range(0, len(items), BATCH_WRITE_LIMIT)
        ]
        in_parallel(self._write, chunks, workers=workers)

    def _write(self, items: list[dict[str, Any]]) -> None:
        """One BatchWriteItem, with what DynamoDB left unprocessed sent again (backing off)."""
        client = self.table.meta.client  # thread-safe, unlike the Table resource
        requests = {self.table.name: [{"PutRequest": {"Item": item}} for item in items]}
        for attempt in range(8):
            answer = client.batch_write_item(RequestItems=requests)
            requests = answer.get("UnprocessedItems") or {}
            if not requests:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))
        left = sum(len(r) for r in requests.values())
        raise RuntimeError(f"DynamoDB left {left} ledger writes unprocessed")

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
