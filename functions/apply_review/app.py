"""ApplyReviewFunction (state ApplyReview): applies the reviewer's verdict that resumed the execution;
IN_REVIEW → APPROVED or DECLINED, with the reviewer and note in the audit trail."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState, apply_review_task

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    logger.append_keys(application_id=state.application_id)
    return apply_review_task(state)
