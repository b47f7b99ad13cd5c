"""Reconcile: our loans vs the bank's executed transfers vs our ledger.

For every signed loan the three must agree: exactly one bank transfer for its amount, the loan
marked SENT with that transfer, and one balanced journal entry (loan receivable / cash). The report
counts ``paid`` (one transfer), ``unpaid`` (signed but no transfer, including loans still queued
for the next batch), ``duplicated`` (more than one transfer for a loan) and lists every other
disagreement (``mismatches``), e.g. a transfer the loan has not recorded yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from loanflow.ledger import balances
from loanflow.models import ApplicationStatus, PayoutStatus
from loanflow.payouts import LoanRecord, loan_id_for

OWED = frozenset({ApplicationStatus.SIGNED.value, ApplicationStatus.DISBURSING.value})
"""Application statuses in which the applicant is owed money (FUNDED apps are checked via loans)."""


@dataclass
class ReconcileReport:
    loans: int = 0
    paid: int = 0
    unpaid: int = 0
    duplicated: int = 0
    failed: int = 0
    bank_transfers: int = 0
    ledger_entries: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.unpaid == 0 and self.duplicated == 0 and not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {
            "paid": self.paid,
            "unpaid": self.unpaid,
            "duplicated": self.duplicated,
            "failed": self.failed,
            "loans": self.loans,
            "bank_transfers": self.bank_transfers,
            "ledger_entries": self.ledger_entries,
            "mismatches": len(self.mismatches),
            "mismatch_examples": self.mismatches[:20],
            "clean": self.clean,
        }


def reconcile(
    loans: Iterable[LoanRecord],
    transfers: Iterable[dict[str, Any]],
    ledger_lines: Iterable[dict[str, Any]],
    owed_application_ids: Iterable[str] = (),
) -> ReconcileReport:
    """Compare the three records (see the module docstring)."""
    report = ReconcileReport()
    by_loan: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for transfer in transfers:
        by_loan[str(transfer.get("reference", ""))].append(transfer)
        report.bank_transfers += 1
    lines_by_loan: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in ledger_lines:
        lines_by_loan[str(line["loan_id"])].append(line)
    report.ledger_entries = len(lines_by_loan)
    known: set[str] = set()
    for record in loans:
        known.add(record.id)
        report.loans += 1
        _check_loan(report, record, by_loan.get(record.id, []), lines_by_loan.get(record.id, []))
    for application_id in owed_application_ids:
        if loan_id_for(application_id) not in known:
            report.unpaid += 1
            report.mismatches.append(f"{application_id}: signed but no loan was opened")
    for loan_id in sorted(set(by_loan) - known):
        report.mismatches.append(f"{loan_id}: {len(by_loan[loan_id])} bank transfer(s), no loan")
    for loan_id in sorted(set(lines_by_loan) - known):
        report.mismatches.append(f"{loan_id}: ledger entry without a loan")
    return report


def _check_loan(
    report: ReconcileReport,
    record: LoanRecord,
    transfers: list[dict[str, Any]],
    lines: list[dict[str, Any]],
) -> None:
    loan = record.loan
    ids = {str(t["transfer_id"]) for t in transfers}
    if len(ids) > 1:
        report.duplicated += 1
        report.mismatches.append(f"{loan.id}: paid {len(ids)} times")
    if loan.payout_status == PayoutStatus.FAILED:
        report.failed += 1
        if ids:
            report.mismatches.append(f"{loan.id}: FAILED but the bank paid it")
        return
    if not ids:
        report.unpaid += 1
        if loan.payout_status == PayoutStatus.SENT:
            report.mismatches.append(f"{loan.id}: marked SENT but the bank has no transfer")
        return
    report.paid += 1
    transfer = transfers[0]
    if Decimal(str(transfer["amount"])) != loan.principal:
        report.mismatches.append(
            f"{loan.id}: bank paid {transfer['amount']}, loan is {loan.principal}"
        )
    if loan.payout_status != PayoutStatus.SENT or record.transfer_id not in ids:
        report.mismatches.append(f"{loan.id}: the bank paid it but the loan has not recorded it")
    totals = balances(lines)
    if len(lines) != 2 or sum(totals.values(), Decimal(0)) != 0:
        report.mismatches.append(f"{loan.id}: ledger entry missing or unbalanced")
    elif totals.get("loan_receivable") != loan.principal:
        report.mismatches.append(f"{loan.id}: ledger amount differs from the loan")


def load_and_reconcile(table: Any, transfers: Iterable[dict[str, Any]]) -> ReconcileReport:
    """Read loans, ledger lines and owed applications from ``table`` (one scan) and reconcile."""
    from loanflow.payouts import LOAN_SK, record_from_item

    loans: list[LoanRecord] = []
    lines: list[dict[str, Any]] = []
    owed: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            pk, sk = str(item["PK"]), str(item["SK"])
            if pk.startswith("LOAN#") and sk == LOAN_SK:
                loans.append(record_from_item(item))
            elif pk.startswith("LOAN#") and sk.startswith("LEDGER#"):
                lines.append(item)
            elif pk.startswith("APP#") and sk == "META" and item.get("status") in OWED:
                owed.append(str(item["id"]))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return reconcile(loans, transfers, lines, owed)
