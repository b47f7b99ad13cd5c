"""``/me``: the caller's own account — data rights."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from loanflow.http.auth import current_caller
from loanflow.http.errors import route_responses
from loanflow.privacy import ErasureReport, erase_personal_data
from loanflow.repository import application_repository

router = APIGatewayHttpRouter()


@router.delete(
    "/me",
    summary="Erase my personal data where no active loan needs it",
    responses=route_responses(200, ErasureReport, 409),
)
def erase_me() -> Response[ErasureReport]:
    caller = current_caller(router.current_event)
    report = erase_personal_data(application_repository(), caller.user_id)
    return Response(status_code=200, content_type="application/json", body=report)
