"""The contract and the loan, as their owner sees them.

- ``GET /applications/{id}/contract`` (owner) → a short-lived download URL, the PDF's SHA-256 and the
  platform's KMS signature over it.
- ``POST /applications/{id}/contract/sign`` (owner) ``{consent: true}`` → 202; records time, IP, user
  agent and the contract hash, and resumes the workflow. Signing twice is harmless; an expired offer
  → 409.
- ``GET /loans/{id}`` (owner) → amount, APR, schedule and payout status; another user's → 404.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from loanflow import contract
from loanflow.errors import NotFound
from loanflow.http.auth import current_caller
from loanflow.http.errors import route_responses
from loanflow.models import Installment
from loanflow.payouts import PayoutStore
from loanflow.repository import application_repository
from loanflow.settings import get_settings
from loanflow.types import Money

router = APIGatewayHttpRouter()

ApplicationId = Annotated[str, Path(pattern=r"^app_[0-9A-Z]{26}$", description="Application id")]
LoanId = Annotated[str, Path(pattern=r"^loan_[0-9A-Z]{26}$", description="Loan id")]


class ContractView(BaseModel):
    download_url: str = Field(description="Presigned GET of the PDF, valid for a few minutes")
    sha256: str = Field(description="SHA-256 of the PDF, hex")
    platform_signature: str = Field(description="Base64 ECDSA P-256 signature (KMS) over the hash")
    signing_key_id: str
    signing_algorithm: str


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: Literal[True] = Field(description="The applicant agrees to the contract's terms")


class Signed(BaseModel):
    id: str
    status: str
    sha256: str | None = None


class LoanView(BaseModel):
    id: str
    application_id: str
    amount: Money
    apr: Decimal
    term_months: int
    schedule: list[Installment]
    payout_status: str
    payout_channel: str | None = None
    funds_sent_at: datetime | None = None
    time_to_funds_s: float | None = None


@cache
def payout_store() -> PayoutStore:
    return PayoutStore(get_settings().table_name)


@router.get(
    "/applications/<application_id>/contract",
    summary="My contract: link, hash, signature",
    responses=route_responses(200, ContractView, 404),
)
def get_contract(application_id: ApplicationId) -> ContractView:
    caller = current_caller(router.current_event)
    app = application_repository().get_for_owner(application_id, caller.user_id)
    record = contract.contract_of(app)
    if record is None:
        raise NotFound(f"application {application_id} has no contract yet", field="id")
    return ContractView(
        download_url=contract.download_url(record),
        sha256=record.sha256,
        platform_signature=record.platform_signature,
        signing_key_id=record.signing_key_id,
        signing_algorithm=record.signing_algorithm,
    )


@router.post(
    "/applications/<application_id>/contract/sign",
    summary="Sign my contract: consent is recorded and the payout starts",
    responses=route_responses(202, Signed, 400, 404, 409, 413, 415, description="Accepted"),
)
def sign_contract(
    application_id: ApplicationId, request: Annotated[SignRequest, Body()]
) -> Response[Signed]:
    event = router.current_event
    caller = current_caller(event)
    http = event.request_context.http
    app = contract.sign(
        application_id,
        caller.user_id,
        ip=http.source_ip,
        user_agent=http.user_agent or event.headers.get("user-agent", ""),
    )
    record = contract.contract_of(app)
    body = Signed(id=app.id, status=app.status.value, sha256=record.sha256 if record else None)
    return Response(status_code=202, content_type="application/json", body=body)


@router.get(
    "/loans/<loan_id>",
    summary="My loan: amount, APR, schedule, payout status",
    responses=route_responses(200, LoanView, 404),
)
def get_loan(loan_id: LoanId) -> LoanView:
    caller = current_caller(router.current_event)
    record = payout_store().get_for_owner(loan_id, caller.user_id)
    loan = record.loan
    return LoanView(
        id=loan.id,
        application_id=loan.application_id,
        amount=loan.principal,
        apr=loan.apr,
        term_months=loan.term_months,
        schedule=loan.schedule,
        payout_status=loan.payout_status.value,
        payout_channel=loan.payout_channel,
        funds_sent_at=loan.funds_sent_at,
        time_to_funds_s=record.time_to_funds_s(),
    )
