"""Find synthetic applicants whom the real model and policy put in a given tier.

Nothing here fixes a score: a candidate's features are assembled exactly as the workflow assembles
them (the form, the bureau simulator's report for that ID number, no prior applications), scored by
the shipped LightGBM model and judged by the default policy; the search walks seeded candidates
until one lands where a test needs it. The workflow test then runs that applicant for real.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from loanflow.bureau import parse_report
from loanflow.features import ScoringFeatures
from loanflow.models import ApplicationRequest
from loanflow.policy import DEFAULT_POLICY, PolicyDecision, PolicyInput, decide
from loanflow.scoring import Scorer
from loanflow.types import age_on, id_birth_date
from loanflow.validation import CHINA_STANDARD_TIME
from loanflow_ml.paths import SHIPPED_MODEL_DIR, lightgbm_library
from localcloud.bureau_sim import credit_report
from tests.support.identities import application_body

INCOMES = ("3000.00", "4500.00", "6000.00", "9000.00", "15000.00", "30000.00")
EMPLOYMENTS = ("salaried", "civil_servant", "self_employed", "freelance")
AMOUNTS = ("2000.00", "5000.00", "10000.00", "20000.00", "40000.00")


@cache
def scorer() -> Scorer:
    return Scorer.load(SHIPPED_MODEL_DIR, str(lightgbm_library()))


def predict(body: dict[str, Any], at: datetime | None = None) -> tuple[PolicyDecision, float]:
    """What the workflow will decide for a first-time applicant submitting ``body`` at ``at``."""
    at = at or datetime.now(UTC)
    request = ApplicationRequest.model_validate(body)
    report = parse_report(credit_report(request.id_number))
    local = at.astimezone(CHINA_STANDARD_TIME)
    features = ScoringFeatures(
        age=age_on(id_birth_date(request.id_number), local.date()),
        monthly_income=float(request.monthly_income),
        employment=request.employment,
        requested_amount=float(request.amount),
        term_months=request.term_months,
        debt_to_income=round(float(report.monthly_debt_payments / request.monthly_income), 4),
        bureau_score=report.score,
        bureau_history_months=report.history_months,
        bureau_open_accounts=report.open_accounts,
        bureau_inquiries_6m=report.inquiries_6m,
        bureau_delinquencies_24m=report.delinquencies_24m,
        bureau_max_dpd_24m=report.max_dpd_24m,
        bureau_utilization=report.utilization,
        form_fill_seconds=request.device.form_fill_seconds,
        application_hour=local.hour,
    )
    result = scorer().score(features)
    verdict = decide(
        PolicyInput(
            features=features,
            pd=result.pd,
            has_bureau_file=report.has_file,
            monthly_debt_payments=report.monthly_debt_payments,
        ),
        DEFAULT_POLICY,
    )
    return verdict, result.pd


def find_applicant(
    wanted: Callable[[PolicyDecision], bool], *, seeds: int = 3000, **overrides: Any
) -> dict[str, Any]:
    """The first seeded candidate body whose predicted decision satisfies ``wanted``."""
    at = datetime.now(UTC)
    for seed in range(seeds):
        rng = random.Random(seed)
        body = application_body(
            rng,
            monthly_income=rng.choice(INCOMES),
            employment=rng.choice(EMPLOYMENTS),
            amount=rng.choice(AMOUNTS),
            **overrides,
        )
        if Decimal(str(body["amount"])) < Decimal("500"):
            continue
        verdict, _ = predict(body, at)
        if wanted(verdict):
            return body
    raise LookupError("no synthetic applicant fits; widen the search")
