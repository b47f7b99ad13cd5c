"""WorkflowFailedFunction (states RecordFailure and RecordReviewExpired): records why an execution
ended without an outcome and moves the application to FAILED (or EXPIRED for an untaken review),
so no application is ever left in progress."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState, finish_task

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


class FinishEvent(BaseModel):
    state: WorkflowState
    status: Literal["FAILED", "EXPIRED"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = FinishEvent.model_validate(event)
    logger.append_keys(application_id=request.state.application_id)
    result = finish_task(request.state, request.status)
    logger.warning("execution ended without an outcome", extra=result)
    return result
