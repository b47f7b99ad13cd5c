"""ExecutionEndedFunction (EventBridge: a LoanApplication execution ended FAILED, TIMED_OUT or
ABORTED): fails the application when the execution could not (RecordFailure never ran or failed
itself), unless it is already final or a later process finishes it; a repeated event is harmless."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import ExecutionEnded, execution_ended_task

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


class ExecutionStatusChange(EventBridgeModel):
    detail: ExecutionEnded  # type: ignore[assignment,unused-ignore]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = ExecutionStatusChange.model_validate(event)
    logger.append_keys(
        application_id=change.detail.name, execution_status=change.detail.status, event_id=change.id
    )
    return execution_ended_task(change.detail)
