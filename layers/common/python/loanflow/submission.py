"""Submission: DRAFT → SUBMITTED, the intake message, and the one execution per application.

``POST /applications/{id}/submit`` moves the draft to SUBMITTED, picks the lane (fast for returning
customers in good standing and top pre-screens, per the policy) and sends ``{"application_id",
"lane"}`` to that lane's intake queue. The StarterFunction turns each message into
``StartExecution(name = application id)``: Step Functions refuses a second execution of that name,
so duplicate messages, repeated submits and redeliveries never start a second workflow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow import aws, pii
from loanflow.models import Application, ApplicationStatus
from loanflow.observability import logger
from loanflow.policy import load_policy
from loanflow.repository import ApplicationRepository
from loanflow.workflow import is_fast_lane, is_returning_customer

Lane = Literal["fast", "standard"]


class IntakeMessage(BaseModel):
    application_id: str = Field(pattern=r"^app_[0-9A-Z]{26}$")
    lane: Lane = "standard"


class IntakeSettings(BaseSettings):
    """Where submissions go (the API function's environment)."""

    model_config = SettingsConfigDict(extra="ignore")

    intake_queue_url: str = Field(description="Standard lane (INTAKE_QUEUE_URL)")
    fast_intake_queue_url: str = Field(description="Fast lane (FAST_INTAKE_QUEUE_URL)")


class StarterSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    state_machine_arn: str = Field(description="The LoanApplication workflow (STATE_MACHINE_ARN)")


@cache
def intake_settings() -> IntakeSettings:
    return IntakeSettings()


@cache
def starter_settings() -> StarterSettings:
    return StarterSettings()


def submit(repo: ApplicationRepository, application_id: str, owner_id: str) -> Application:
    """Submit the owner's draft (idempotent: a SUBMITTED application is queued again — two
    submits at once both succeed, the transition being idempotent — and later statuses are
    returned as they are, the workflow already has them)."""
    app = repo.get_for_owner(application_id, owner_id)
    if app.status == ApplicationStatus.DRAFT:
        returning = is_returning_customer(pii.keyed_hash(app.request.id_number, purpose="id"))
        lane: Lane = "fast" if is_fast_lane(app.request, returning, load_policy()) else "standard"
        app = repo.transition(
            app.id,
            ApplicationStatus.SUBMITTED,
            actor=f"user:{owner_id}",
            reason="submitted by the applicant",
            set_fields={"lane": lane, "extra.submitted_at": datetime.now(UTC).isoformat()},
            details={"lane": lane},
        )
    if app.status == ApplicationStatus.SUBMITTED:
        enqueue(IntakeMessage(application_id=app.id, lane=app.lane))
    return app


def enqueue(message: IntakeMessage) -> None:
    settings = intake_settings()
    url = settings.fast_intake_queue_url if message.lane == "fast" else settings.intake_queue_url
    aws.client("sqs").send_message(QueueUrl=url, MessageBody=message.model_dump_json())


def start_execution(message: IntakeMessage) -> str:
    """Start the workflow for one application; an execution of that name already existing is
    success (the message was a duplicate)."""
    sfn = aws.client("stepfunctions")
    arn = starter_settings().state_machine_arn
    try:
        started = sfn.start_execution(
            stateMachineArn=arn, name=message.application_id, input=message.model_dump_json()
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info("execution already exists: duplicate intake message ignored")
        execution_arn = arn.replace(":stateMachine:", ":execution:") + f":{message.application_id}"
        return execution_arn
    logger.info("execution started", extra={"lane": message.lane})
    return str(started["executionArn"])
