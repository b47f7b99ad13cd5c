"""A seeded generator of synthetic applicants and their repayment outcome.

Every column of :data:`loanflow.features.FEATURE_NAMES` is produced, plus the binary target
``default`` (1 = the loan went 90+ days past due). The generative process, in order:

1. **Hidden creditworthiness** ``h ~ N(0, 1)`` per applicant (higher = riskier). It is never a column:
   the model only sees its traces in the bureau file and the behaviour signals.
2. **Demographics**: ``age`` (18–70, skewed young); ``employment`` drawn with age-dependent weights
   (students are young, the retired old).
3. **Income**: log-normal around an employment-specific median, rising with age up to ~45;
   ``debt_to_income`` is gamma-distributed and rises with ``h``.
4. **Request**: ``requested_amount`` is a log-normal multiple of monthly income (riskier people ask
   for larger multiples), rounded to 100 CNY; ``term_months`` from the usual menu.
5. **Bureau file**: present with a probability that grows with age and formal employment; when
   absent, ``bureau_score`` and ``bureau_utilization`` are missing and the counts are 0. When present,
   the score, utilisation, delinquencies, worst days past due and inquiries are all noisy functions
   of ``h``.
6. **Behaviour**: application velocity (per ID, device, phone, IP), form-filling time, hour of day
   and device/IP region mismatch. A small "fraud ring" share (``fraud_share``) applies at night,
   fast, from shared devices; returning customers are less risky.
7. **Outcome**: ``logit(P(default)) = intercept + 1.1·h + Σ effects`` where the effects (listed in
   :func:`_default_logit`) come from income, debt, loan size relative to income, term, employment,
   age, the bureau file's absence, past delinquencies (their count and a 60+ days past due flag:
   past behaviour has its own weight beyond ``h``) and the fraud flag. ``default ~ Bernoulli(P)``; the intercept is set
   so that the default rate is about 12–13 %.

The same ``seed`` always gives the same frame (NumPy's PCG64 generator).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loanflow.features import EMPLOYMENT_VALUES, FEATURE_NAMES

TARGET = "default"

_EMPLOYMENT_MEDIAN_INCOME = {
    "salaried": 8000.0,
    "civil_servant": 9000.0,
    "self_employed": 9500.0,
    "freelance": 6500.0,
    "student": 1500.0,
    "unemployed": 1200.0,
    "retired": 4000.0,
}
_EMPLOYMENT_RISK = {
    "salaried": 0.0,
    "civil_servant": -0.5,
    "self_employed": 0.25,
    "freelance": 0.35,
    "student": 0.45,
    "unemployed": 0.9,
    "retired": 0.1,
}
_TERMS = np.array([3, 6, 12, 18, 24, 36])
_TERM_WEIGHTS = np.array([0.12, 0.22, 0.33, 0.1, 0.15, 0.08])


def generate(n: int, seed: int = 7, *, fraud_share: float = 0.03) -> pd.DataFrame:
    """``n`` synthetic applicants: the model's feature columns plus the ``default`` target."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(n)

    age = np.clip(np.round(18 + rng.gamma(shape=3.0, scale=5.5, size=n)), 18, 70).astype(int)
    employment = _draw_employment(rng, age)
    fraud = rng.random(n) < fraud_share

    median = np.array([_EMPLOYMENT_MEDIAN_INCOME[e] for e in employment])
    age_curve = 1.0 + 0.35 * np.clip((np.minimum(age, 45) - 22) / 23, 0, 1)
    income = np.round(median * age_curve * np.exp(rng.normal(0, 0.45, n) - 0.12 * h), -1)
    income = np.maximum(income, 0.0)

    debt_to_income = np.round(rng.gamma(2.0, 0.12, n) * np.exp(0.35 * h), 3)
    multiple = np.exp(rng.normal(0.4, 0.6, n) + 0.2 * h + 0.8 * fraud)
    requested = np.maximum(np.round(np.maximum(income, 1000.0) * multiple, -2), 500.0)
    term = rng.choice(_TERMS, size=n, p=_TERM_WEIGHTS)

    formal = np.isin(employment, ["salaried", "civil_servant", "retired"])
    p_file = np.clip(0.35 + 0.012 * (age - 18) + 0.25 * formal, 0.0, 0.97)
    has_file = rng.random(n) < p_file
    history = np.where(has_file, np.round(rng.uniform(0.2, 1.0, n) * (age - 17) * 12), 0)
    bureau_score = np.clip(np.round(640 - 70 * h + rng.normal(0, 45, n)), 300, 900)
    utilization = np.clip(rng.beta(2, 4, n) * np.exp(0.45 * h), 0, 1.6)
    delinquencies = rng.poisson(np.exp(-1.2 + 0.9 * h))
    max_dpd = np.where(
        delinquencies > 0, np.minimum(delinquencies * rng.choice([15, 30, 60], n), 180), 0
    )
    open_accounts = rng.poisson(np.clip(2.0 + 0.6 * h + history / 120, 0.2, None))
    inquiries = rng.poisson(np.exp(-0.3 + 0.45 * h + 1.2 * fraud))

    velocity_id = rng.poisson(0.15 + 2.5 * fraud)
    velocity_device = velocity_id + rng.poisson(0.1 + 4.0 * fraud)
    velocity_phone = rng.poisson(0.1 + 2.0 * fraud)
    velocity_ip = rng.poisson(0.2 + 5.0 * fraud)
    form_fill = np.round(np.where(fraud, rng.gamma(2, 8, n), rng.gamma(4, 35, n)), 1)
    day_hour = np.clip(np.round(rng.normal(14, 4, n)), 0, 23)
    night_hour = rng.integers(0, 6, n)
    hour = np.where(fraud | (rng.random(n) < 0.05), night_hour, day_hour).astype(int)
    mismatch = (rng.random(n) < np.where(fraud, 0.7, 0.05)).astype(int)
    returning = (rng.random(n) < np.clip(0.2 - 0.08 * h, 0.01, 0.6)).astype(int)

    frame = pd.DataFrame(
        {
            "age": age,
            "monthly_income": income,
            "employment": employment,
            "requested_amount": requested,
            "term_months": term,
            "debt_to_income": debt_to_income,
            "bureau_score": np.where(has_file, bureau_score, np.nan),
            "bureau_history_months": history.astype(int),
            "bureau_open_accounts": np.where(has_file, open_accounts, 0),
            "bureau_inquiries_6m": np.where(has_file, inquiries, 0),
            "bureau_delinquencies_24m": np.where(has_file, delinquencies, 0),
            "bureau_max_dpd_24m": np.where(has_file, max_dpd, 0).astype(int),
            "bureau_utilization": np.where(has_file, np.round(utilization, 3), np.nan),
            "velocity_id_24h": velocity_id,
            "velocity_device_24h": velocity_device,
            "velocity_phone_24h": velocity_phone,
            "velocity_ip_1h": velocity_ip,
            "form_fill_seconds": form_fill,
            "application_hour": hour,
            "device_ip_mismatch": mismatch,
            "returning_customer": returning,
        }
    )
    assert tuple(frame.columns) == FEATURE_NAMES, "the generator must follow loanflow.features"

    logit = _default_logit(frame, h, fraud, has_file)
    frame[TARGET] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return frame


def _draw_employment(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Employment with age-dependent weights, in the order of ``EMPLOYMENT_VALUES``."""
    base = np.array([0.50, 0.10, 0.14, 0.12, 0.0, 0.08, 0.0])
    weights = np.tile(base, (len(age), 1))
    weights[:, 4] = np.where(age <= 24, 0.45, 0.0)  # student
    weights[:, 6] = np.where(age >= 55, 0.9, 0.0)  # retired
    weights /= weights.sum(axis=1, keepdims=True)
    cumulative = weights.cumsum(axis=1)
    picks = (rng.random(len(age))[:, None] > cumulative).sum(axis=1)
    return np.array(EMPLOYMENT_VALUES, dtype=object)[np.minimum(picks, len(EMPLOYMENT_VALUES) - 1)]


def _default_logit(
    frame: pd.DataFrame, h: np.ndarray, fraud: np.ndarray, has_file: np.ndarray
) -> np.ndarray:
    """The documented latent risk: hidden creditworthiness plus observable effects."""
    income = np.maximum(frame["monthly_income"].to_numpy(), 300.0)
    installment_ratio = frame["requested_amount"].to_numpy() / frame["term_months"].to_numpy()
    burden = installment_ratio / income
    employment_risk = frame["employment"].map(_EMPLOYMENT_RISK).to_numpy(dtype=float)
    age = frame["age"].to_numpy()
    return (
        -3.15
        + 1.1 * h
        + 0.9 * np.clip(frame["debt_to_income"].to_numpy() - 0.4, 0, 2)
        + 0.8 * np.clip(np.log(burden / 0.15), -1.5, 2.0)
        - 0.35 * np.log(income / 6000.0)
        + 0.02 * (frame["term_months"].to_numpy() - 12)
        + employment_risk
        + 0.5 * (age < 23)
        + 0.35 * ~has_file
        + 0.3 * np.minimum(frame["bureau_delinquencies_24m"].to_numpy(), 5)
        + 0.5 * (frame["bureau_max_dpd_24m"].to_numpy() >= 60)
        + 2.2 * fraud
        - 0.6 * frame["returning_customer"].to_numpy()
    )
