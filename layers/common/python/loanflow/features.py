"""The model's input features: one definition shared by training, the workflow and serving.

The decision workflow builds a :class:`ScoringFeatures` from the applicant's form, the credit bureau
report and the behaviour signals; the training pipeline generates and reads columns with exactly
these names; the scoring runtime orders them by :data:`FEATURE_NAMES`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Employment = Literal[
    "salaried", "civil_servant", "self_employed", "freelance", "student", "unemployed", "retired"
]
EMPLOYMENT_VALUES: tuple[str, ...] = (
    "salaried",
    "civil_servant",
    "self_employed",
    "freelance",
    "student",
    "unemployed",
    "retired",
)


class ScoringFeatures(BaseModel):
    """One applicant as the credit model sees them. ``None`` means "unknown" (e.g. no bureau file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    age: Annotated[int, Field(ge=16, le=80, description="Age in whole years at application")]
    monthly_income: Annotated[float, Field(ge=0, description="Declared monthly income, CNY")]
    employment: Annotated[Employment, Field(description="Employment category")]
    requested_amount: Annotated[float, Field(gt=0, description="Requested principal, CNY")]
    term_months: Annotated[int, Field(ge=1, le=60, description="Requested term in months")]
    debt_to_income: Annotated[
        float, Field(ge=0, description="Existing monthly debt service / monthly income")
    ]
    bureau_score: Annotated[
        float | None, Field(ge=300, le=900, description="Bureau score, None without a file")
    ] = None
    bureau_history_months: Annotated[int, Field(ge=0, description="Age of the oldest account")] = 0
    bureau_open_accounts: Annotated[int, Field(ge=0)] = 0
    bureau_inquiries_6m: Annotated[
        int, Field(ge=0, description="Hard inquiries, last 6 months")
    ] = 0
    bureau_delinquencies_24m: Annotated[
        int, Field(ge=0, description="Late payments, 24 months")
    ] = 0
    bureau_max_dpd_24m: Annotated[
        int, Field(ge=0, description="Worst days past due, 24 months")
    ] = 0
    bureau_utilization: Annotated[
        float | None, Field(ge=0, description="Revolving balance / limit, None without a file")
    ] = None
    velocity_id_24h: Annotated[int, Field(ge=0, description="Applications by this ID, 24 h")] = 0
    velocity_device_24h: Annotated[
        int, Field(ge=0, description="Applications from device, 24 h")
    ] = 0
    velocity_phone_24h: Annotated[int, Field(ge=0, description="Applications by phone, 24 h")] = 0
    velocity_ip_1h: Annotated[int, Field(ge=0, description="Applications from this IP, 1 h")] = 0
    form_fill_seconds: Annotated[float, Field(ge=0, description="Time spent filling the form")] = (
        120
    )
    application_hour: Annotated[int, Field(ge=0, le=23, description="Local hour of submission")] = (
        12
    )
    device_ip_mismatch: Annotated[
        int, Field(ge=0, le=1, description="Device region ≠ IP region")
    ] = 0
    returning_customer: Annotated[
        int, Field(ge=0, le=1, description="Has repaid a loan with us")
    ] = 0


FEATURE_NAMES: tuple[str, ...] = tuple(ScoringFeatures.model_fields)
CATEGORICAL_FEATURES: tuple[str, ...] = ("employment",)
