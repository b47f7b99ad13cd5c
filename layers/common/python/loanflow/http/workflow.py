"""Submitting an application and the ops review queue.

- ``POST /applications/{id}/submit`` (owner) → 202: DRAFT → SUBMITTED and the intake message; a
  repeat is harmless (a SUBMITTED application is queued again; the execution name dedups).
- ``GET /reviews`` (ops group) → the applications waiting for a person, highest priority first.
- ``POST /reviews/{id}`` (ops group) ``{decision: approve|decline, note}`` → 202: the verdict
  resumes the waiting workflow, which records it (reviewer, note) and moves the status.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from loanflow.http.auth import OPS_GROUP, current_caller
from loanflow.http.errors import route_responses
from loanflow.repository import application_repository
from loanflow.reviews import ReviewItem, ReviewQueue, ReviewVerdict, submit_verdict
from loanflow.submission import submit
from loanflow.workflow import table

router = APIGatewayHttpRouter()

ApplicationId = Annotated[str, Path(pattern=r"^app_[0-9A-Z]{26}$", description="Application id")]


class Submitted(BaseModel):
    id: str
    status: str
    lane: str


class ReviewList(BaseModel):
    items: list[ReviewItem]


class Reviewed(BaseModel):
    id: str
    decision: str
    status: str = Field(description="IN_REVIEW until the workflow has applied the verdict")


@router.post(
    "/applications/<application_id>/submit",
    summary="Submit my draft: the decision workflow starts",
    responses=route_responses(202, Submitted, 400, 404, 409, 413, 415, description="Accepted"),
)
def submit_application(application_id: ApplicationId) -> Response[Submitted]:
    caller = current_caller(router.current_event)
    app = submit(application_repository(), application_id, caller.user_id)
    body = Submitted(id=app.id, status=app.status.value, lane=app.lane)
    return Response(status_code=202, content_type="application/json", body=body)


@router.get(
    "/reviews",
    summary="Applications waiting for review, highest priority first (ops)",
    responses=route_responses(200, ReviewList, 403),
)
def list_reviews(limit: Annotated[int, Query(ge=1, le=100)] = 50) -> ReviewList:
    current_caller(router.current_event).require_group(OPS_GROUP)
    return ReviewList(items=ReviewQueue(table()).list(limit))


@router.post(
    "/reviews/<application_id>",
    summary="Approve or decline a reviewed application (ops)",
    responses=route_responses(202, Reviewed, 400, 403, 404, 409, 413, 415, description="Accepted"),
)
def review(
    application_id: ApplicationId, verdict: Annotated[ReviewVerdict, Body()]
) -> Response[Reviewed]:
    caller = current_caller(router.current_event)
    caller.require_group(OPS_GROUP)
    app = submit_verdict(
        ReviewQueue(table()),
        application_repository(),
        application_id,
        verdict,
        reviewer=caller.user_id,
    )
    body = Reviewed(id=app.id, decision=verdict.decision, status=app.status.value)
    return Response(status_code=202, content_type="application/json", body=body)
