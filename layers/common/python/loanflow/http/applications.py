"""``/applications``: create a draft (idempotent), list mine, read one with its decision and timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from loanflow.http.auth import current_caller
from loanflow.http.errors import route_responses
from loanflow.intake import create_application
from loanflow.models import Application, ApplicationRequest, Decision, Offer, TimelineEvent
from loanflow.pii import mask_applicant
from loanflow.repository import ApplicationSummary, application_repository

router = APIGatewayHttpRouter()

ApplicationId = Annotated[str, Path(pattern=r"^app_[0-9A-Z]{26}$", description="Application id")]


class Created(BaseModel):
    id: str
    status: str


class ApplicationList(BaseModel):
    items: list[ApplicationSummary]
    next_cursor: str | None = None


class ApplicationView(BaseModel):
    """What the owner sees: their application with PII masked, the decision, offer and timeline."""

    id: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    applicant: dict[str, Any] = Field(description="Form fields; ID number, phone, card masked")
    decision: Decision | None = None
    offer: Offer | None = None
    loan_id: str | None = None
    failure_reason: str | None = None
    timeline: list[TimelineEvent]

    @classmethod
    def of(cls, app: Application, timeline: list[TimelineEvent]) -> ApplicationView:
        return cls(
            id=app.id,
            status=app.status.value,
            version=app.version,
            created_at=app.created_at,
            updated_at=app.updated_at,
            applicant=mask_applicant(app.request.model_dump(mode="json")),
            decision=app.decision,
            offer=app.offer,
            loan_id=app.loan_id,
            failure_reason=app.failure_reason,
            timeline=timeline,
        )


@router.post(
    "/applications",
    summary="Create a draft application",
    responses=route_responses(201, Created, 400, 409, 413, 415, 429, description="Created"),
)
def create(
    request: Annotated[ApplicationRequest, Body()],
    idempotency_key: Annotated[
        str,
        Header(
            alias="idempotency-key",
            min_length=8,
            max_length=128,
            pattern=r"^[A-Za-z0-9_\-:.]+$",
            description="A unique key per intended application; a retry reuses it",
        ),
    ],
) -> Response[Created]:
    caller = current_caller(router.current_event)
    raw = router.current_event.json_body
    result = create_application(
        caller.user_id, idempotency_key, request, raw, context=router.lambda_context
    )
    return Response(status_code=201, content_type="application/json", body=Created(**result))


@router.get(
    "/applications",
    summary="List my applications, newest first",
    responses=route_responses(200, ApplicationList, 400),
)
def list_mine(
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> ApplicationList:
    caller = current_caller(router.current_event)
    items, next_cursor = application_repository().list_for_owner(
        caller.user_id, limit=limit, cursor=cursor
    )
    return ApplicationList(items=items, next_cursor=next_cursor)


@router.get(
    "/applications/<application_id>",
    summary="My application: status, decision, timeline",
    responses=route_responses(200, ApplicationView, 404),
)
def get_one(application_id: ApplicationId) -> ApplicationView:
    caller = current_caller(router.current_event)
    repo = application_repository()
    app = repo.get_for_owner(application_id, caller.user_id)
    return ApplicationView.of(app, repo.timeline(app.id))
