"""ManualReviewFunction (state ManualReview, ``.waitForTaskToken``): puts the application on the ops
review queue with the task token that ``POST /reviews/{id}`` later uses to resume the execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState, enqueue_review_task

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


class ReviewTaskEvent(BaseModel):
    state: WorkflowState
    task_token: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReviewTaskEvent.model_validate(event)
    logger.append_keys(application_id=request.state.application_id)
    return enqueue_review_task(request.state, request.task_token)
