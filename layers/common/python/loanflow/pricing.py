"""Credit line and price: how much, at what APR, over what term (formulas in docs/decisioning.md).

- APR = clamp(apr_base + apr_per_pd × PD, tier floor, apr_cap), rounded to 0.01% — and never above
  the 24% legal cap whatever the configuration says.
- Credit line = min(income × tier multiple, what the income can repay, tier ceiling, product
  ceiling) × risk tolerance, rounded down to the line step. "What the income can repay": the
  present value, at that APR over the requested term, of the monthly installment that keeps
  (existing debt + new installment) / income ≤ max_debt_to_income_after_loan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from loanflow.models import Offer
from loanflow.policy import APR_LEGAL_CAP, PolicyConfig, Tier
from loanflow.schedule import equal_installment_schedule, present_value, total_interest
from loanflow.types import CENT

APR_QUANTUM = Decimal("0.0001")
OFFER_VALIDITY = timedelta(days=7)


def price_apr(pd: float, tier: Tier, config: PolicyConfig) -> Decimal:
    """The risk-based APR for a probability of default, within the tier floor and the legal cap."""
    if tier == "D":
        raise ValueError("tier D is not priced: it is declined")
    raw = config.apr_base + config.apr_per_pd * Decimal(str(pd))
    floor = config.tiers[tier].apr_floor
    cap = min(config.apr_cap, APR_LEGAL_CAP)
    return min(max(raw, floor), cap).quantize(APR_QUANTUM, rounding=ROUND_HALF_UP)


def affordable_principal(
    monthly_income: Decimal,
    monthly_debt_payments: Decimal,
    apr: Decimal,
    term_months: int,
    config: PolicyConfig,
) -> Decimal:
    """The largest principal whose installment keeps total debt service within the DTI limit."""
    limit = Decimal(str(config.max_debt_to_income_after_loan))
    room = monthly_income * limit - monthly_debt_payments
    if room <= 0:
        return Decimal("0")
    return present_value(room, apr, term_months)


def credit_line(
    tier: Tier,
    monthly_income: Decimal,
    monthly_debt_payments: Decimal,
    apr: Decimal,
    term_months: int,
    config: PolicyConfig,
) -> Decimal:
    """The credit line, rounded down to ``line_step``; 0 when below the product minimum."""
    terms = config.tiers[tier]  # type: ignore[index]
    candidates = (
        monthly_income * terms.income_multiple,
        affordable_principal(monthly_income, monthly_debt_payments, apr, term_months, config),
        terms.max_line,
        config.product_max_line,
    )
    line = min(candidates) * config.risk_tolerance
    line = (line / config.line_step).to_integral_value(rounding=ROUND_DOWN) * config.line_step
    if line < config.product_min_line:
        return Decimal("0.00")
    return line.quantize(CENT)


def make_offer(
    *,
    requested_amount: Decimal,
    line: Decimal,
    apr: Decimal,
    term_months: int,
    start: date,
    now: datetime | None = None,
) -> Offer:
    """The offer: the requested amount up to the line, with its full repayment schedule."""
    if line <= 0:
        raise ValueError("no credit line to offer")
    amount = min(requested_amount, line).quantize(CENT)
    schedule = equal_installment_schedule(amount, apr, term_months, start)
    return Offer(
        credit_line=line,
        amount=amount,
        apr=apr,
        term_months=term_months,
        installment=schedule[0].payment,
        total_interest=total_interest(schedule),
        schedule=schedule,
        expires_at=(now or datetime.now(UTC)) + OFFER_VALIDITY,
    )
