"""AwaitSignatureFunction (state AwaitSignature, ``.waitForTaskToken``): keeps the task token on the
application (→ AWAITING_SIGNATURE); ``POST /applications/{id}/contract/sign`` resumes the execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from loanflow.contract import await_signature_task
from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


class SignatureTaskEvent(BaseModel):
    state: WorkflowState
    task_token: str = Field(min_length=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = SignatureTaskEvent.model_validate(event)
    logger.append_keys(application_id=request.state.application_id)
    return await_signature_task(request.state.application_id, request.task_token)
