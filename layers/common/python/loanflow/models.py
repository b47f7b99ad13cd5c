"""What the data is: the application as the applicant sends it, as the platform stores it, and the
decision, offer, loan and audit trail attached to it. Pydantic v2; the same models generate the
OpenAPI document."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loanflow.features import Employment
from loanflow.types import BankCard, IdNumber, LoanAmount, Money, Phone, age_on, id_birth_date


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApplicationStatus(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    DECLINED = "DECLINED"
    IN_REVIEW = "IN_REVIEW"
    APPROVED = "APPROVED"
    AWAITING_SIGNATURE = "AWAITING_SIGNATURE"
    SIGNED = "SIGNED"
    DISBURSING = "DISBURSING"
    FUNDED = "FUNDED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class Purpose(StrEnum):
    CONSUMPTION = "consumption"
    EDUCATION = "education"
    MEDICAL = "medical"
    TRAVEL = "travel"
    HOME = "home_improvement"
    BUSINESS = "small_business"
    EMERGENCY = "emergency"
    OTHER = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeviceInfo(_Strict):
    """The phone the application was sent from, as the app reports it."""

    device_id: Annotated[str, Field(min_length=4, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
    ip: Annotated[IPv4Address | IPv6Address, Field(description="Client IP address")]
    app_version: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z.\-+]+$")]
    form_fill_seconds: Annotated[
        float, Field(ge=0, le=86_400, description="Seconds the applicant spent filling the form")
    ]


Name = Annotated[
    str,
    Field(
        min_length=2,
        max_length=40,
        pattern=r"^[\u3400-\u9fffA-Za-z·•.\- ]+$",
        description="Legal name as on the ID card",
        examples=["张三"],
    ),
]


class Applicant(_Strict):
    """Who applies: the identity and contact data (PII: encrypted at rest)."""

    name: Name
    id_number: IdNumber
    phone: Phone
    bank_card: BankCard
    address: Annotated[str, Field(min_length=4, max_length=200, description="Home address")]

    def birth_date(self) -> date:
        return id_birth_date(self.id_number)

    def age_on(self, when: date) -> int:
        return age_on(self.birth_date(), when)


class ApplicationRequest(Applicant):
    """The body of ``POST /applications``."""

    monthly_income: Annotated[Money, Field(description="Declared monthly income, CNY")]
    employment: Employment
    amount: LoanAmount
    term_months: Annotated[
        int, Field(ge=3, le=36, description="Requested term in months", examples=[12])
    ]
    purpose: Purpose
    device: DeviceInfo
    document_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^doc_[0-9A-Z]{26}$")]],
        Field(max_length=8, description="Uploaded documents to attach (optional)"),
    ] = []

    def applicant(self) -> Applicant:
        return Applicant.model_validate(self.model_dump(include=set(Applicant.model_fields)))


class Reason(BaseModel):
    code: str
    text: str


class Decision(BaseModel):
    outcome: Literal["approved", "declined", "review"]
    tier: Literal["A", "B", "C", "D"] | None = None
    score: int | None = None
    pd: float | None = None
    reasons: list[Reason] = []
    decided_by: str = "policy"
    decided_at: datetime = Field(default_factory=utcnow)


class Installment(BaseModel):
    number: int
    due_date: date
    payment: Money
    principal: Money
    interest: Money
    balance: Money


class Offer(BaseModel):
    credit_line: Money
    amount: Money
    apr: Annotated[Decimal, Field(description="Annual percentage rate, e.g. 0.1800 for 18%")]
    term_months: int
    installment: Money
    total_interest: Money
    schedule: list[Installment]
    expires_at: datetime | None = None


class PayoutStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class Loan(BaseModel):
    id: str
    application_id: str
    owner_id: str
    principal: Money
    apr: Decimal
    term_months: int
    schedule: list[Installment]
    payout_status: PayoutStatus = PayoutStatus.PENDING
    payout_channel: Literal["instant", "batch"] | None = None
    created_at: datetime = Field(default_factory=utcnow)
    funds_sent_at: datetime | None = None


class DocumentType(StrEnum):
    ID_CARD_FRONT = "id_card_front"
    ID_CARD_BACK = "id_card_back"
    BANK_CARD = "bank_card"
    BANK_STATEMENT = "bank_statement"


class Document(BaseModel):
    id: str
    owner_id: str
    type: DocumentType
    content_type: Literal["image/jpeg", "image/png", "application/pdf"]
    s3_key: str
    status: Literal["PENDING_UPLOAD", "UPLOADED", "ATTACHED", "READ", "UNREADABLE"] = (
        "PENDING_UPLOAD"
    )
    application_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BureauReport(BaseModel):
    """A credit bureau report, as the bureau client returns it (normalised)."""

    report_id: str
    has_file: bool
    score: float | None = None
    history_months: int = 0
    open_accounts: int = 0
    inquiries_6m: int = 0
    delinquencies_24m: int = 0
    max_dpd_24m: int = 0
    utilization: float | None = None
    monthly_debt_payments: Money = Decimal("0.00")
    pulled_at: datetime = Field(default_factory=utcnow)


class TimelineEvent(BaseModel):
    """One line of the audit trail: who did what, when, and why."""

    at: datetime = Field(default_factory=utcnow)
    actor: str
    action: str
    from_status: ApplicationStatus | None = None
    to_status: ApplicationStatus | None = None
    reason: str | None = None
    details: dict[str, Any] = {}


class Application(BaseModel):
    """An application as stored: the request, its status, and what the platform decided."""

    id: str
    owner_id: str
    status: ApplicationStatus = ApplicationStatus.DRAFT
    version: int = 0
    request: ApplicationRequest
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    lane: Literal["fast", "standard"] = "standard"
    decision: Decision | None = None
    offer: Offer | None = None
    loan_id: str | None = None
    failure_reason: str | None = None
    execution_arn: str | None = None
    extra: dict[str, Any] = {}
