"""The equal-installment (等额本息) repayment schedule, in Decimal.

Every installment but the last pays the same amount, rounded to the fen; each month's interest is
the outstanding balance times the monthly rate, rounded to the fen; the last installment repays
whatever balance is left, so it absorbs every rounding difference. By construction the principal
parts sum exactly to the principal, and the payments sum exactly to principal + total interest.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from loanflow.models import Installment
from loanflow.types import CENT

MONTHS_PER_YEAR = Decimal(12)


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to a shorter month's end (31 Jan + 1 → 28/29 Feb)."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def monthly_rate(apr: Decimal) -> Decimal:
    """The nominal monthly rate of an annual percentage rate (APR / 12), unrounded."""
    return apr / MONTHS_PER_YEAR


def level_payment(principal: Decimal, apr: Decimal, term_months: int) -> Decimal:
    """The level monthly payment P·r·(1+r)^n / ((1+r)^n − 1), rounded to the fen (P/n at 0%)."""
    if term_months < 1:
        raise ValueError("term_months must be at least 1")
    if principal <= 0:
        raise ValueError("principal must be positive")
    if apr < 0:
        raise ValueError("apr must not be negative")
    rate = monthly_rate(apr)
    if rate == 0:
        return (principal / term_months).quantize(CENT, rounding=ROUND_HALF_UP)
    growth = (1 + rate) ** term_months
    return (principal * rate * growth / (growth - 1)).quantize(CENT, rounding=ROUND_HALF_UP)


def present_value(payment: Decimal, apr: Decimal, term_months: int) -> Decimal:
    """The principal that ``payment`` a month for ``term_months`` repays at ``apr`` (unrounded)."""
    rate = monthly_rate(apr)
    if rate == 0:
        return payment * term_months
    return payment * (1 - (1 + rate) ** -term_months) / rate


def equal_installment_schedule(
    principal: Decimal, apr: Decimal, term_months: int, start: date
) -> list[Installment]:
    """The full schedule: installment ``k`` falls due ``k`` months after ``start``."""
    principal = principal.quantize(CENT)
    rate = monthly_rate(apr)
    payment = level_payment(principal, apr, term_months)
    balance = principal
    installments: list[Installment] = []
    for number in range(1, term_months + 1):
        interest = (balance * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        # The last installment repays what is left; none repays more than is owed.
        last = number == term_months
        principal_part = balance if last else min(payment - interest, balance)
        balance -= principal_part
        installments.append(
            Installment(
                number=number,
                due_date=add_months(start, number),
                payment=principal_part + interest,
                principal=principal_part,
                interest=interest,
                balance=balance,
            )
        )
    return installments


def total_interest(schedule: list[Installment]) -> Decimal:
    return sum((i.interest for i in schedule), Decimal("0.00"))
