"""Credit policy: knock-outs, hard declines, fraud rules, tiers A/B/C/D and plain-word reasons.

The numbers live in :class:`PolicyConfig`, read at run time from an SSM parameter (JSON) through
powertools ``parameters`` with a short cache, so risk can tighten or loosen the platform's "risk
tolerance" without a deploy (``docs/decisioning.md`` lists every key). The template declares the
parameter with :data:`DEFAULT_POLICY` as its value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Literal

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, model_validator

from loanflow.features import ScoringFeatures
from loanflow.models import Reason

Tier = Literal["A", "B", "C", "D"]
Outcome = Literal["approved", "declined", "review"]
APR_LEGAL_CAP = Decimal("0.24")
"""The PRC judicial cap on private lending interest that platforms follow: never priced above."""

POLICY_PARAMETER_ENV = "POLICY_PARAMETER_NAME"
POLICY_CACHE_ENV = "POLICY_CACHE_SECONDS"

# --- reason codes, in words an applicant understands --------------------------------------------

REASON_TEXTS: dict[str, str] = {
    "ID_INVALID": "The ID number is not a valid resident ID number.",
    "AGE_OUT_OF_RANGE": "Applicants must be 18 or older, and no older than {max_age} when the "
    "loan ends.",
    "PHONE_INVALID": "The phone number is not a valid mainland mobile number.",
    "BANK_CARD_INVALID": "The bank card number is not valid.",
    "BLOCKED_ID": "We cannot offer a loan to this ID number.",
    "BLOCKED_PHONE": "We cannot offer a loan to this phone number.",
    "BLOCKED_DEVICE": "Applications from this device cannot be accepted.",
    "INCOME_TOO_LOW": "Your monthly income is below the minimum of {min_income} yuan.",
    "DEBT_TOO_HIGH": "Your existing debt repayments take too large a share of your income.",
    "SERIOUS_DELINQUENCY": "Your credit report shows a payment more than {max_dpd} days late in "
    "the last two years.",
    "TOO_MANY_INQUIRIES": "Your credit report shows many recent applications for credit.",
    "TOO_MANY_APPLICATIONS": "There have been too many applications with your details in a short "
    "time.",
    "HIGH_RISK_SCORE": "Your overall credit risk is above what we can lend to today.",
    "INSUFFICIENT_CAPACITY": "Your income does not leave room to repay the smallest loan we offer.",
    "BUREAU_UNAVAILABLE": "The credit bureau could not be reached; a person will review your "
    "application.",
    "NO_CREDIT_FILE": "You have no credit history yet; a person will review your application.",
    "FORM_FILLED_TOO_FAST": "The application was completed unusually fast; a person will check it.",
    "DEVICE_LOCATION_MISMATCH": "Your device and network locations differ; a person will check it.",
    "BORDERLINE_RISK": "Your application needs a closer look by a person.",
    "REVIEW_DECLINED": "A credit officer reviewed your application and could not approve it.",
}


def reason(code: str, **values: object) -> Reason:
    return Reason(code=code, text=REASON_TEXTS[code].format(**values))


# --- configuration -------------------------------------------------------------------------------


class TierTerms(BaseModel):
    """What a tier may borrow and at what price floor."""

    model_config = ConfigDict(extra="forbid")

    income_multiple: Annotated[
        Decimal, Field(gt=0, description="Credit line ≤ monthly income × this")
    ]
    max_line: Annotated[Decimal, Field(gt=0, description="Credit line ceiling for the tier, CNY")]
    apr_floor: Annotated[Decimal, Field(ge=0, le=APR_LEGAL_CAP, description="Lowest APR")]


class PolicyConfig(BaseModel):
    """Every number the decision uses. Validated, so a bad edit fails loudly, not silently."""

    model_config = ConfigDict(extra="forbid")

    version: str = "2026-12-01"
    # knock-outs (ValidateApplicant)
    min_age: int = 18
    max_age_at_term_end: int = 60
    # hard declines
    min_monthly_income: Decimal = Decimal("1500")
    max_debt_to_income: float = 0.55
    max_dpd_24m: Annotated[int, Field(description="Worst days past due allowed (24 months)")] = 60
    max_inquiries_6m: int = 12
    # fraud: velocity above these declines
    max_velocity_id_24h: int = 3
    max_velocity_phone_24h: int = 3
    max_velocity_device_24h: int = 4
    max_velocity_ip_1h: int = 10
    # soft signals that send an otherwise approvable application to a person
    min_form_fill_seconds: float = 20.0
    review_on_device_ip_mismatch: bool = True
    no_file_max_auto_amount: Decimal = Decimal("3000")
    # tiers by probability of default
    tier_a_max_pd: Annotated[float, Field(gt=0, lt=1)] = 0.04
    tier_b_max_pd: Annotated[float, Field(gt=0, lt=1)] = 0.10
    tier_c_max_pd: Annotated[float, Field(gt=0, lt=1)] = 0.22
    # pricing and credit line
    apr_base: Annotated[Decimal, Field(ge=0, le=APR_LEGAL_CAP)] = Decimal("0.060")
    apr_per_pd: Annotated[Decimal, Field(ge=0, description="APR added per unit of PD")] = Decimal(
        "1.20"
    )
    apr_cap: Annotated[Decimal, Field(gt=0, le=APR_LEGAL_CAP)] = APR_LEGAL_CAP
    max_debt_to_income_after_loan: float = 0.50
    risk_tolerance: Annotated[
        Decimal, Field(gt=0, le=2, description="Portfolio appetite: scales every credit line")
    ] = Decimal("1.0")
    product_min_line: Decimal = Decimal("500")
    product_max_line: Decimal = Decimal("200000")
    line_step: Decimal = Decimal("100")
    tiers: dict[Literal["A", "B", "C"], TierTerms] = {
        "A": TierTerms(
            income_multiple=Decimal("8"), max_line=Decimal("200000"), apr_floor=Decimal("0.072")
        ),
        "B": TierTerms(
            income_multiple=Decimal("5"), max_line=Decimal("80000"), apr_floor=Decimal("0.108")
        ),
        "C": TierTerms(
            income_multiple=Decimal("3"), max_line=Decimal("30000"), apr_floor=Decimal("0.150")
        ),
    }
    # manual review
    review_timeout_seconds: Annotated[int, Field(ge=1, le=7 * 86400)] = 86400
    # fast lane at submission
    fast_lane_max_amount: Decimal = Decimal("20000")
    fast_lane_min_income: Decimal = Decimal("8000")
    fast_lane_employment: list[str] = ["salaried", "civil_servant"]

    @model_validator(mode="after")
    def _ordered(self) -> PolicyConfig:
        if not self.tier_a_max_pd < self.tier_b_max_pd < self.tier_c_max_pd:
            raise ValueError("tier thresholds must rise: tier_a_max_pd < tier_b < tier_c")
        if self.product_min_line > self.product_max_line:
            raise ValueError("product_min_line must not exceed product_max_line")
        return self


DEFAULT_POLICY = PolicyConfig()


def load_policy(parameter_name: str | None = None, *, max_age: int | None = None) -> PolicyConfig:
    """The policy in force: the SSM parameter POLICY_PARAMETER_NAME names, cached ``max_age`` s."""
    name = parameter_name or os.environ.get(POLICY_PARAMETER_ENV)
    if not name:
        raise RuntimeError(f"loanflow is not configured: {POLICY_PARAMETER_ENV} is required")
    ttl = max_age if max_age is not None else int(os.environ.get(POLICY_CACHE_ENV, "60"))
    raw = parameters.get_parameter(name, max_age=ttl)
    return PolicyConfig.model_validate_json(raw)


# --- the decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInput:
    """What the rules look at: the model's features, its verdict, and what the checks found."""

    features: ScoringFeatures
    pd: float
    score_reasons: list[Reason] = field(default_factory=list)
    bureau_available: bool = True
    has_bureau_file: bool = True
    monthly_debt_payments: Decimal = Decimal("0")
    fast_lane: bool = False
    # the CrossCheck state's verdict on the documents (loanflow.crosscheck): reasons that decline
    # (someone else's ID card) and reasons a person must look at (expired ID, re-upload needed)
    document_declines: list[Reason] = field(default_factory=list)
    document_reviews: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyDecision:
    outcome: Outcome
    tier: Tier
    reasons: list[Reason]
    review_priority: int = 0


def tier_for_pd(pd: float, config: PolicyConfig) -> Tier:
    if pd <= config.tier_a_max_pd:
        return "A"
    if pd <= config.tier_b_max_pd:
        return "B"
    if pd <= config.tier_c_max_pd:
        return "C"
    return "D"


def hard_declines(p: PolicyInput, config: PolicyConfig) -> list[Reason]:
    """Rules that decline whatever the score says."""
    f = p.features
    found: list[Reason] = list(p.document_declines)
    if Decimal(str(f.monthly_income)) < config.min_monthly_income:
        found.append(reason("INCOME_TOO_LOW", min_income=config.min_monthly_income))
    if f.debt_to_income > config.max_debt_to_income:
        found.append(reason("DEBT_TOO_HIGH"))
    if f.bureau_max_dpd_24m > config.max_dpd_24m:
        found.append(reason("SERIOUS_DELINQUENCY", max_dpd=config.max_dpd_24m))
    if f.bureau_inquiries_6m > config.max_inquiries_6m:
        found.append(reason("TOO_MANY_INQUIRIES"))
    if (
        f.velocity_id_24h > config.max_velocity_id_24h
        or f.velocity_phone_24h > config.max_velocity_phone_24h
        or f.velocity_device_24h > config.max_velocity_device_24h
        or f.velocity_ip_1h > config.max_velocity_ip_1h
    ):
        found.append(reason("TOO_MANY_APPLICATIONS"))
    return found


def review_triggers(p: PolicyInput, config: PolicyConfig) -> list[Reason]:
    """Signals that make an otherwise approvable application wait for a person."""
    f = p.features
    found: list[Reason] = list(p.document_reviews)
    if not p.bureau_available:
        found.append(reason("BUREAU_UNAVAILABLE"))
    elif (
        not p.has_bureau_file and Decimal(str(f.requested_amount)) > config.no_file_max_auto_amount
    ):
        found.append(reason("NO_CREDIT_FILE"))
    if f.form_fill_seconds < config.min_form_fill_seconds:
        found.append(reason("FORM_FILLED_TOO_FAST"))
    if config.review_on_device_ip_mismatch and f.device_ip_mismatch:
        found.append(reason("DEVICE_LOCATION_MISMATCH"))
    return found


def decide(p: PolicyInput, config: PolicyConfig) -> PolicyDecision:
    """Apply the policy: hard declines, then the PD tier, then the review triggers.

    A declined applicant gets the hard-decline reasons, or the model's top adverse reasons.
    """
    declines = hard_declines(p, config)
    if declines:
        return PolicyDecision("declined", "D", declines)
    tier = tier_for_pd(p.pd, config)
    if tier == "D":
        return PolicyDecision("declined", "D", [reason("HIGH_RISK_SCORE"), *p.score_reasons[:3]])
    triggers = review_triggers(p, config)
    if tier == "C" or triggers:
        reasons = triggers or [reason("BORDERLINE_RISK"), *p.score_reasons[:3]]
        return PolicyDecision("review", "C", reasons, review_priority(p, config))
    return PolicyDecision("approved", tier, [])


def review_priority(p: PolicyInput, config: PolicyConfig) -> int:
    """0–999, higher is looked at first: customers we kept waiting, fast-lane, then the largest."""
    priority = 0
    if not p.bureau_available:
        priority += 400
    if p.fast_lane:
        priority += 300
    amount = Decimal(str(p.features.requested_amount))
    priority += int(min(Decimal(299), amount / config.product_max_line * 299))
    return min(priority, 999)
